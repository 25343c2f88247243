// Uniform-box scores far outside the box: shaders/normal.wgsl's log_diff_phi (f32) against
// logDiffPhi in src/model/special.ts (f64) on a grid that covers every branch (series for tiny
// widths, lower and reflected upper tails, straddling 0) out to 10, 40, 1000 and 10^4 standard
// deviations on either side; then end-to-end runs whose particles evaluate boxes ~10^4 sd away.
//
// Tolerance of the kernel check: for each pair, K_BOX u M with M the error magnitude of
// log_diff_phi's branch (logDiffPhiErrorMagnitude in test/support/parity.ts: the sum of the
// absolute values of the rounded terms, with WGSL's exp 3 + 2|x| ulp and log 2^-21 absolute,
// the erfcx fit's 1.2e-7, and the 1 / (1 - Phi(b)/Phi(a)) amplification above the series
// branch, and 2^-126 absolute where a term underflows f32 and may be flushed to 0). One evaluation is a chain of at most ~8 f32 operations per term, so K_BOX = 8 is
// the forward-error bound itself, with no extra margin; measured max |d| / (u M) on lavapipe:
// ~1.8 for the log, ~1.1 for R here (2.6 and 2.0 over 2e5 random boxes). In relative terms
// (printed) the log is within ~1.3e-6 of max(1, |log|) and R within ~4e-5 (at |R| ~ 1e-30,
// where the straddling branch's exp(-a^2/2) terms are near f32's range) or ~1e-5 (just above
// the series branch, where 1 - Phi(b)/Phi(a) ~ 0.1 amplifies the erfcx fit's error).

import { expect, it } from 'vitest';
import erfcx from '@stdlib/math-base-special-erfcx';
import { logDiffPhi } from '../../src/model/special.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { logDiffPhiOnGpu } from '../support/box-kernel.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import {
  compareWithBound,
  F32_U,
  formatReport,
  logDiffPhiErrorMagnitude,
  PARITY_ULPS,
  referenceWithBound,
} from '../support/parity.ts';
import type { RawSpec } from '../support/sampler-cases.ts';

const K_BOX = 8;

/** (a, b) pairs with a > b in f32, covering every branch of log_diff_phi. */
function boxGrid(): Float32Array {
  const pairs: number[] = [];
  const add = (a: number, b: number): void => {
    const fa = Math.fround(a);
    const fb = Math.fround(b);
    if (fa > fb) pairs.push(fa, fb);
  };
  // Widths across the series threshold (w max(1, |c|) < 0.1) and centres out to 10^4 sd.
  const widths = [1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.099, 0.101, 0.2, 0.5, 1, 2, 5, 10, 100, 2000];
  const centres = [0, 0.3, 1, 2.5, 5, 10, 40, 1000, 1e4];
  for (const w of widths) {
    for (const c of centres) {
      add(c + w / 2, c - w / 2);
      add(-c + w / 2, -c - w / 2);
    }
  }
  // x 10, 40, 1000 sd below the box's lower edge (b = k) or above its upper edge (a = -k).
  for (const k of [10, 40, 1000]) {
    for (const w of [1e-3, 0.01, 0.1, 1, 10, 1000]) {
      add(-k, -k - w);
      add(k + w, k);
    }
  }
  // Straddling 0, symmetric and lopsided, up to 1000 sd on each side.
  for (const a of [0.01, 0.3, 1, 3, 10, 40, 1000]) for (const b of [-0.01, -0.3, -1, -3, -10, -40, -1000]) add(a, b);
  // Log-uniform random boxes (fixed generator): centre +-10^[-2, 4], width 10^[-5, 3].
  let s = 12345;
  const rand = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < 4000; i++) {
    const c = (rand() < 0.5 ? -1 : 1) * 10 ** (-2 + 6 * rand());
    const w = 10 ** (-5 + 8 * rand());
    add(c + w / 2, c - w / 2);
  }
  return Float32Array.from(pairs);
}

