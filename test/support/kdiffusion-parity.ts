// Shared by test/gpu/sampler-kdiffusion-parity*.test.ts. The k-diffusion samplers (dpmpp-2m, euler-ancestral, heun-churn, dpm2, dpmpp-2m-sde,
// dpmpp-3m-sde) on the GPU (f32) against the
// f64 CPU reference, particle by particle from the same seed: the stochastic ones draw the same
// counter-based noise on both backends. Tolerance: K u S_N per particle and coordinate, the f32
// rounding-error model of test/support/parity.ts extended to the samplers' state (x and the
// carried denoised values, test/support/parity-samplers.ts); the observed deviations and how
// much of the tolerance they use are printed per case.
import { expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { describeGpu } from './gpu.ts';
import { sampleGpuParticles } from './gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS } from './parity.ts';
import { referenceWithBoundSampler } from './parity-samplers.ts';
import { PARITY_CASES, type RawSpec } from './sampler-cases.ts';

type Raw = Record<string, unknown>;

/** Each sampler with its parameters: heun-churn and dpm2 with churn over part of the range, so both branches run. */
// medianBound: the bound on the median tolerance, and twin: the relative change of w that its
// twin must detect. dpmpp-3m-sde's third-order history weights (1/r0, phi_3 / (r0 + r1)) reach
// ~10 where the lambda steps jump (the uniform t grids' last steps): it amplifies f32 rounding
// ~5x more than the others (measured GPU deviations up to 1.6e-4), so its model's tolerance is
// larger in proportion (the observed deviations still use <= 0.9 of it).
export const KDIFFUSION_SAMPLERS: { kind: string; params: Raw; medianBound: number; twin: number }[] = [
  { kind: 'dpmpp-2m', params: {}, medianBound: 2e-4, twin: 1e-3 },
  { kind: 'euler-ancestral', params: {}, medianBound: 2e-4, twin: 1e-3 },
  { kind: 'heun-churn', params: { sChurn: 10, sTmin: 0.05, sTmax: 50, sNoise: 1.003 }, medianBound: 2e-4, twin: 1e-3 },
  { kind: 'dpm2', params: { sChurn: 10, sTmax: 50 }, medianBound: 2e-4, twin: 1e-3 },
  { kind: 'dpmpp-2m-sde', params: {}, medianBound: 2e-4, twin: 1e-3 },
  { kind: 'dpmpp-3m-sde', params: {}, medianBound: 1e-3, twin: 1e-2 },
  { kind: 'lms', params: {}, medianBound: 2e-4, twin: 1e-3 },
];

// A subset of the tableau solvers' cases: every process, boxes, 2-D full covariances, classifier
// guidance, a w(t) schedule; the EDM grid where the case has it.
const CASES = PARITY_CASES.filter((c) =>
  /vs unconditional, ou|1-D box mixture|full-covariance|piecewise|, vp$|, ve |, flow$/.test(c.name),
);

/** The parity tests of the named samplers (two files share them, each under ~35 s). */
export async function describeSamplerParity(kinds: string[]): Promise<void> {
  const SAMPLERS = KDIFFUSION_SAMPLERS.filter((s) => kinds.includes(s.kind));
  await describeGpu(`k-diffusion samplers (${kinds.join(', ')}): GPU f32 vs CPU f64 per particle`, (ctx) => {
    it('covers the cases it means to', () => expect(CASES.length).toBe(7));
    for (const c of CASES) {
      for (const s of SAMPLERS) {
        const raw = c.spec('euler') as RawSpec & { solver: Raw; process: Raw };
        if ((s.kind === 'heun-churn' || s.kind === 'dpm2' || s.kind === 'lms') && raw.process.kind === 'flow') continue; // refused by the parser
        it(`${c.name}, ${s.kind}`, async () => {
          const spec = parseSpec({ ...raw, solver: { ...raw.solver, kind: s.kind, ...s.params } });
          const gpu = await sampleGpuParticles(ctx, spec);
          expect(gpu.info.kernel).toBe('step');
          const started = performance.now();
          const ref = referenceWithBoundSampler(spec);
          const cpu = sampleCpu(spec).particles;
          const report = compareWithBound(gpu.particles, ref, spec.dim);
          console.log(
            `${formatReport(`${c.name}, ${s.kind} (${spec.particles} x ${spec.solver.steps} steps)`, report)}; ` +
              `GPU ${gpu.ms.toFixed(0)} ms, CPU + model ${(performance.now() - started).toFixed(0)} ms`,
          );
          expect(ref.particles).toEqual(cpu);
          expect(report.nonFinite).toBe(0);
          expect(report.firstFailure).toBeNull();
          expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
          // The tolerance means something: the median particle is held to < medianBound (2e-4; the
          // samplers' model is about 4x the tableau solvers': their denoiser D = (x + sigma^2 s) /
          // alpha rounds terms of size |x| / alpha, carried with the update's weights), and the
          // twins below show that a 1e-3 relative change of w fails it; no particle's tolerance is
          // large against the data's scale (1), where the first-order model would stop being valid
          // (dpmpp-3m-sde: 0.1, its 2-D case's worst particle).
          expect(report.medianTolerance).toBeLessThan(s.medianBound);
          expect(report.maxTolerance).toBeLessThan(s.kind === 'dpmpp-3m-sde' ? 1e-1 : 1e-2);
        });
      }
    }

    // The carried state (histories, apg momentum) survives dispatch and chunk boundaries: forced
    // splitting (7 steps per dispatch, 256-particle chunks) gives bit-identical particles.
    for (const s of SAMPLERS) {
      it(`split dispatches and chunks give bit-identical particles, ${s.kind} (with apg)`, async () => {
        const raw = PARITY_CASES[0].spec('euler') as RawSpec & { solver: Raw; guidance: Raw };
        const spec = parseSpec({
          ...raw,
          guidance: { ...raw.guidance, variant: { kind: 'apg', eta: 0, r: 5, beta: -0.5 } },
          solver: { ...raw.solver, kind: s.kind, ...s.params },
        });
        const whole = await sampleGpuParticles(ctx, spec);
        const split = await sampleGpuParticles(ctx, spec, { stepsPerDispatch: 7, chunkParticles: 256 });
        expect(split.info.plan.dispatches).toBeGreaterThan(whole.info.plan.dispatches);
        expect(new Uint32Array(split.particles.buffer)).toEqual(new Uint32Array(whole.particles.buffer));
      });
    }

    // Mutation twin: the GPU run with w x (1 + twin) must fail against the reference at w, for
    // most particles (w = 3 moves them by ~1.4 x twin, 7-10x the median bound).
    for (const s of SAMPLERS) {
      it(`twin: w x (1 + ${s.twin}) on the GPU fails the parity tolerance, ${s.kind}`, async () => {
        const raw = PARITY_CASES[0].spec('euler') as RawSpec & { solver: Raw; guidance: Raw };
        const spec = parseSpec({ ...raw, solver: { ...raw.solver, kind: s.kind, ...s.params } });
        const mutated = parseSpec({
          ...raw,
          guidance: { ...raw.guidance, w: 3 * (1 + s.twin) },
          solver: { ...raw.solver, kind: s.kind, ...s.params },
        });
        const gpu = await sampleGpuParticles(ctx, mutated);
        const report = compareWithBound(gpu.particles, referenceWithBoundSampler(spec), spec.dim);
        console.log(`twin ${s.kind}: ${report.failures} of ${spec.particles} particles beyond the tolerance`);
        expect(report.failures).toBeGreaterThan(spec.particles / 2);
      });
    }
  });
}
