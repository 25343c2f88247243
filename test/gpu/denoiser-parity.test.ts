// Learned denoisers on the GPU (shaders/denoiser.wgsl, src/gpu/denoiser.ts) against the CPU
// reference (f64), particle by particle from the same seed: a learned score alone, and
// autoguidance (learned score and a weaker learned negative), with euler, heun and em, OU and VE,
// and with a k-diffusion sampler (dpmpp-2m, test/support/parity-samplers.ts's state model).
// Tolerance: K u S_N (test/support/parity.ts), the local magnitudes of the learned scores from
// test/support/denoiser-parity.ts. Mutation twin: the GPU run with the negative model's (or the
// score's) first-layer weights x 1.01 must put more than a quarter of the coordinates beyond it.
import { describe, expect, it } from 'vitest';
import { CpuStepper, sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { prepareExperiment } from '../../src/experiment/plan.ts';
import type { DenoiserFile } from '../../src/model/denoiser/denoiser.ts';
import { Denoiser } from '../../src/model/denoiser/denoiser.ts';
import { denoiserLayout, packDenoisers } from '../../src/gpu/denoiser.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBoundFor } from '../support/parity.ts';
import { LearnedRoundoff } from '../support/denoiser-parity.ts';
import { referenceWithBoundSampler } from '../support/parity-samplers.ts';
import { stepKernelSource } from '../../src/gpu/kernel.ts';
import { nodePlatform } from '../../src/platform/node.ts';
import { rawSpec, smallModel } from '../support/denoiser.ts';

const good = smallModel({ iterations: 200, hidden: [16, 16] });
const bad = smallModel({ iterations: 25, hidden: [8] });

/** The model with its first-layer weights x 1.01. */
function perturbed(f: DenoiserFile): DenoiserFile {
  const m = Denoiser.fromFile(f);
  const net = m.net;
  const params = [...f.params];
  for (let i = net.wOffset[0]; i < net.bOffset[0]; i++) params[i] *= 1.01;
  return { ...f, params };
}

const CASES = [
  {
    name: 'learned score, ve, heun',
    raw: (g: DenoiserFile, _b: DenoiserFile) => rawSpec({ kind: 'none', score: { kind: 'learned', model: g } }),
    twin: 'score' as const,
  },
  {
    name: 'autoguidance w = 2, ve, heun',
    raw: (g: DenoiserFile, b: DenoiserFile) =>
      rawSpec({ kind: 'cfg', w: 2, score: { kind: 'learned', model: g }, negative: { kind: 'learned', model: b } }),
    twin: 'negative' as const,
  },
  {
    name: 'autoguidance w = 1.5, ou, euler',
    raw: (g: DenoiserFile, b: DenoiserFile) =>
      rawSpec(
        { kind: 'cfg', w: 1.5, score: { kind: 'learned', model: g }, negative: { kind: 'learned', model: b } },
        { process: { kind: 'ou', T: 5 }, solver: { kind: 'euler', steps: 40, tMin: 0.01 } },
      ),
    twin: 'negative' as const,
  },
  {
    name: 'autoguidance w = 1, ou, em',
    raw: (g: DenoiserFile, b: DenoiserFile) =>
      rawSpec(
        { kind: 'cfg', w: 1, score: { kind: 'learned', model: g }, negative: { kind: 'learned', model: b } },
        { process: { kind: 'ou', T: 5 }, solver: { kind: 'em', steps: 60, tMin: 0.01 } },
      ),
    twin: 'negative' as const,
  },
];

describe('the denoiser buffer layout', () => {
  it('packs both slots parameters, then per row [a, cNoise, kx, kF] x 2 in f32', () => {
    const plan = prepareExperiment(parseSpec(CASES[1].raw(good, bad)));
    const layout = denoiserLayout(plan.learned);
    const t = plan.learned.target!;
    const n = plan.learned.negative!;
    expect(layout.paramFloats).toBe(t.net.params.length + n.net.params.length);
    expect(layout.layers.length).toBe(t.net.layers + n.net.layers);
    expect(layout.layerStart).toEqual([0, t.net.layers]);
    const f32 = new Float32Array(packDenoisers(plan.learned, layout, plan.table.rows));
    expect(f32[layout.layers[t.net.layers].w + 3]).toBe(Math.fround(n.net.params[n.net.wOffset[0] + 3]));
    const row = plan.table.rows[5];
    const base = layout.paramFloats + 5 * 8;
    expect(f32[base + 2]).toBe(Math.fround(-1 / (row.sigma2 + row.alpha ** 2 * t.sigmaData ** 2)));
  });

  it('the kernel refuses a learned denoiser with a classifier, fk, log-density or on the fast path', () => {
    const plan = prepareExperiment(parseSpec(CASES[1].raw(good, bad)));
    const layout = denoiserLayout(plan.learned);
    const base = {
      kernel: 'step' as const,
      dim: 2,
      components: 3,
      targetComponents: 2,
      tableau: plan.tableau,
      hasUniform: true,
      fullCovariance: false,
      negativeFromTargetShift: 0,
      priorScale: 10,
      tile: 0,
      variant: { kind: 'linear' as const },
      scoreError: { target: false, negative: false, bias: false, features: 0, offset: 0 },
      fk: false,
      denoiser: layout,
    };
    expect(stepKernelSource(nodePlatform, base)).toMatch(
      /fn apply_learned_scores\(row_id: u32, gamma_negative: f32\) \{\n/,
    );
    expect(() => stepKernelSource(nodePlatform, { ...base, fk: true })).toThrow(/learned denoisers run on the general/);
    expect(() => stepKernelSource(nodePlatform, { ...base, logDensity: true })).toThrow(/log-density/);
    expect(() => stepKernelSource(nodePlatform, { ...base, kernel: 'step-gauss4' })).toThrow();
    expect(stepKernelSource(nodePlatform, { ...base, denoiser: null })).toMatch(/no learned denoiser/);
  });
});

await describeGpu('learned denoisers: GPU f32 vs CPU f64 per particle', (ctx) => {
  it('autoguidance with a k-diffusion sampler (dpmpp-2m, ve)', async () => {
    const spec = parseSpec(
      rawSpec(
        { kind: 'cfg', w: 2, score: { kind: 'learned', model: good }, negative: { kind: 'learned', model: bad } },
        { solver: { kind: 'dpmpp-2m', steps: 16 } },
      ),
    );
    const gpu = await sampleGpuParticles(ctx, spec);
    const ref = referenceWithBoundSampler(spec, 64, (stepper) => new LearnedRoundoff(stepper.plan));
    expect(ref.particles).toEqual(sampleCpu(spec).particles);
    const report = compareWithBound(gpu.particles, ref, spec.dim);
    const twin = compareWithBound(
      (
        await sampleGpuParticles(
          ctx,
          parseSpec({
            ...rawSpec({
              kind: 'cfg',
              w: 2,
              score: { kind: 'learned', model: good },
              negative: { kind: 'learned', model: perturbed(bad) },
            }),
            solver: { kind: 'dpmpp-2m', steps: 16 },
          }),
        )
      ).particles,
      ref,
      spec.dim,
    );
    console.log(
      `${formatReport('autoguidance, dpmpp-2m', report)}; twin: ${twin.failures} of ${gpu.particles.length} beyond`,
    );
    expect(report.firstFailure).toBeNull();
    expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
    expect(twin.failures).toBeGreaterThan(gpu.particles.length / 4);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const spec = parseSpec(c.raw(good, bad));
      const plan = prepareExperiment(spec);
      const gpu = await sampleGpuParticles(ctx, spec);
      expect(gpu.info.kernel).toBe('step');
      const ref = referenceWithBoundFor(spec, new CpuStepper(plan), new LearnedRoundoff(plan));
      expect(ref.particles).toEqual(sampleCpu(spec).particles);
      const report = compareWithBound(gpu.particles, ref, spec.dim);
      const twinSpec = parseSpec(c.twin === 'score' ? c.raw(perturbed(good), bad) : c.raw(good, perturbed(bad)));
      const twin = compareWithBound((await sampleGpuParticles(ctx, twinSpec)).particles, ref, spec.dim);
      console.log(
        `${formatReport(c.name, report)}; GPU ${gpu.ms.toFixed(0)} ms; twin (${c.twin} first layer x 1.01): ${twin.failures} of ${gpu.particles.length} beyond`,
      );
      expect(report.nonFinite).toBe(0);
      expect(report.firstFailure).toBeNull();
      expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
      expect(report.maxTolerance).toBeLessThan(1e-2);
      expect(twin.failures).toBeGreaterThan(gpu.particles.length / 4);
    });
  }
});
