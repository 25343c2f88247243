// The WebGPU sampler (f32) against the f64 CPU reference, particle by particle from the same
// seed, for euler, heun and rk4 on every guidance form, component kind, schedule and process.
// Tolerance: K u S_N per particle and coordinate, the f32 rounding-error model of
// test/support/parity.ts (first-order errors carried by each particle's own Jacobian); the
// observed deviations and how much of the tolerance they use are printed per case.

import { expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';
import { PARITY_CASES, type Solver } from '../support/sampler-cases.ts';

const SOLVERS: Solver[] = ['euler', 'heun', 'rk4'];

await describeGpu('sampler parity: GPU f32 vs CPU f64 per particle', (ctx) => {
  for (const c of PARITY_CASES) {
    for (const solver of SOLVERS) {
      it(`${c.name}, ${solver}`, async () => {
        const spec = parseSpec(c.spec(solver));
        const gpu = await sampleGpuParticles(ctx, spec);
        const started = performance.now();
        const ref = referenceWithBound(spec);
        const cpu = sampleCpu(spec).particles;
        const report = compareWithBound(gpu.particles, ref, spec.dim);
        console.log(
          `${formatReport(`${c.name}, ${solver} (${spec.particles} x ${spec.solver.steps} steps)`, report)}; ` +
            `GPU ${gpu.ms.toFixed(0)} ms, CPU + model ${(performance.now() - started).toFixed(0)} ms`,
        );
        // The model's reference is the reference: CpuStepper's own steps, bit for bit.
        expect(ref.particles).toEqual(cpu);
        expect(report.nonFinite).toBe(0);
        expect(report.firstFailure).toBeNull();
        expect(report.failures).toBe(0);
        expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
        // The tolerance means something: the median particle is held to < 1e-4 (a relative error
        // of 1e-4 in w moves the particles of the first case by ~1.4e-4, which fails), and no
        // particle's tolerance is large against the data's scale (1), where the first-order
        // model would stop being valid.
        expect(report.medianTolerance).toBeLessThan(1e-4);
        expect(report.maxTolerance).toBeLessThan(1e-2);
      });
    }
  }
});
