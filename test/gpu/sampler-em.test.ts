// Euler-Maruyama (reverse SDE) on the GPU against the f64 CPU reference:
//  1. per particle, same seed: the noise is the same counter-based stream on both backends, so
//     every particle agrees up to f32 rounding. The tolerance is test/support/parity.ts's
//     K u S_N, whose local error for em also holds each step's noise term sqrt(-h g^2) z and
//     the f32 normal's own error, 8 u r (r the Box-Muller radius; philox-check.ts derives
//     ~6.7 u r): looser per step than the ODE's by that term. Its effect is carried like any
//     other local error; in these specs the drift's terms still dominate, and the median
//     tolerance ends up close to the ODE's (printed).
//  2. in law, different seeds: two-sample KS between GPU samples (seed A) and CPU samples (seed
//     B), threshold from the two-sample DKW-Massart bound, and a mutation twin (the data
//     translated by 0.25) that must fail it, with its power computed from the data.
//
// False-failure budget of this file: ALPHA = 1e-6 for the KS check; the twin misses with
// probability <= BETA = 1e-6 (checked at run time, see below).

import { expect, it } from 'vitest';
import { CpuStepper, sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';
import { PARITY_CASES, TWO_GAUSSIANS, type RawSpec } from '../support/sampler-cases.ts';

const ALPHA = 1e-6;
const BETA = 1e-6;
const N = 40_000; // GPU particles (seed A) and CPU particles (seed B)
const SEED_A = 101;
const SEED_B = 202;
const SHIFT = 0.15;

const emSpec = (over: RawSpec = {}): RawSpec => ({
  dim: 1,
  classes: TWO_GAUSSIANS,
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'em', steps: 200 },
  particles: N,
  seed: SEED_A,
  ...over,
});

/** Two-sample Kolmogorov-Smirnov statistic sup_x |F_a(x) - F_b(x)| (ties handled; NaN -> Infinity). */
function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  if (x.some(Number.isNaN) || y.some(Number.isNaN)) return Infinity;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Two-sample DKW-Massart: P(D > eps) <= 2 exp(-2 (n m / (n + m)) eps^2) under equal laws. */
function twoSampleEpsilon(n: number, m: number, alpha: number): number {
  return Math.sqrt((Math.log(2 / alpha) * (n + m)) / (2 * n * m));
}

/** One-sample DKW-Massart: P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2). */
function oneSampleEpsilon(n: number, alpha: number): number {
  return Math.sqrt(Math.log(2 / alpha) / (2 * n));
}

function translated(raw: RawSpec, by: number): RawSpec {
  const classes = (raw.classes as { name: string; weight: number; components: { mean: number[] }[] }[]).map((c) => ({
    ...c,
    components: c.components.map((g) => ({ ...g, mean: g.mean.map((m) => m + by) })),
  }));
  return { ...raw, classes };
}

