// The density metrics kernel (shaders/metrics-density.wgsl) against the same metrics in f64 on
// the CPU (CpuDensityMetrics), on exact samples of each target plus a few non-finite particles.
// Counts may differ only for particles within f32 rounding of a boundary (HDR level, argmax tie,
// box face): a handful out of 20 000.
import { expect, it } from 'vitest';
import { withErrorScopes } from '../../src/gpu/device.ts';
import { GpuDensityMetrics } from '../../src/gpu/density-metrics.ts';
import { CpuDensityMetrics, type DensityMetricsConfig } from '../../src/metrics/density.ts';
import { hdrLevels, supportBoxes } from '../../src/targets/regions.ts';
import { sampleTarget } from '../../src/targets/sample.ts';
import { target1d } from '../../src/targets/one-d.ts';
import { type TargetKind } from '../../src/targets/definition.ts';
import { targetDef } from '../../src/targets/from-spec.ts';
import { targetGrid } from '../../src/targets/grid.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { describeGpu } from '../support/gpu.ts';

const G = (mean: number[], cov: unknown, weight = 1) => ({ kind: 'gaussian', weight, mean, cov });
const CASES: { name: string; kind: TargetKind; spec: Record<string, unknown> }[] = [
  {
    name: 'two Gaussians, conditional',
    kind: 'conditional',
    spec: {
      dim: 1,
      classes: [
        { name: 'a', components: [G([1], 1)] },
        { name: 'b', components: [G([-1], 1)] },
      ],
      target: 'a',
    },
  },
  {
    name: 'two Gaussians, tilted w = 3',
    kind: 'tilted',
    spec: {
      dim: 1,
      classes: [
        { name: 'a', components: [G([1], 1)] },
        { name: 'b', components: [G([-1], 1)] },
      ],
      target: 'a',
      guidance: { kind: 'cfg', w: 3 },
    },
  },
  {
    name: 'boxes 2-D, conditional',
    kind: 'conditional',
    spec: {
      dim: 2,
      classes: [
        {
          name: 'd',
          components: [
            { kind: 'uniform', low: [-2, -2], high: [-0.5, -0.5] },
            { kind: 'uniform', low: [0.5, 0.5], high: [2, 2] },
          ],
        },
        { name: 'a', components: [{ kind: 'uniform', low: [-2, 0.5], high: [-0.5, 2] }] },
      ],
      target: 'd',
    },
  },
  {
    name: 'full covariance 3-D, unconditional',
    kind: 'unconditional',
    spec: {
      dim: 3,
      classes: [
        {
          name: 'a',
          components: [
            G(
              [1, 0, 0],
              [
                [1, 0.5, 0],
                [0.5, 1, 0.2],
                [0, 0.2, 0.5],
              ],
            ),
            G([0, 2, 0], 0.1, 2),
          ],
        },
        { name: 'b', components: [G([-1, -1, 1], [0.3, 0.2, 0.1])] },
      ],
      target: 'a',
    },
  },
];

await describeGpu('GpuDensityMetrics', (ctx) => {
  for (const c of CASES) {
    it(`${c.name}: equals the CPU's f64 metrics up to f32 boundary cases`, async () => {
      const spec = parseSpec({ process: { kind: 'ou' }, solver: { kind: 'euler', steps: 1, tMin: 0.01 }, ...c.spec });
      const def = targetDef(spec, c.kind);
      const grid = spec.dim <= 2 ? targetGrid(def, spec.dim === 1 ? [512] : [64, 64]) : undefined;
      const levels = hdrLevels(def, grid);
      const axes = Array.from({ length: spec.dim }, (_, i) =>
        Array.from({ length: spec.dim }, (_, j) => (i === j ? 1 : 0)),
      );
      const cfg: DensityMetricsConfig = {
        def,
        hdrLogLevels: levels.logLevels,
        boxes: supportBoxes(def),
        projections: axes.map((u) => ({ u, center: target1d(def, u).moments.mean })),
        halfSpaces: [
          { u: axes[0], b: 0 },
          { u: axes[spec.dim - 1].map((v) => -v), b: 0.5 },
        ],
      };
      const n = 20000;
      const source = def.groupB === null ? def : targetDef(spec, 'conditional');
      const xs = Float32Array.from(sampleTarget(source, n, 7));
      xs[3 * spec.dim] = NaN;
      xs[10 * spec.dim] = Infinity;
      const cpu = new CpuDensityMetrics(cfg);
      await cpu.accumulate(xs.subarray(0, 12000 * spec.dim), 12000);
      await cpu.accumulate(xs.subarray(12000 * spec.dim), n - 12000);
      const want = await cpu.read();
      await withErrorScopes(ctx.device, async () => {
        const gpu = await GpuDensityMetrics.create(ctx, cfg);
        const buf = ctx.device.createBuffer({
          size: xs.byteLength,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        });
        ctx.device.queue.writeBuffer(buf, 0, xs);
        await gpu.accumulate(buf, n);
        const got = await gpu.read();
        expect(got.finite).toBe(n - 2);
        expect(got.nonFinite).toBe(2);
        expect(want.finite).toBe(n - 2);
        const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
          expect(a.length, what).toBe(b.length);
          for (let i = 0; i < a.length; i++)
            expect(Math.abs(a[i] - b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol);
        };
        close(got.hardOccupancy, want.hardOccupancy, 3, 'hard occupancy');
        close(got.hdrInside, want.hdrInside, 3, 'HDR');
        close([got.inside], [want.inside], 2, 'inside');
        close(got.halfSpace, want.halfSpace, 2, 'half-spaces');
        close(got.softOccupancy, want.softOccupancy, 1e-3 * n, 'soft occupancy');
        close(got.projSum1, want.projSum1, 2e-3 * n, 'projection sums');
        close(got.projSum2, want.projSum2, 2e-3 * n, 'projection squares');
        if (process.env.CHECKS_VERBOSE) console.log(c.name, got, want);
        gpu.destroy();
        buf.destroy();
      });
    });
  }
});
