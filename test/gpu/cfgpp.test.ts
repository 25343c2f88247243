// CFG++ (guidance.variant cfgpp) on the GPU: per-particle parity of the f32 kernels with the f64
// CPU reference, on the general kernel and on the four-particles-per-invocation fast path
// (step-gauss4), which both run CFG++ as linear guidance with the DDIM rule in the step rows.
// Tolerance: K u S_N per particle and coordinate, the f32 rounding-error model of
// test/support/parity.ts, as test/gpu/sampler-parity.test.ts uses it. The mutation twin (lambda
// moved by 1 %, sampled on the CPU in f64) must break that tolerance on most coordinates: the
// tolerance is tight enough to see a wrong lambda, let alone a wrong rule.
import { expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';

type Raw = Record<string, any>;

const EDM = { kind: 'edm', rho: 7 };

/** Diagonal Gaussians only: the fast path qualifies. */
const diag2d = (process: Raw, variant: Raw, extra: Raw = {}): Raw => ({
  dim: 2,
  classes: [
    {
      name: 'pos',
      components: [
        { kind: 'gaussian', mean: [1, 0.5], cov: [0.5, 1] },
        { kind: 'gaussian', mean: [2, -1], cov: 0.3 },
      ],
    },
    { name: 'neg', components: [{ kind: 'gaussian', mean: [-1, 0], cov: [1, 0.6] }] },
  ],
  target: 'pos',
  process,
  guidance: { kind: 'cfg', variant },
  solver: {
    kind: 'euler',
    steps: 60,
    tMin: process.kind === 've' ? 0.02 : 0.01,
    ...(process.kind === 've' ? { grid: EDM } : {}),
  },
  particles: 600,
  seed: 5,
  ...extra,
});

/** Boxes and a Gaussian in 1-D: the general kernel only. */
const boxes1d = (variant: Raw, extra: Raw = {}): Raw => ({
  dim: 1,
  classes: [
    { name: 'pos', components: [{ kind: 'uniform', low: [0], high: [1] }] },
    {
      name: 'neg',
      components: [
        { kind: 'uniform', low: [-1], high: [0] },
        { kind: 'gaussian', mean: [0.5], cov: 0.2 },
      ],
    },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 6 },
  guidance: { kind: 'cfg', variant, negative: 'neg' },
  solver: { kind: 'euler', steps: 80, tMin: 0.002, grid: EDM },
  particles: 600,
  seed: 9,
  ...extra,
});

const cfgpp = (lambda: number): Raw => ({ kind: 'cfgpp', lambda });

const CASES: { name: string; spec: (lambda: number) => Raw; kernels: ('auto' | 'general')[] }[] = [
  {
    name: '2-D diagonal Gaussians, ou, unconditional negative',
    spec: (l) => diag2d({ kind: 'ou', T: 6 }, cfgpp(l)),
    kernels: ['auto', 'general'],
  },
  {
    name: '2-D diagonal Gaussians, vp, negative neg',
    spec: (l) => ({
      ...diag2d({ kind: 'vp' }, cfgpp(l)),
      guidance: { kind: 'cfg', variant: cfgpp(l), negative: 'neg' },
    }),
    kernels: ['auto', 'general'],
  },
  {
    name: '2-D diagonal Gaussians, ve (sigmaMax 20) on the EDM grid',
    spec: (l) => diag2d({ kind: 've', sigmaMax: 20 }, cfgpp(l)),
    kernels: ['auto', 'general'],
  },
  {
    name: '2-D diagonal Gaussians, flow (first step at alpha = 0)',
    spec: (l) => diag2d({ kind: 'flow' }, cfgpp(l)),
    kernels: ['auto', 'general'],
  },
  {
    name: '1-D boxes and a Gaussian, ou on the EDM grid, negative neg',
    spec: (l) => boxes1d(cfgpp(l)),
    kernels: ['auto'],
  },
];

const LAMBDA = 0.6;

await describeGpu('cfgpp: GPU f32 vs CPU f64 per particle', (ctx) => {
  for (const c of CASES) {
    for (const kernel of c.kernels) {
      it(`${c.name}, ${kernel} kernel`, async () => {
        const spec = parseSpec(c.spec(LAMBDA));
        const gpu = await sampleGpuParticles(ctx, spec, { kernel });
        const ref = referenceWithBound(spec);
        const report = compareWithBound(gpu.particles, ref, spec.dim);
        // The twin: lambda off by 1 %, in f64. Most coordinates must leave the tolerance.
        const twin = sampleCpu(parseSpec(c.spec(LAMBDA * 1.01))).particles;
        const twinReport = compareWithBound(twin, ref, spec.dim);
        console.log(
          `${formatReport(`${c.name} [${gpu.info.kernel}]`, report)}; twin (lambda +1 %) beyond tolerance on ` +
            `${twinReport.failures} of ${twin.length} coordinates, its max |d|/(u S) ${twinReport.maxUlpsOfRss.toFixed(0)}`,
        );
        const fast = spec.classes.every((cl) => cl.components.every((k) => k.kind === 'gaussian'));
        expect(gpu.info.kernel).toBe(kernel === 'auto' && fast ? 'step-gauss4' : 'step');
        expect(ref.particles).toEqual(sampleCpu(spec).particles);
        expect(report.nonFinite).toBe(0);
        expect(report.firstFailure).toBeNull();
        expect(report.failures).toBe(0);
        expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
        expect(report.medianTolerance).toBeLessThan(1e-4);
        expect(report.maxTolerance).toBeLessThan(1e-2);
        expect(twinReport.failures).toBeGreaterThan(0.5 * twin.length);
      });
    }
  }
});
