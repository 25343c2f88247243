// Per-particle parity of the f32 WebGPU sampler with the f64 CPU reference, and the tolerance
// it is held to: a first-order f32 rounding-error model carried along each particle's trajectory.
//
// Why per particle. The GPU runs the algorithm of src/cpu/reference.ts on the same counter-based
// noise, so each GPU particle is the f64 particle plus the effect of f32 rounding. Rounding
// commits a small local error at every step and the flow carries it forward: an error made at
// step n reaches the end multiplied by the Jacobian of the remaining steps. Under guidance that
// Jacobian is far from uniform: a particle that starts near the boundary between two modes is
// pushed away from it (measured on the 2-D classifier case: a 1e-7 change of x_T grows 300-fold
// for one particle in 2000, about 4-fold for the typical one), so one global tolerance is either
// loose for most particles or wrong for a few. So for each particle and coordinate:
//
//   M_n  the local error of step n in units of u = 2^-24 (f32's unit roundoff): the sum of the
//        absolute values of the terms rounded on the way (RoundoffModel below: x, each stage's
//        velocity terms cx x, cs s, cMean m with the score's own terms before cancellation, the
//        responsibilities' log-density terms, the box kernel's amplification, the f32 normals).
//        Standard forward error analysis bounds an f32 chain of m operations by m u M_n.
//   J_n  the Jacobian of the f64 one-step map at the particle (forward differences, f64).
//   B    worst case, linear accumulation:    B_0 = M_init,   B_{n+1} = |J_n| B_n + M_n
//   S    random rounding, root-sum-square:  S_0 = M_init,   S_{n+1}^2 = J_n^2 S_n^2 + M_n^2
//
// Tolerance: |x_gpu - x_cpu| <= K u S_N with K = PARITY_ULPS = 16. Round-to-nearest errors are
// uniform in +-u/2 (standard deviation u / sqrt 12 each), so a chain of m ~ 16 operations per
// magnitude term (rk4: stage sums 4, velocity 3, score and group sums ~4 with exp at 3 + 2|x| ulp
// and division at 2.5 ulp per the WGSL spec, update 2) has a standard deviation of about
// sqrt(16 / 12) u ~ 1.15 u per unit of M, i.e. the final error is ~N(0, (1.15 u S_N)^2). A
// false failure on any of ~10^5 coordinates at probability 1e-4 needs 6.1 standard deviations,
// K = 1.15 x 6.1 = 7; K = 16 doubles that for errors that are not random (a driver's exp or
// log approximation has a bias along a trajectory). The worst-case B_N (linear, no
// cancellation) is reported as well. Measured on lavapipe over every spec in the tests:
// max |d| / (u S_N) ~ 1.0, max |d| / (u B_N) ~ 0.2, so the model is conservative and K = 16
// leaves a margin of ~16. The model is first order: valid while K u S_N is small against the
// scale on which the flow is nonlinear; compareWithBound reports the largest tolerance so that
// the tests can require it to be small (<= 1e-3).
import erfcx from '@stdlib/math-base-special-erfcx';
import { CpuStepper } from '../../src/cpu/reference.ts';
import { componentAtTime, makeComponentAtTime, type ComponentAtTime } from '../../src/model/components.ts';
import { groupDataMean, type Group, type MixtureModel } from '../../src/model/mixture.ts';
import { logDiffPhi } from '../../src/model/special.ts';
import { priorScale } from '../../src/processes/process.ts';
import { fillNormals } from '../../src/rng/philox.ts';
import type { StepRow, StepTable } from '../../src/solvers/table.ts';
import type { Tableau } from '../../src/solvers/tableau.ts';
import type { GuidancePlan } from '../../src/guidance/guidance.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';

/** f32 unit roundoff. */
export const F32_U = 2 ** -24;

/** The tolerance multiplier K on u S_N (see above). */
export const PARITY_ULPS = 16;

/**
 * Error of one f32 normal from shaders/philox.wgsl in units of u r, r the radius of its
 * Box-Muller pair: test/support/philox-check.ts derives ~4e-7 r (= 6.7 u r) and holds the GPU
 * to 1e-6 r; 8 covers the derivation.
 */