// Narrow boxes far apart, on ve from sigmaMax = 80 down to sigma = 0.002: at the end a particle
// in the target box evaluates the far components at |a| ~ (60 - 0.2) / 0.002 = 3e4 sd (the
// target's own far component), 2e4 sd (class b's), which only the log-space kernel survives.
const farBoxes = (solver: string, particles: number): RawSpec => ({
  dim: 1,
  classes: [
    {
      name: 'a',
      weight: 1,
      components: [
        { kind: 'uniform', weight: 1, low: [0.2], high: [0.21] },
        { kind: 'uniform', weight: 1e-6, low: [60], high: [60.02] },
      ],
    },
    {
      name: 'b',
      weight: 1,
      components: [
        { kind: 'uniform', weight: 1, low: [-30], high: [-29.9] },
        { kind: 'uniform', weight: 1, low: [40], high: [40.05] },
      ],
    },
  ],
  target: 'a',
  process: { kind: 've', sigmaMax: 80 },
  guidance: { kind: 'cfg', w: 2 },
  solver: { kind: solver, steps: 100, grid: { kind: 'edm', rho: 7 } },
  particles,
  seed: 5,
});

await describeGpu('box scores far outside the box', (ctx) => {
  // The log-density mode's box term T = f'' + f'^2 (f = log(Phi(a) - Phi(b))) = b pb - a pa,
  // pa = phi(a)/(Phi(a) - Phi(b)), against the same closed form in f64 on every pair of the grid
  // (to 10^4 sd). Tolerance: T's terms carry the errors of pa, pb, which are those of R
  // with pa, pb and R = pa - pb sharing the factor 1 / (Phi(a) - Phi(b)) (log_diff_phi's den,
  // whose error dominates R's): relative error mag.r / |R| (logDiffPhiErrorMagnitude), on each of
  // |a pa|, |b pb|, plus T's own rounding: K_BOX u ((|a pa| + |b pb|)(mag.r / |R| + 1) + 1).
  it('box_div_term (f32) vs b pb - a pa (f64), every branch, to 10^4 sd', async () => {
    const pairs = boxGrid();
    const out = await logDiffPhiOnGpu(ctx, pairs);
    let failures = 0;
    let worst = 0;
    let first: string | null = null;
    for (let i = 0; i < pairs.length / 2; i++) {
      const a = pairs[2 * i];
      const b = pairs[2 * i + 1];
      const { log } = logDiffPhi(a, b);
      const k = 0.5 * Math.log(2 * Math.PI) + log;
      const pa = Math.exp(-0.5 * a * a - k);
      const pb = Math.exp(-0.5 * b * b - k);
      const t = b * pb - a * pa;
      const mag = logDiffPhiErrorMagnitude(a, b);
      const rel = mag.r / Math.max(Math.abs(pa - pb), Number.MIN_VALUE);
      const tol = K_BOX * F32_U * ((Math.abs(a * pa) + Math.abs(b * pb)) * (rel + 1) + 1);
      const d = Math.abs(out[4 * i + 3] - t);
      worst = Math.max(worst, d / tol);
      if (!(d <= tol)) {
        failures++;
        first ??= `a=${a} b=${b}: gpu ${out[4 * i + 3]} f64 ${t} (tol ${tol.toExponential(2)})`;
      }
    }
    console.log(
      `box_div_term: ${pairs.length / 2} pairs, worst |d|/tol ${worst.toFixed(3)}, failures ${failures}${first ? `, first ${first}` : ''}`,
    );
    expect(first).toBeNull();
  });

  it(`log_diff_phi (f32) vs logDiffPhi (f64): ${boxGrid().length / 2} boxes, to 10^4 sd, every branch`, async () => {
    const pairs = boxGrid();
    const out = await logDiffPhiOnGpu(ctx, pairs);
    let erfcxWorst = 0;
    let erfcxFirst: string | null = null;
    let nonFinite = 0;
    let failures = 0;
    let first: string | null = null;
    const worst = { log: 0, r: 0, relLog: 0, relR: 0, relRFar: 0 };
    for (let i = 0; i < pairs.length / 2; i++) {
      const a = pairs[2 * i];
      const b = pairs[2 * i + 1];
      const ref = logDiffPhi(a, b);
      const mag = logDiffPhiErrorMagnitude(a, b);
      const gLog = out[4 * i];
      const gR = out[4 * i + 1];
      // log erfcx(|a|) = log t + P(t), t = 1 / (1 + |a|/2): the fit's 1.2e-7 (relative in erfcx,
      // absolute in its log) plus rounding, K_BOX u (|log t| + 7), 7 ~ the sum of |coefficients|
      // that bounds the Horner chain's error.
      const x = Math.abs(a);
      const eRef = Math.log(erfcx(x));
      const eTol = 1.2e-7 + K_BOX * F32_U * (Math.abs(Math.log(1 / (1 + 0.5 * x))) + 7);
      const eErr = Math.abs(out[4 * i + 2] - eRef);
      erfcxWorst = Math.max(erfcxWorst, eErr / eTol);
      if (!(eErr <= eTol))
        erfcxFirst ??= `log erfcx(${x}): gpu ${out[4 * i + 2]} f64 ${eRef} (tol ${eTol.toExponential(2)})`;
      if (!Number.isFinite(gLog) || !Number.isFinite(gR)) nonFinite++;
      const dLog = Math.abs(gLog - ref.log);
      const dR = Math.abs(gR - ref.dlog);
      if (!(dLog <= K_BOX * F32_U * mag.log) || !(dR <= K_BOX * F32_U * mag.r)) {
        failures++;
        first ??= `a=${a} b=${b}: log gpu ${gLog} f64 ${ref.log} (tol ${(K_BOX * F32_U * mag.log).toExponential(2)}), R gpu ${gR} f64 ${ref.dlog} (tol ${(K_BOX * F32_U * mag.r).toExponential(2)})`;
      }
      worst.log = Math.max(worst.log, dLog / (F32_U * mag.log));
      worst.r = Math.max(worst.r, dR / (F32_U * mag.r));
      worst.relLog = Math.max(worst.relLog, dLog / Math.max(1, Math.abs(ref.log)));
      // Relative errors (reported) where R is well inside f32's range: near 2^-126 its terms
      // flush to 0 and only the absolute error means anything.
      if (Math.abs(ref.dlog) > 1e-30) worst.relR = Math.max(worst.relR, dR / Math.abs(ref.dlog));
      if (Math.abs(ref.dlog) > 1e-30 && Math.min(Math.abs(a), Math.abs(b)) >= 10 && a * b > 0) {
        worst.relRFar = Math.max(worst.relRFar, dR / Math.abs(ref.dlog));
      }
    }
    console.log(
      `log_diff_phi: max |d log| / (u M) ${worst.log.toFixed(3)}, max |d R| / (u M) ${worst.r.toFixed(3)} (K = ${K_BOX}); ` +
        `max |d log| / max(1, |log|) ${worst.relLog.toExponential(2)}, max |d R| / |R| ${worst.relR.toExponential(2)}, ` +
        `outside by >= 10 sd ${worst.relRFar.toExponential(2)}; log erfcx: max |d| / tol ${erfcxWorst.toFixed(3)}`,
    );
    expect(erfcxFirst).toBeNull();
    expect(nonFinite).toBe(0);
    expect(first).toBeNull();
    expect(failures).toBe(0);
  });

  it('end to end: ve from sigmaMax 80 to narrow boxes 2e4 to 3e4 sd apart, 20000 particles, rk4 and em: all finite', async () => {
    for (const solver of ['rk4', 'em']) {
      const spec = parseSpec(farBoxes(solver, 20_000));
      const { particles } = await sampleGpuParticles(ctx, spec);
      const nonFinite = particles.filter((x) => !Number.isFinite(x)).length;
      // The target's law at tMin: box [0.2, 0.21] blurred by sigma = 0.002 (its far component
      // has weight 1e-6); cfg pushes away from class b, which is far away too.
      const inside = particles.filter((x) => x > 0.2 - 0.02 && x < 0.21 + 0.02).length;
      console.log(
        `far boxes, ${solver}: ${nonFinite} non-finite, ${inside} of ${spec.particles} within 10 sigma of the box`,
      );
      expect(nonFinite).toBe(0);
      expect(inside).toBeGreaterThanOrEqual(spec.particles - 2);
    }
  });

  it('end to end: the same spec per particle against the f64 reference (300 particles, rk4)', async () => {
    const spec = parseSpec(farBoxes('rk4', 300));
    const gpu = await sampleGpuParticles(ctx, spec);
    const report = compareWithBound(gpu.particles, referenceWithBound(spec), 1);
    console.log(formatReport('far boxes, rk4 (300 x 100 steps)', report));
    expect(report.nonFinite).toBe(0);
    expect(report.firstFailure).toBeNull();
    expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
  });
});
