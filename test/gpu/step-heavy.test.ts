// The heavy-mixture kernel (shaders/step-heavy.wgsl, host src/gpu/heavy.ts) against the f64 CPU
// reference, particle by particle from the same seed, on small heavy cases (100 to 240
// full-covariance components) so that the file stays fast: a small tree of edm2's construction
// (scripts/make-tree.ts, depth 4) with cfg against the unconditional law (the negative reuses the
// target's sums), a random 2-D mixture with cfg against the other class (disjoint groups), and a
// 3-D one with classifier guidance, rk4, split into chunks and dispatch windows; with the adapter's
// default particles per invocation (lavapipe: 16), 8 and 4 (heavyGroups 2 and 1). Tolerance: K u S_N
// per particle and coordinate, the f32 rounding-error model of test/support/parity.ts, as
// test/gpu/sampler-parity.test.ts uses it.
//
// Both ways of reading the entries (src/gpu/heavy.ts, HeavyRows) run every case: the adapter's
// default (lavapipe: a uniform binding per stage) and workgroup-memory tiles, which must give the
// same particles bit for bit (the same f32 operations on the same values).
//
// Mutation twin, per case: the same heavy kernel on the spec with every covariance's off-diagonal
// entries scaled by 0.97 (a 3 % error in the full-covariance factors) must leave that tolerance on
// most coordinates, so the tolerance is tight enough to see a wrong factor, let alone a wrong rule.
import { expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { HEAVY_MIN_COMPONENTS } from '../../src/gpu/heavy.ts';
import { treeSpec } from '../../scripts/make-tree.ts';
import { describeGpu } from '../support/gpu.ts';
import { type PlanOverrides, sampleGpuParticles } from '../support/gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';

type Raw = Record<string, any>;

/** A deterministic generator in [0, 1) (a sine hash: no state, the same on every run). */
const unit = (i: number): number => {
  const v = Math.sin(12.9898 * i + 78.233) * 43758.5453;
  return v - Math.floor(v);
};

/** A full 2x2 covariance: rotation theta, variances l1, l2. */
function cov2(theta: number, l1: number, l2: number): number[][] {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return [
    [c * c * l1 + s * s * l2, c * s * (l1 - l2)],
    [c * s * (l1 - l2), s * s * l1 + c * c * l2],
  ];
}

/** A full d x d covariance A A^T / d + 0.02 I from hashed entries. */
function covD(d: number, seed: number): number[][] {
  const a = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => unit(seed + 7 * i + j) - 0.5));
  return Array.from({ length: d }, (_, i) =>
    Array.from({ length: d }, (_, j) => {
      let s = i === j ? 0.02 : 0;
      for (let k = 0; k < d; k++) s += (a[i][k] * a[j][k]) / d;
      return s;
    }),
  );
}

function randomMixture(dim: number, counts: number[], seed: number): Raw[] {
  return counts.map((n, c) => ({
    name: `c${c}`,
    weight: 1 + c,
    components: Array.from({ length: n }, (_, i) => {
      const k = seed + 1000 * c + 13 * i;
      return {
        kind: 'gaussian',
        weight: 0.2 + unit(k),
        mean: Array.from({ length: dim }, (_, j) => 3 * (unit(k + 1 + j) - 0.5) + (c === 0 ? 0.5 : -0.5)),
        cov:
          dim === 2 ? cov2(Math.PI * unit(k + 5), 0.01 + 0.3 * unit(k + 6), 0.01 + 0.05 * unit(k + 7)) : covD(dim, k),
      };
    }),
  }));
}

/** The spec with every covariance's off-diagonal entries times f (the mutation twin). */
function scaleOffDiagonal(raw: Raw, f: number): Raw {
  const copy = structuredClone(raw);
  for (const cl of copy.classes)
    for (const k of cl.components)
      if (Array.isArray(k.cov) && Array.isArray(k.cov[0]))
        k.cov = k.cov.map((row: number[], i: number) => row.map((v, j) => (i === j ? v : f * v)));
  return copy;
}

