// Multi-condition guidance (guidance.terms): the general step kernel's extra groups against the
// CPU f64 reference, per particle, on the tableau solvers, a k-diffusion sampler and the
// log-density path; each with a mutation twin (one term's weight x 1.01) that must fall outside.
import { expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { exactCoverageFidelity } from '../../src/checks/exact-density.ts';
import { cpuLogDensityBackend } from '../../src/cpu/log-density.ts';
import { webGpuLogDensityBackend } from '../../src/checks/log-density-webgpu.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { maxAbsDiff } from '../support/compare.ts';

type Raw = Record<string, any>;

/** Three classes in 2-D (one a two-component mixture, one full-covariance) and three terms. */
const threeClasses = (w2: number, solver: Raw, extra: Raw = {}): Raw => ({
  dim: 2,
  classes: [
    {
      name: 'a',
      components: [
        { kind: 'gaussian', mean: [1, 0.5], cov: [0.5, 1] },
        { kind: 'gaussian', mean: [2, -1], cov: 0.3 },
      ],
    },
    {
      name: 'b',
      components: [
        {
          kind: 'gaussian',
          mean: [-1, 0],
          cov: [
            [1, 0.3],
            [0.3, 0.6],
          ],
        },
      ],
    },
    { name: 'c', components: [{ kind: 'gaussian', mean: [0, 2], cov: 0.4 }] },
  ],
  target: 'a',
  process: { kind: 'ou', T: 6 },
  guidance: {
    kind: 'cfg',
    w: 1,
    terms: [
      { condition: 'b', w: 0.5, negative: 'unconditional' },
      { condition: 'c', w: { kind: 'interval', w: w2, tLow: 0.2, tHigh: 2 }, negative: 'b' },
      { condition: { components: [{ kind: 'gaussian', mean: [0.5, 0.5], cov: 0.2 }] }, w: 0.3 },
    ],
  },
  solver,
  particles: 600,
  seed: 5,
  ...extra,
});

const CASES: { name: string; solver: Raw }[] = [
  { name: 'heun', solver: { kind: 'heun', steps: 60, tMin: 0.01 } },
  { name: 'em (SDE)', solver: { kind: 'em', steps: 200, tMin: 0.01 } },
  { name: 'dpmpp-2m', solver: { kind: 'dpmpp-2m', steps: 40, tMin: 0.01, grid: { kind: 'edm', rho: 7 } } },
];

await describeGpu('multi-condition guidance: GPU f32 vs CPU f64 per particle', (ctx) => {
  for (const c of CASES) {
    it(c.name, async () => {
      const spec = parseSpec(threeClasses(2, c.solver));
      const cpu = sampleCpu(spec).particles;
      const gpu = (await sampleGpuParticles(ctx, spec)).particles;
      const gap = maxAbsDiff(gpu, cpu);
      const mutantGap = maxAbsDiff(sampleCpu(parseSpec(threeClasses(2.02, c.solver))).particles, cpu);
      console.log(
        `multi-condition ${c.name}: GPU-CPU max ${gap.toExponential(2)}, mutant ${mutantGap.toExponential(2)}`,
      );
      expect(gpu.every(Number.isFinite)).toBe(true);
      expect(gap).toBeLessThan(2e-3);
      expect(mutantGap).toBeGreaterThan(10 * gap);
    });
  }

  it('diagonal Gaussians, on the fast path without terms, run on the general kernel with extra groups', async () => {
    const raw = (guidance: Raw): Raw => ({
      dim: 1,
      classes: [
        { name: 'a', components: [{ kind: 'gaussian', mean: [0], cov: 0.5 }] },
        { name: 'b', components: [{ kind: 'gaussian', mean: [2], cov: 0.5 }] },
        { name: 'c', components: [{ kind: 'gaussian', mean: [-1], cov: 0.5 }] },
      ],
      target: 'a',
      process: { kind: 'ou', T: 8 },
      guidance,
      solver: { kind: 'heun', steps: 40, tMin: 0.01 },
      particles: 4096,
      seed: 2,
    });
    const plain = await sampleGpuParticles(ctx, parseSpec(raw({ kind: 'cfg', w: 1 })));
    const spec = parseSpec(raw({ kind: 'cfg', w: 1, terms: [{ condition: 'b', w: 0.5, negative: 'c' }] }));
    const multi = await sampleGpuParticles(ctx, spec);
    expect(plain.info.kernel).toBe('step-gauss4');
    expect(multi.info.kernel).toBe('step');
    expect(maxAbsDiff(multi.particles, sampleCpu(spec).particles)).toBeLessThan(1e-4);
    // A term on the target against the negative folds into the pair's coefficients: fast path again.
    const foldedSpec = parseSpec(raw({ kind: 'cfg', w: 1, terms: [{ condition: 'a', w: 0.5 }] }));
    const folded = await sampleGpuParticles(ctx, foldedSpec);
    expect(folded.info.kernel).toBe('step-gauss4');
    expect(maxAbsDiff(folded.particles, sampleCpu(foldedSpec).particles)).toBeLessThan(1e-4);
  });

  it('log-density path: the exact KLs of both backends agree', async () => {
    const spec = parseSpec(threeClasses(2, { kind: 'rk4', steps: 40, tMin: 0.01, grid: { kind: 'edm', rho: 7 } }));
    const opts = { particles: 1000, pSamples: 1000 };
    const a = await exactCoverageFidelity(spec, cpuLogDensityBackend, opts);
    const b = await exactCoverageFidelity(spec, webGpuLogDensityBackend(ctx), opts);
    const m = await exactCoverageFidelity(
      parseSpec(threeClasses(2.02, { kind: 'rk4', steps: 40, tMin: 0.01, grid: { kind: 'edm', rho: 7 } })),
      cpuLogDensityBackend,
      opts,
    );
    console.log(
      `multi-condition exact KL(Q||P): cpu ${a.klQP.value.toFixed(5)}, webgpu ${b.klQP.value.toFixed(5)}, mutant ${m.klQP.value.toFixed(5)}; KL(P||Q) cpu ${a.klPQ.value.toFixed(5)}, webgpu ${b.klPQ.value.toFixed(5)}`,
    );
    for (const k of ['klQP', 'klPQ'] as const) {
      const tol = 1e-3 * Math.max(1, Math.abs(a[k].value));
      expect(Math.abs(a[k].value - b[k].value)).toBeLessThan(tol);
      expect(Math.abs(a[k].value - m[k].value)).toBeGreaterThan(tol);
    }
  });
});
