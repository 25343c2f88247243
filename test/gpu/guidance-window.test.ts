// guidance.start / guidance.stop on the GPU: the window lives in the step table's coefficients,
// so both kernels (the four-particle fast path and the general one) run it; per particle against
// the f64 reference, same tolerance model as test/gpu/sampler-parity.test.ts (K u S_N).
import { expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';
import { referenceWithBoundSampler } from '../support/parity-samplers.ts';
import { TWO_GAUSSIANS } from '../support/sampler-cases.ts';

const CASES: { name: string; guidance: Record<string, unknown>; solver: Record<string, unknown>; kernel: string }[] = [
  {
    name: 'cfg w=3 on [0.2, 0.6), euler',
    guidance: { kind: 'cfg', w: 3, start: 0.2, stop: 0.6 },
    solver: { kind: 'euler', steps: 100 },
    kernel: 'step-gauss4',
  },
  {
    name: 'cfg w=3 vs neg on [0.5, 1), rk4',
    guidance: { kind: 'cfg', w: 3, negative: 'neg', start: 0.5 },
    solver: { kind: 'rk4', steps: 50 },
    kernel: 'step-gauss4',
  },
  {
    name: 'classifier w=2 on [0, 0.4), heun, the general kernel',
    guidance: { kind: 'classifier', w: 2, stop: 0.4 },
    solver: { kind: 'heun', steps: 60 },
    kernel: 'step',
  },
  {
    name: 'cfg w=3 on [0.1, 0.9), dpmpp-2m',
    guidance: { kind: 'cfg', w: 3, start: 0.1, stop: 0.9 },
    solver: { kind: 'dpmpp-2m', steps: 100, grid: 'edm' },
    kernel: 'step',
  },
];

await describeGpu('guidance.start / stop: GPU f32 vs CPU f64 per particle', (ctx) => {
  for (const c of CASES) {
    it(c.name, async () => {
      const spec = parseSpec({
        dim: 1,
        classes: TWO_GAUSSIANS,
        target: 'pos',
        process: { kind: 'ou', T: 10 },
        guidance: c.guidance,
        solver: c.solver,
        particles: 1000,
        seed: 9,
      });
      const gpu = await sampleGpuParticles(
        ctx,
        spec,
        c.kernel === 'step' && c.solver.kind === 'heun' ? { kernel: 'general' } : {},
      );
      expect(gpu.info.kernel).toBe(c.kernel);
      const ref = c.solver.kind === 'dpmpp-2m' ? referenceWithBoundSampler(spec) : referenceWithBound(spec);
      const report = compareWithBound(gpu.particles, ref, spec.dim);
      console.log(formatReport(c.name, report));
      expect(ref.particles).toEqual(sampleCpu(spec).particles);
      expect(report.firstFailure).toBeNull();
      expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
      expect(report.medianTolerance).toBeLessThan(2e-4);
    });
  }
});