await describeGpu('sampler em: GPU vs CPU', (ctx) => {
  let gpuA: Float32Array | undefined;
  let cpuB: Float64Array | undefined;
  let spec: ExperimentSpec;

  it(`per particle, same seed: two 1-D Gaussians, cfg w=3, em 200 steps (first 2000 of ${N})`, async () => {
    spec = parseSpec(emSpec());
    const gpu = await sampleGpuParticles(ctx, spec);
    gpuA = gpu.particles;
    const subset = parseSpec(emSpec({ particles: 2000 }));
    const ref = referenceWithBound(subset);
    const report = compareWithBound(gpuA.subarray(0, 2000), ref, 1);
    console.log(
      `${formatReport('em, two Gaussians cfg w=3 (2000 x 200 steps)', report)}; GPU ${gpu.ms.toFixed(0)} ms for ${N}`,
    );
    expect(report.nonFinite).toBe(0);
    expect(report.firstFailure).toBeNull();
    expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
    expect(report.medianTolerance).toBeLessThan(1e-4);
  });

  for (const name of ['1-D box mixture', '2-D full-covariance']) {
    const c = PARITY_CASES.find((p) => p.name.startsWith(name))!;
    it(`per particle, same seed: ${c.name}, em`, async () => {
      const s = parseSpec(c.spec('em'));
      const gpu = await sampleGpuParticles(ctx, s);
      const ref = referenceWithBound(s);
      expect(ref.particles).toEqual(sampleCpu(s).particles);
      const report = compareWithBound(gpu.particles, ref, s.dim);
      console.log(`${formatReport(`em, ${c.name} (${s.particles} x ${s.solver.steps} steps)`, report)}`);
      expect(report.nonFinite).toBe(0);
      expect(report.firstFailure).toBeNull();
      expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
      expect(report.medianTolerance).toBeLessThan(1e-4);
      expect(report.maxTolerance).toBeLessThan(1e-2);
    });
  }

  it(`in law: two-sample KS, GPU seed ${SEED_A} vs CPU seed ${SEED_B}, ${N} each, alpha = ${ALPHA}`, async () => {
    gpuA ??= (await sampleGpuParticles(ctx, parseSpec(emSpec()))).particles;
    const started = performance.now();
    cpuB = sampleCpu(parseSpec(emSpec({ seed: SEED_B }))).particles;
    const eps = twoSampleEpsilon(N, N, ALPHA);
    // The GPU law is the CPU law moved by f32 rounding (<= 1e-4 per particle, test 1): that
    // moves a CDF by <= 1e-4 sup f, and sup f < 10 here, so 1e-3 covers it.
    const bias = 1e-3;
    const d = ksTwoSample(gpuA, cpuB);
    console.log(
      `em KS: D = ${d.toFixed(4)}, threshold eps + bias = ${eps.toFixed(4)} + ${bias} (n = m = ${N}, alpha = ${ALPHA}); ` +
        `CPU ${(performance.now() - started).toFixed(0)} ms`,
    );
    expect(d).toBeLessThanOrEqual(eps + bias);
  });

  it(`mutation twin: the data translated by ${SHIFT} fails the same KS check (power from the data)`, async () => {
    cpuB ??= sampleCpu(parseSpec(emSpec({ seed: SEED_B }))).particles;
    const mutated = parseSpec(translated(emSpec(), SHIFT));
    const gpu = await sampleGpuParticles(ctx, mutated);
    const eps = twoSampleEpsilon(N, N, ALPHA);
    const bias = 1e-3;
    const d = ksTwoSample(gpu.particles, cpuB);

    // Power. Translating the data by delta translates x_t's law by alpha(t) delta for every t;
    // the prior N(0, 1) differs from the translated p_T by alpha(T) delta = 1e-5, and the EM
    // chain is translation-equivariant up to O(h^2) per step (|h| = 0.05: < 1% of the shift).
    // So the twin's law is F(x - a delta), a = alpha(tMin), and its KS distance from F is
    // D* = sup_x |F(x) - F(x - a delta)|. Estimated from CPU sample B against itself translated:
    // |D_hat - D*| <= 2 eps1 (one-sample DKW, probability >= 1 - ALPHA). The twin passes only if
    // D <= eps + bias, i.e. if one of the two samples' empirical CDFs is off by
    // t >= (D* - eps - bias) / 2, probability <= 4 exp(-2 N t^2) =: miss.
    const a = new CpuStepper(mutated).table.rows.at(-1)!.alpha;
    const dHat = ksTwoSample(
      cpuB,
      cpuB.map((x) => x + a * SHIFT),
    );
    const dLow = dHat - 2 * oneSampleEpsilon(N, ALPHA);
    const t = (dLow - eps - bias) / 2;
    const miss = t > 0 ? 4 * Math.exp(-2 * N * t * t) : 1;
    console.log(
      `em KS twin (shift ${SHIFT}): D = ${d.toFixed(4)} vs threshold ${(eps + bias).toFixed(4)}; ` +
        `D* >= ${dLow.toFixed(4)} (D_hat ${dHat.toFixed(4)}), miss probability <= ${miss.toExponential(2)}`,
    );
    expect(miss).toBeLessThanOrEqual(BETA);
    expect(d).toBeGreaterThan(eps + bias);
  });
});