const CASES: { name: string; raw: () => Raw; overrides?: PlanOverrides }[] = [
  {
    name: "edm2's tree at depth 4 (2 x 120 components), ve EDM heun 32, cfg w = 1 vs unconditional",
    raw: () => ({ ...treeSpec(4), particles: 201, seed: 3 }),
  },
  {
    name: 'random 2-D, 60 + 40 components, ou euler 40, cfg w = 2 against the other class, 8 particles per invocation',
    raw: () => ({
      dim: 2,
      classes: randomMixture(2, [60, 40], 11),
      target: 'c0',
      process: { kind: 'ou', T: 6 },
      guidance: { kind: 'cfg', w: 2, negative: 'c1' },
      solver: { kind: 'euler', steps: 40, tMin: 0.01, grid: { kind: 'edm', rho: 7 } },
      particles: 200,
      seed: 5,
    }),
    overrides: { heavyGroups: 2 },
  },
  {
    name: 'random 3-D, 50 + 40 components, vp rk4 16, classifier w = 2, chunks of 96, 5-step windows, 4 particles per invocation',
    raw: () => ({
      dim: 3,
      classes: randomMixture(3, [50, 40], 29),
      target: 'c1',
      process: { kind: 'vp' },
      guidance: { kind: 'classifier', w: 2 },
      solver: { kind: 'rk4', steps: 16, tMin: 0.01 },
      particles: 201,
      seed: 8,
    }),
    overrides: { chunkParticles: 96, stepsPerDispatch: 5, heavyGroups: 1 },
  },
];

/** The twin's factor on every covariance's off-diagonal entries. */
const TWIN = 0.97;

await describeGpu('step-heavy: GPU f32 vs CPU f64 per particle', (ctx) => {
  for (const c of CASES) {
    it(c.name, async () => {
      const spec = parseSpec(c.raw());
      const gpu = await sampleGpuParticles(ctx, spec, c.overrides);
      expect(gpu.info.kernel).toBe('step-heavy');
      const ref = referenceWithBound(spec);
      const report = compareWithBound(gpu.particles, ref, spec.dim);
      const twin = await sampleGpuParticles(ctx, parseSpec(scaleOffDiagonal(c.raw(), TWIN)), c.overrides);
      const twinReport = compareWithBound(twin.particles, ref, spec.dim);
      console.log(
        `${formatReport(`${c.name} [${gpu.info.kernel}, ${gpu.info.tables}, tile ${gpu.info.tile}]`, report)}; twin (off-diagonal x ${TWIN}) ` +
          `beyond tolerance on ${twinReport.failures} of ${twin.particles.length} coordinates`,
      );
      expect(ref.particles).toEqual(sampleCpu(spec).particles);
      expect(report.nonFinite).toBe(0);
      expect(report.firstFailure).toBeNull();
      expect(report.failures).toBe(0);
      expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
      expect(report.medianTolerance).toBeLessThan(1e-4);
      expect(report.maxTolerance).toBeLessThan(1e-2);
      expect(twin.info.kernel).toBe('step-heavy');
      expect(twinReport.failures).toBeGreaterThan(0.5 * twin.particles.length);
      const other = gpu.info.tables === 'uniform' ? 'tiles' : 'uniform';
      const otherRun = await sampleGpuParticles(ctx, spec, { ...c.overrides, heavyRows: other });
      expect(otherRun.info.tables).toBe(other === 'uniform' ? 'uniform' : 'storage');
      expect(otherRun.particles).toEqual(gpu.particles);
    });
  }

  it(`is chosen above ${HEAVY_MIN_COMPONENTS} full-covariance entries only, and never with kernel 'general'`, async () => {
    const raw = CASES[1].raw();
    const small = {
      ...raw,
      classes: randomMixture(2, [30, 20], 11),
      particles: 8,
      solver: { kind: 'euler', steps: 2 },
    };
    expect((await sampleGpuParticles(ctx, parseSpec(small))).info.kernel).toBe('step');
    const spec = parseSpec({ ...raw, particles: 8, solver: { kind: 'euler', steps: 2 } });
    expect((await sampleGpuParticles(ctx, spec)).info.kernel).toBe('step-heavy');
    expect((await sampleGpuParticles(ctx, spec, { kernel: 'general' })).info.kernel).toBe('step');
  });
});