export const NORMAL_ERROR_ULPS = 8;

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** Series threshold of log_diff_phi in shaders/normal.wgsl (the GPU's branch is what rounds). */
const GPU_SERIES_LIMIT = 0.1;

/**
 * Error magnitudes, in units of u, of log_diff_phi(a, b) in shaders/normal.wgsl for exact f32
 * inputs a > b: for the log, and for R = (phi(a) - phi(b)) / (Phi(a) - Phi(b)), each the sum of
 * the absolute values of the terms that are rounded (or approximated) on the kernel's branch.
 * WGSL allows exp 3 + 2|x| ulp and log an absolute 2^-21 = 8u near 1; the erfcx fit is good to
 * 1.2e-7 ~ 2u relative. The dominant effect is the tail branch's den = 1 - Phi(b)/Phi(a): the
 * error of log(Phi(b)/Phi(a)) is amplified by ratio / den when the two CDFs are close, just
 * above the series branch. The f32 error of log_diff_phi is then at most a chain depth
 * (~8 operations) times these magnitudes.
 */
export function logDiffPhiErrorMagnitude(aIn: number, bIn: number): { log: number; r: number } {
  const { log, dlog: r } = logDiffPhi(aIn, bIn);
  const w = aIn - bIn;
  const cIn = 0.5 * (aIn + bIn);
  if (w * Math.max(1, Math.abs(cIn)) < GPU_SERIES_LIMIT) {
    // log(w) - c^2/2 - log sqrt(2 pi) + log(corr); R = -c + dcorr / corr.
    return { log: Math.abs(Math.log(w)) + cIn * cIn + 1 + 16, r: 4 * Math.abs(r) + Math.abs(cIn) + 1 };
  }
  let a = aIn;
  let b = bIn;
  if (bIn >= 0) {
    a = -bIn;
    b = -aIn;
  }
  if (a <= 0) {
    const c = 0.5 * (a + b);
    const la = Math.log(erfcx(-a * SQRT1_2));
    const lb = Math.log(erfcx(-b * SQRT1_2));
    const wc = w * c;
    const den = -Math.expm1(wc + lb - la);
    const num = -Math.expm1(wc);
    const numRel = (Math.abs(wc) * Math.exp(wc)) / Math.max(num, 1e-300) + 3;
    const denRel = ((1 - den) / Math.max(den, 1e-300)) * (Math.abs(wc) + Math.abs(la) + Math.abs(lb) + 8) + 3;
    return {
      log: Math.abs(la) + 2 + 0.5 * a * a + 0.7 + 8 + denRel,
      r: Math.abs(r) * (8 + 2 * Math.abs(la) + numRel + denRel),
    };
  }
  // Straddles 0: log1p(-tails) with tails = Phi(b) + Phi(-a) (each from exp of its log).
  const p = Math.exp(log);
  const tails = 1 - p;
  const ea = Math.exp(-0.5 * a * a);
  const eb = Math.exp(-0.5 * b * b);
  const tailRel = (tails / p) * (16 + a * a + b * b);
  return {
    log: 8 + tailRel,
    // exp(-a^2/2) below f32's normal range (2^-126) may flush to 0 (WGSL allows it): an absolute
    // error of up to 2^-126 per term, i.e. 2^-102 in units of u.
    r:
      8 * Math.abs(r) +
      (ea * (4 + 2 * a * a) + eb * (4 + 2 * b * b) + 2 * 2 ** -102) / (p * SQRT_2PI) +
      Math.abs(r) * tailRel,
  };
}

/**
 * The magnitudes that f32 rounding errors of one velocity evaluation are proportional to: for
 * each coordinate, |cx xs| + |cs| S + |cMean m|, S the absolute-value counterpart of the guided
 * score (each component's score terms before cancellation, plus the responsibility error from
 * its log-density's terms, weighted by |coefficient| x responsibility).
 */
export class RoundoffModel implements VelocityMagnitude {
  private readonly model: MixtureModel;
  private readonly dim: number;
  private readonly atTime: ComponentAtTime[];
  private readonly logs: Float64Array;
  private readonly lam: Float64Array;
  private readonly scores: Float64Array;
  private readonly sabs: Float64Array;
  private readonly y: Float64Array;
  private readonly yabs: Float64Array;
  private readonly groupScore: Float64Array;
  private readonly resp: Float64Array;
  private readonly targetMean: Float64Array;
  private readonly negativeMean: Float64Array;

  private readonly guidance: Pick<GuidancePlan, 'model' | 'target' | 'negative'>;

  /** For the groups of a guidance plan (CpuStepper.guidance, or the unconditional law alone). */
  constructor(guidance: Pick<GuidancePlan, 'model' | 'target' | 'negative'>) {
    this.guidance = guidance;
    const model = guidance.model;
    const n = model.components.length;
    const d = model.dim;
    this.model = model;
    this.dim = d;
    this.atTime = model.components.map(() => makeComponentAtTime(d));
    this.logs = new Float64Array(n);
    this.lam = new Float64Array(n);
    this.scores = new Float64Array(n * d);
    this.sabs = new Float64Array(n * d);
    this.y = new Float64Array(d);
    this.yabs = new Float64Array(d);
    this.groupScore = new Float64Array(d);
    this.resp = new Float64Array(n);
    this.targetMean = groupDataMean(model, guidance.target);
    this.negativeMean = guidance.negative ? groupDataMean(model, guidance.negative) : new Float64Array(d);
  }

  setTime(row: StepRow): void {
    this.model.components.forEach((c, k) => {
      componentAtTime(c, row.alpha, row.sigma2, this.atTime[k]);
    });
  }

  private evaluate(xs: ArrayLike<number>): void {
    const d = this.dim;
    this.model.components.forEach((c, k) => {
      const f = this.atTime[k];
      const o = k * d;
      let log = f.logNorm;
      let lam = Math.abs(f.logNorm);
      if (c.kind === 'gaussian' && c.basis === null) {
        for (let j = 0; j < d; j++) {
          const r = xs[j] - f.shift[j];
          const q = r * f.invVar[j];
          const rabs = Math.abs(xs[j]) + Math.abs(f.shift[j]);
          log -= 0.5 * r * q;
          lam += 0.5 * Math.abs(r * q) + rabs * Math.abs(r) * f.invVar[j];
          this.scores[o + j] = -q;
          this.sabs[o + j] = rabs * f.invVar[j];
        }
      } else if (c.kind === 'gaussian') {
        const u = c.basis!;
        for (let j = 0; j < d; j++) {
          let acc = 0;
          let accAbs = 0;
          for (let i = 0; i < d; i++) {
            acc += u[i * d + j] * (xs[i] - f.shift[i]);
            accAbs += Math.abs(u[i * d + j]) * (Math.abs(xs[i]) + Math.abs(f.shift[i]));
          }
          this.y[j] = acc;
          this.yabs[j] = accAbs;
          log -= 0.5 * acc * acc * f.invVar[j];
          lam += 0.5 * acc * acc * f.invVar[j] + accAbs * Math.abs(acc) * f.invVar[j];
        }
        for (let i = 0; i < d; i++) {
          let s = 0;
          let sa = 0;
          for (let j = 0; j < d; j++) {
            s -= u[i * d + j] * this.y[j] * f.invVar[j];
            sa += Math.abs(u[i * d + j]) * this.yabs[j] * f.invVar[j];
          }
          this.scores[o + i] = s;
          this.sabs[o + i] = sa;
        }
      } else {
        const sigma = f.sigma;
        for (let j = 0; j < d; j++) {
          const a = (xs[j] - f.shift[j]) / sigma;
          const b = (xs[j] - f.shift2[j]) / sigma;
          const dd = logDiffPhi(a, b);
          // Rounding of xs - alpha l and xs - alpha h, in units of sigma; |dR/da|, |dR/db| <= ~1.
          const argErr = (Math.abs(xs[j]) + Math.max(Math.abs(f.shift[j]), Math.abs(f.shift2[j]))) / sigma;
          log += dd.log - Math.log(a - b);
          const mag = logDiffPhiErrorMagnitude(a, b);
          lam += mag.log + Math.abs(Math.log(a - b)) + 8 + (Math.abs(a + b) + 2 + Math.abs(dd.dlog)) * argErr;
          this.scores[o + j] = dd.dlog / sigma;
          this.sabs[o + j] = (mag.r + 2 * argErr) / sigma;
        }
      }
      this.logs[k] = log;
      this.lam[k] = lam;
    });
  }

  /** out[j] += |coefficient| x the score magnitude of one group at the last evaluate(). */
  private addGroupMagnitude(group: Group, coefficient: number, out: Float64Array): void {
    const d = this.dim;
    const entries = group.entries;
    let max = -Infinity;
    for (const e of entries) max = Math.max(max, e.logWeight + this.logs[e.component]);
    let sum = 0;
    entries.forEach((e, i) => {
      this.resp[i] = Math.exp(e.logWeight + this.logs[e.component] - max);
      sum += this.resp[i];
    });
    this.groupScore.fill(0);
    entries.forEach((e, i) => {
      this.resp[i] /= sum;
      for (let j = 0; j < d; j++) this.groupScore[j] += this.resp[i] * this.scores[e.component * d + j];
    });
    entries.forEach((e, i) => {
      const v = e.logWeight + this.logs[e.component];
      // log-density error: its terms, the f32 log-weight, and exp's 3 + 2|x| ulp.
      const lam = this.lam[e.component] + Math.abs(e.logWeight) + 3 + 2 * Math.abs(v - max);
      for (let j = 0; j < d; j++) {
        const k = e.component * d + j;
        out[j] +=
          Math.abs(coefficient) * this.resp[i] * (this.sabs[k] + lam * Math.abs(this.scores[k] - this.groupScore[j]));
      }
    });
  }

  /** out[j] = the magnitude of the velocity's terms at xs (row's time must be set). */
  velocityMagnitude(xs: ArrayLike<number>, row: StepRow, out: Float64Array): void {
    const d = this.dim;
    this.evaluate(xs);
    const s = new Float64Array(d);
    this.addGroupMagnitude(this.guidance.target, row.gammaTarget, s);
    if (this.guidance.negative && row.gammaNegative !== 0) {
      this.addGroupMagnitude(this.guidance.negative, row.gammaNegative, s);
    }
    for (let j = 0; j < d; j++) {
      const mean = Math.abs(row.gammaTarget * this.targetMean[j]) + Math.abs(row.gammaNegative * this.negativeMean[j]);
      out[j] = Math.abs(row.cx * xs[j]) + Math.abs(row.cs) * s[j] + Math.abs(row.cMean) * mean;
    }
  }
}

export interface ParityReference {
  /** The f64 reference particles: CpuStepper's own steps, so equal to sampleCpu(spec).particles. */
  particles: Float64Array;
  /** Per particle and coordinate, the worst-case (linear) accumulation B_N (units of u). */
  bound: Float64Array;
  /** The root-sum-square accumulation S_N (units of u): the tolerance is K u S_N. */
  rss: Float64Array;
}

/** The local-error magnitudes of one velocity evaluation (units of u), per coordinate. */
export interface VelocityMagnitude {
  setTime(row: StepRow): void;
  velocityMagnitude(xs: ArrayLike<number>, row: StepRow, out: Float64Array): void;
}

/** What the error propagation needs of a sampler: CpuStepper's step interface. */
export interface Stepper {
  readonly table: StepTable;
  readonly tableau: Tableau;
  initParticles(first: number, count: number, x: Float64Array): void;
  /** Reads this.tableau.stochastic for its noise (the Jacobian runs a copy with it off). */
  step(n: number, first: number, count: number, x: Float64Array, k: Float64Array[]): void;
}

/** The reference particles and their error bounds (about (dim + 3) x the cost of sampleCpu). */
export function referenceWithBound(spec: ExperimentSpec, chunk = 256): ParityReference {
  const stepper = new CpuStepper(spec);
  return referenceWithBoundFor(spec, stepper, new RoundoffModel(stepper.guidance), chunk);
}

/** referenceWithBound for any stepper with its own velocity-magnitude model. */
export function referenceWithBoundFor(
  spec: ExperimentSpec,
  stepper: Stepper,
  model: VelocityMagnitude,
  chunk = 256,
): ParityReference {
  // The deterministic part of a step (the Jacobian of the noise term is 0): the same stepper,
  // its noise switched off.
  const drift: Stepper = Object.assign(Object.create(Object.getPrototypeOf(stepper)), stepper, {
    tableau: { ...stepper.tableau, stochastic: false },
  });
  const d = spec.dim;
  const { table, tableau } = stepper;
  const stages = table.stages;
  const stochastic = tableau.stochastic;
  const prior = priorScale(spec.process);
  const zPad = Math.ceil(d / 4) * 4;
  const z = new Float64Array(zPad);
  const pairRadius = (j: number): number => Math.hypot(z[j & ~1], z[j | 1]);

  const particles = new Float64Array(spec.particles * d);
  const bound = new Float64Array(spec.particles * d);
  const rss = new Float64Array(spec.particles * d);
  const vNew = new Float64Array(d);
  const xs = new Float64Array(d);
  const vmag = new Float64Array(d);
  const bNew = new Float64Array(d);
  for (let first = 0; first < spec.particles; first += chunk) {
    const count = Math.min(chunk, spec.particles - first);
    const x = particles.subarray(first * d, (first + count) * d);
    const b = bound.subarray(first * d, (first + count) * d);
    const v = rss.subarray(first * d, (first + count) * d);
    stepper.initParticles(first, count, x);
    for (let p = 0; p < count; p++) {
      fillNormals(spec.seed, first + p, 0, d, z);
      for (let j = 0; j < d; j++) {
        b[p * d + j] = Math.abs(x[p * d + j]) + prior * (NORMAL_ERROR_ULPS * pairRadius(j) + Math.abs(z[j]));
        v[p * d + j] = b[p * d + j] ** 2;
      }
    }
    const k = Array.from({ length: stages }, () => new Float64Array(count * d));
    const packed = new Float64Array(count * (d + 1) * d);
    const kp = Array.from({ length: stages }, () => new Float64Array(count * (d + 1) * d));
    const delta = new Float64Array(count * d);
    const local = new Float64Array(count * d);
    for (let n = 0; n < table.steps; n++) {
      const xOld = x.slice();
      for (let p = 0; p < count; p++) {
        for (let c = 0; c <= d; c++) packed.set(xOld.subarray(p * d, (p + 1) * d), (p * (d + 1) + c) * d);
        for (let j = 0; j < d; j++) {
          const dj = 2 ** -20 * Math.max(1, Math.abs(xOld[p * d + j]));
          delta[p * d + j] = dj;
          packed[(p * (d + 1) + 1 + j) * d + j] += dj;
        }
      }
      drift.step(n, 0, count * (d + 1), packed, kp);
      stepper.step(n, first, count, x, k);

      // Local error magnitudes: each stage's velocity terms and increment, the update's rounding.
      const h = table.rows[n * stages].h;
      for (let p = 0; p < count; p++) {
        for (let j = 0; j < d; j++) local[p * d + j] = Math.abs(xOld[p * d + j]) + Math.abs(x[p * d + j]);
      }
      for (let i = 0; i < stages; i++) {
        const row = table.rows[n * stages + i];
        model.setTime(row);
        for (let p = 0; p < count; p++) {
          for (let j = 0; j < d; j++) {
            let acc = xOld[p * d + j];
            for (let l = 0; l < i; l++) acc += h * tableau.a[i][l] * k[l][p * d + j];
            xs[j] = acc;
          }
          model.velocityMagnitude(xs, row, vmag);
          for (let j = 0; j < d; j++) {
            local[p * d + j] += Math.abs(h * tableau.b[i]) * (Math.abs(k[i][p * d + j]) + vmag[j]);
          }
        }
      }
      if (stochastic) {
        const noise = table.rows[n * stages].noiseScale;
        for (let p = 0; p < count; p++) {
          fillNormals(spec.seed, first + p, n + 1, d, z);
          for (let j = 0; j < d; j++) local[p * d + j] += noise * (NORMAL_ERROR_ULPS * pairRadius(j) + Math.abs(z[j]));
        }
      }
      // B <- |J| B + M.
      for (let p = 0; p < count; p++) {
        const base = p * (d + 1) * d;
        for (let j = 0; j < d; j++) {
          let acc = local[p * d + j];
          let acc2 = local[p * d + j] ** 2;
          for (let i = 0; i < d; i++) {
            const jac = (packed[base + (1 + i) * d + j] - packed[base + j]) / delta[p * d + i];
            acc += Math.abs(jac) * b[p * d + i];
            acc2 += jac * jac * v[p * d + i];
          }
          bNew[j] = acc;
          vNew[j] = acc2;
        }
        b.set(bNew, p * d);
        v.set(vNew, p * d);
      }
    }
  }
  for (let i = 0; i < rss.length; i++) rss[i] = Math.sqrt(rss[i]);
  return { particles, bound, rss };
}

export interface ParityReport {
  /** Largest |x_gpu - x_cpu|. */
  maxAbs: number;
  /** Largest |x_gpu - x_cpu| / max(1, |x_cpu|). */
  maxRel: number;
  /** Largest |x_gpu - x_cpu| / (u B_N), the worst-case accumulation (reported only). */
  maxUlpsOfBound: number;
  /** Largest |x_gpu - x_cpu| / (u S_N): the multiplier actually needed (must be <= K). */
  maxUlpsOfRss: number;
  /** Largest tolerance K u S_N over all coordinates, and the median one. */
  maxTolerance: number;
  medianTolerance: number;
  /** Coordinates beyond K u S_N (or non-finite on the GPU). */
  failures: number;
  nonFinite: number;
  firstFailure: string | null;
}

/** Compares GPU particles with the reference, coordinate by coordinate, against K u S_N. */
export function compareWithBound(
  gpu: ArrayLike<number>,
  ref: ParityReference,
  dim: number,
  k = PARITY_ULPS,
): ParityReport {
  const { particles: cpu, bound } = ref;
  if (gpu.length !== cpu.length) throw new Error(`GPU returned ${gpu.length} values, expected ${cpu.length}`);
  const tols = new Float64Array(cpu.length);
  const report: ParityReport = {
    maxAbs: 0,
    maxRel: 0,
    maxUlpsOfBound: 0,
    maxUlpsOfRss: 0,
    maxTolerance: 0,
    medianTolerance: 0,
    failures: 0,
    nonFinite: 0,
    firstFailure: null,
  };
  for (let i = 0; i < cpu.length; i++) {
    const err = Math.abs(gpu[i] - cpu[i]);
    const tol = k * F32_U * ref.rss[i];
    tols[i] = tol;
    if (!Number.isFinite(gpu[i])) report.nonFinite++;
    if (!(err <= tol)) {
      report.failures++;
      report.firstFailure ??= `particle ${Math.floor(i / dim)} coordinate ${i % dim}: gpu ${gpu[i]} cpu ${cpu[i]} |d| ${err.toExponential(3)} > tol ${tol.toExponential(3)} (S_N ${ref.rss[i].toExponential(3)}, B_N ${bound[i].toExponential(3)})`;
    }
    if (Number.isFinite(err)) {
      report.maxAbs = Math.max(report.maxAbs, err);
      report.maxRel = Math.max(report.maxRel, err / Math.max(1, Math.abs(cpu[i])));
      report.maxUlpsOfBound = Math.max(report.maxUlpsOfBound, err / (F32_U * bound[i]));
      report.maxUlpsOfRss = Math.max(report.maxUlpsOfRss, err / (F32_U * ref.rss[i]));
    }
    report.maxTolerance = Math.max(report.maxTolerance, tol);
  }
  tols.sort();
  report.medianTolerance = tols[tols.length >> 1];
  return report;
}

export function formatReport(name: string, r: ParityReport): string {
  return (
    `${name}: max |d| ${r.maxAbs.toExponential(2)}, max |d|/max(1,|x|) ${r.maxRel.toExponential(2)}, ` +
    `max |d|/(u S) ${r.maxUlpsOfRss.toFixed(3)} (K = ${PARITY_ULPS}), max |d|/(u B) ${r.maxUlpsOfBound.toFixed(3)}, tolerance median ${r.medianTolerance.toExponential(2)} ` +
    `max ${r.maxTolerance.toExponential(2)}`
  );
}
