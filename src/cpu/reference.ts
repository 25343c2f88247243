// The CPU reference backend, in f64: plain and deterministic by seed. Its
// structure mirrors the WGSL step kernel (shaders/step.wgsl): initialise a
// particle from stream 0 of the counter-based generator, then for each step
// evaluate the guided velocity at the tableau's stages from the step table.
import { type ExperimentPlan, isPlan, planOf, type PrepareOptions, prepareExperiment } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import type { GuidancePlan } from '../guidance/guidance.ts';
import { groupDataMean, MixtureEvaluator } from '../model/mixture.ts';
import { processAt } from '../processes/process.ts';
import type { StepRow, StepTable } from '../solvers/table.ts';
import type { Tableau } from '../solvers/tableau.ts';
import { COEF, COEF_BH } from '../solvers/samplers.ts';
import { fillNormals } from '../rng/philox.ts';
import type { GuidanceVariant } from '../experiment/types.ts';
import { combineScores } from '../guidance/variants.ts';
import {
  addScoreError,
  addScoreErrorJacobian,
  scoreErrorDivergence,
  type PreparedScoreError,
} from '../model/score-error.ts';
import { sampleGroupExact } from '../model/sample-exact.ts';
import { type Denoiser, type DenoiserCoefficients, denoiserCoefficients } from '../model/denoiser/denoiser.ts';

/** Particles advanced together, step by step: the CPU's analogue of one GPU dispatch's chunk. */
export const CPU_CHUNK = 1024;

export class CpuStepper {
  readonly dim: number;
  readonly guidance: GuidancePlan;
  readonly table: StepTable;
  readonly tableau: Tableau;
  private readonly seed: number;
  private readonly prior: number;
  /** Evaluators for the target's and the negative's scores (one object when they see the same law). */
  private readonly evTarget: MixtureEvaluator;
  private readonly evNegative: MixtureEvaluator;
  readonly scoreError: PreparedScoreError;
  readonly variant: GuidanceVariant;
  private readonly sTarget: Float64Array;
  private readonly sNegative: Float64Array;
  private readonly targetMean: Float64Array;
  private readonly negativeMean: Float64Array;
  /** dim x dim scratch for a learned score's Jacobian (log-density, log-det). */
  private readonly jacobianScratch: Float64Array;
  /** Multi-condition guidance: the extra groups' data means. */
  private readonly extraMeans: Float64Array[];
  private readonly s: Float64Array;
  private readonly xs: Float64Array;
  private readonly z: Float64Array;
  /** Per-particle normals of one sampler step (stepDenoised). */
  private zAll: Float64Array = new Float64Array(0);
  readonly spec: ExperimentSpec;
  /** Per-particle sum_i b_i div u over a step's stages (log-density path). */
  private divAcc: Float64Array = new Float64Array(0);
  /** The learned models' score constants at the last setTime's row (null: that score is exact). */
  private learnedTarget: DenoiserCoefficients | null = null;
  private learnedNegative: DenoiserCoefficients | null = null;

  readonly plan: ExperimentPlan;

  /** A plan (or a spec, compiled here; opts.reverse: the reversed table, tMin -> start time, for carrying points forward). */
  constructor(source: ExperimentSpec | ExperimentPlan, opts: PrepareOptions = {}) {
    const plan = isPlan(source) ? source : prepareExperiment(source, opts);
    this.plan = plan;
    const spec = plan.spec;
    this.spec = spec;
    this.dim = spec.dim;
    this.seed = spec.seed;
    this.guidance = plan.guidance;
    this.table = plan.table;
    this.tableau = plan.tableau;
    this.prior = plan.priorScale;
    this.scoreError = plan.scoreError;
    this.variant = plan.variant;
    this.evTarget = new MixtureEvaluator(this.guidance.model);
    const blurDiffers =
      this.scoreError.blur2 > 0 && this.scoreError.appliesToTarget !== this.scoreError.appliesToNegative;
    this.evNegative = blurDiffers ? new MixtureEvaluator(this.guidance.model) : this.evTarget;
    this.sTarget = new Float64Array(this.dim);
    this.sNegative = new Float64Array(this.dim);
    this.targetMean = groupDataMean(this.guidance.model, this.guidance.target);
    this.negativeMean = this.guidance.negative
      ? groupDataMean(this.guidance.model, this.guidance.negative)
      : new Float64Array(this.dim);
    this.extraMeans = this.guidance.extraGroups.map((g) => groupDataMean(this.guidance.model, g));
    this.s = new Float64Array(this.dim);
    this.jacobianScratch = new Float64Array(this.dim * this.dim);
    this.xs = new Float64Array(this.dim);
    this.z = new Float64Array(Math.ceil(this.dim / 4) * 4);
  }

  /**
   * x_T of particles [first, first + count): stream 0 of the generator, scaled to the prior;
   * with start "exact", exact draws of p_T(x | target) (src/model/sample-exact.ts).
   */
  initParticles(first: number, count: number, x: Float64Array): void {
    const d = this.dim;
    if (this.spec.start === 'exact') {
      const p = processAt(this.spec.process, this.plan.startTime);
      x.set(
        sampleGroupExact(this.guidance.model, this.guidance.target, p.alpha, p.sigma2, {
          seed: this.seed,
          first,
          count,
        }).x,
      );
      return;
    }
    for (let p = 0; p < count; p++) {
      fillNormals(this.seed, first + p, 0, d, this.z);
      for (let i = 0; i < d; i++) x[p * d + i] = this.prior * this.z[i];
    }
  }

  /** Prepares the evaluators for a row's time (the blur error widens one group's law). */
  setTime(row: StepRow): void {
    const e = this.scoreError;
    const blur = row.alpha * row.alpha * e.blur2;
    this.evTarget.setTime(row.alpha, row.sigma2 + (e.appliesToTarget ? blur : 0));
    if (this.evNegative !== this.evTarget)
      this.evNegative.setTime(row.alpha, row.sigma2 + (e.appliesToNegative ? blur : 0));
    const { learned } = this.plan;
    this.learnedTarget = learned.target && denoiserCoefficients(learned.target.sigmaData, row.alpha, row.sigma2);
    this.learnedNegative = learned.negative && denoiserCoefficients(learned.negative.sigmaData, row.alpha, row.sigma2);
  }

  /**
   * u = cx x + cs s + cMean (guided data mean) at one point, into out[offset..]: the ODE
   * velocity, or the SDE drift. The row's time must be the evaluators' (setTime).
   * `momentum` is the particle's guidance-variant state (apg), else null.
   */
  velocity(
    x: Float64Array,
    row: StepRow,
    out: Float64Array,
    offset: number,
    momentum: Float64Array | null = null,
  ): void {
    const { sTarget, sNegative, s, scoreError } = this;
    const { learned } = this.plan;
    if (learned.target) learned.target.scoreWith(this.learnedTarget!, x, sTarget);
    else {
      this.evTarget.evaluateComponents(x);
      sTarget.fill(0);
      this.evTarget.addGroupScore(this.guidance.target, 1, sTarget);
    }
    if (scoreError.appliesToTarget) addScoreError(scoreError, x, sTarget);
    sNegative.fill(0);
    if (this.guidance.negative && row.gammaNegative !== 0) {
      if (learned.negative) learned.negative.scoreWith(this.learnedNegative!, x, sNegative);
      else {
        if (this.evNegative !== this.evTarget || learned.target) this.evNegative.evaluateComponents(x);
        this.evNegative.addGroupScore(this.guidance.negative, 1, sNegative);
      }
      if (scoreError.appliesToNegative) addScoreError(scoreError, x, sNegative);
    }
    combineScores(this.variant, x, sTarget, sNegative, row, momentum, s);
    // Multi-condition guidance (linear, exact scores only): + sum_g c_g s_g over the extra groups.
    const extra = row.extraGammas;
    if (extra) {
      extra.forEach((c, g) => {
        if (c !== 0) this.evTarget.addGroupScore(this.guidance.extraGroups[g], c, s);
      });
    }
    for (let i = 0; i < this.dim; i++) {
      let mean = row.gammaTarget * this.targetMean[i] + row.gammaNegative * this.negativeMean[i];
      if (extra) for (let g = 0; g < extra.length; g++) mean += extra[g] * this.extraMeans[g][i];
      out[offset + i] = row.cx * x[i] + row.cs * s[i] + row.cMean * mean;
    }
  }

  /**
   * div_x u at the point of the last velocity() call (same row): cx dim + cs div s, with
   * div s = gT (div s_T + div e_T) + gN (div s_N + div e_N) for linear guidance (the only
   * kind with a log-density; src/model/divergence.ts). At alpha = 0 (cs = 0) it is cx dim.
   */
  velocityDivergence(x: Float64Array, row: StepRow): number {
    let div = row.cx * this.dim;
    if (row.cs === 0) return div;
    const e = this.scoreError;
    const { learned } = this.plan;
    const negative = this.guidance.negative && row.gammaNegative !== 0;
    // A learned score's divergence is its network's Jacobian trace (Denoiser.scoreDivergenceWith).
    const exactTarget = !learned.target;
    const exactNegative = negative && !learned.negative;
    if (exactTarget || exactNegative || row.extraGammas) this.evTarget.evaluateDivergences(x);
    const divTarget = learned.target
      ? learned.target.scoreDivergenceWith(this.learnedTarget!, x, this.jacobianScratch)
      : this.evTarget.groupScoreDivergence(this.guidance.target);
    let divS = row.gammaTarget * (divTarget + (e.appliesToTarget ? scoreErrorDivergence(e, x) : 0));
    if (negative) {
      let divNegative: number;
      if (learned.negative)
        divNegative = learned.negative.scoreDivergenceWith(this.learnedNegative!, x, this.jacobianScratch);
      else {
        if (this.evNegative !== this.evTarget) this.evNegative.evaluateDivergences(x);
        divNegative = this.evNegative.groupScoreDivergence(this.guidance.negative!);
      }
      divS += row.gammaNegative * (divNegative + (e.appliesToNegative ? scoreErrorDivergence(e, x) : 0));
    }
    row.extraGammas?.forEach((c, g) => {
      if (c !== 0) divS += c * this.evTarget.groupScoreDivergence(this.guidance.extraGroups[g]);
    });
    return div + row.cs * divS;
  }

  /**
   * out (dim x dim, row-major) = the Jacobian of u at the point of the last velocity() call (same
   * row): cx I + cs (gT (H_T + E_T) + gN (H_N + E_N)), H the groups' log-density Hessians and E
   * the score errors' Jacobians (linear guidance only, as velocityDivergence, its trace).
   */
  velocityJacobian(x: Float64Array, row: StepRow, out: Float64Array): void {
    const d = this.dim;
    const { learned } = this.plan;
    out.fill(0);
    if (row.cs !== 0) {
      const e = this.scoreError;
      const addLearned = (model: Denoiser, c: DenoiserCoefficients, scale: number): void => {
        model.scoreJacobianWith(c, x, this.jacobianScratch);
        for (let i = 0; i < d * d; i++) out[i] += scale * this.jacobianScratch[i];
      };
      if (learned.target) addLearned(learned.target, this.learnedTarget!, row.cs * row.gammaTarget);
      else this.evTarget.addGroupScoreJacobian(this.guidance.target, row.cs * row.gammaTarget, x, out);
      if (e.appliesToTarget) addScoreErrorJacobian(e, x, row.cs * row.gammaTarget, out);
      if (this.guidance.negative && row.gammaNegative !== 0) {
        if (learned.negative) addLearned(learned.negative, this.learnedNegative!, row.cs * row.gammaNegative);
        else this.evNegative.addGroupScoreJacobian(this.guidance.negative, row.cs * row.gammaNegative, x, out);
        if (e.appliesToNegative) addScoreErrorJacobian(e, x, row.cs * row.gammaNegative, out);
      }
      row.extraGammas?.forEach((c, g) => {
        if (c !== 0) this.evTarget.addGroupScoreJacobian(this.guidance.extraGroups[g], row.cs * c, x, out);
      });
    }
    for (let i = 0; i < d; i++) out[i * d + i] += row.cx;
  }

  /**
   * log q = gammaTarget log p_target + gammaNegative log p_negative at the point of the last
   * velocity() call (with the same row): the Feynman-Kac corrector's tilted log-density.
   */
  logTilted(row: StepRow): number {
    let l = row.gammaTarget * this.evTarget.groupLogDensity(this.guidance.target);
    if (this.guidance.negative && row.gammaNegative !== 0)
      l += row.gammaNegative * this.evNegative.groupLogDensity(this.guidance.negative);
    row.extraGammas?.forEach((c, g) => {
      if (c !== 0) l += c * this.evTarget.groupLogDensity(this.guidance.extraGroups[g]);
    });
    return l;
  }

  /**
   * Advances particles [first, first + count), stored in x, by step n. k holds one
   * count x dim slab per tableau stage.
   */
  step(
    n: number,
    first: number,
    count: number,
    x: Float64Array,
    k: Float64Array[],
    momentum: Float64Array | null = null,
    logq: Float64Array | null = null,
  ): void {
    if (this.table.sampler) throw new Error(`CpuStepper.step: ${this.spec.solver.kind} steps with stepDenoised`);
    const d = this.dim;
    const { stages, rows } = this.table;
    const { a, b } = this.tableau;
    const h = rows[n * stages].h;
    // log q: l -= h sum_i b_i div u(xs_i, t_i), at the particle's own stage points.
    if (logq && this.divAcc.length < count) this.divAcc = new Float64Array(count);
    const divAcc = this.divAcc;
    if (logq) divAcc.fill(0, 0, count);
    for (let i = 0; i < stages; i++) {
      const row = rows[n * stages + i];
      this.setTime(row);
      for (let p = 0; p < count; p++) {
        const o = p * d;
        for (let c = 0; c < d; c++) {
          let acc = x[o + c];
          for (let j = 0; j < i; j++) acc += h * a[i][j] * k[j][o + c];
          this.xs[c] = acc;
        }
        this.velocity(this.xs, row, k[i], o, momentum ? momentum.subarray(o, o + d) : null);
        if (logq && b[i] !== 0) divAcc[p] += b[i] * this.velocityDivergence(this.xs, row);
      }
    }
    if (logq) for (let p = 0; p < count; p++) logq[p] -= h * divAcc[p];
    for (let p = 0; p < count; p++) {
      const o = p * d;
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let i = 0; i < stages; i++) acc += b[i] * k[i][o + c];
        x[o + c] += h * acc;
      }
    }
    if (this.tableau.stochastic) {
      const noise = rows[n * stages].noiseScale;
      for (let p = 0; p < count; p++) {
        fillNormals(this.seed, first + p, n + 1, d, this.z);
        for (let c = 0; c < d; c++) x[p * d + c] += noise * this.z[c];
      }
    }
  }

  /**
   * Step n of a k-diffusion sampler (src/solvers/samplers.ts, whose header has the recurrence):
   * k[i] receives stage i's guided denoiser, hist[m] (count x dim each) the m-th previous step's
   * D_0. noiseIndex(p) is the generator's particle index of local particle p (first + p; the
   * parity model's perturbed copies share their particle's noise).
   */
  stepDenoised(
    n: number,
    first: number,
    count: number,
    x: Float64Array,
    k: Float64Array[],
    hist: Float64Array[],
    momentum: Float64Array | null = null,
    noiseIndex: (p: number) => number = (p) => first + p,
  ): void {
    const d = this.dim;
    const sampler = this.table.sampler!;
    const { stages, rows } = this.table;
    const c = sampler.coefs.subarray(n * sampler.stride, (n + 1) * sampler.stride);
    const noisy = c[COEF.preZ] !== 0 || c[COEF.az] !== 0;
    if (noisy && this.zAll.length < count * d) this.zAll = new Float64Array(count * d);
    const z = this.zAll;
    if (noisy) {
      for (let p = 0; p < count; p++) {
        fillNormals(this.seed, noiseIndex(p), n + 1, d, this.z);
        for (let j = 0; j < d; j++) z[p * d + j] = this.z[j];
      }
    }
    if (c[COEF.preZ] !== 0 || c[COEF.preX] !== 1) {
      for (let i = 0; i < count * d; i++) x[i] = c[COEF.preX] * x[i] + c[COEF.preZ] * z[i];
    }
    for (let i = 0; i < stages; i++) {
      const row = rows[n * stages + i];
      this.setTime(row);
      for (let p = 0; p < count; p++) {
        const o = p * d;
        for (let j = 0; j < d; j++)
          this.xs[j] = i === 0 ? x[o + j] : c[COEF.px1] * x[o + j] + c[COEF.q10] * k[0][o + j];
        this.velocity(this.xs, row, k[i], o, momentum ? momentum.subarray(o, o + d) : null);
      }
    }
    const h = sampler.histories;
    for (let i = 0; i < count * d; i++) {
      let acc = c[COEF.ax] * x[i] + c[COEF.b0] * k[0][i];
      if (stages > 1) acc += c[COEF.b1] * k[1][i];
      for (let m = 0; m < h; m++) acc += c[COEF_BH[m]] * hist[m][i];
      if (noisy) acc += c[COEF.az] * z[i];
      // What this step pushes (x before its update): D_0, or lms's derivative.
      const pushed = c[COEF.hx] * x[i] + c[COEF.hd] * k[0][i];
      for (let m = h - 1; m > 0; m--) hist[m][i] = hist[m - 1][i];
      if (h > 0) hist[0][i] = pushed;
      x[i] = acc;
    }
  }

  /** Samples particles [first, first + count) from x_T to tMin into out (count x dim). */
  sampleRange(first: number, count: number, out: Float64Array): void {
    const k = this.tableau.c.map(() => new Float64Array(count * this.dim));
    const momentum = this.variant.kind === 'apg' ? new Float64Array(count * this.dim) : null;
    this.initParticles(first, count, out);
    this.advanceRange(first, count, out, k, momentum);
  }

  /** Runs every step on particles [first, first + count) from the points in x (in place). */
  advanceRange(
    first: number,
    count: number,
    x: Float64Array,
    k = this.tableau.c.map(() => new Float64Array(count * this.dim)),
    momentum: Float64Array | null = this.variant.kind === 'apg' ? new Float64Array(count * this.dim) : null,
  ): void {
    if (this.table.sampler) {
      const hist = Array.from({ length: this.table.sampler.histories }, () => new Float64Array(count * this.dim));
      for (let n = 0; n < this.table.steps; n++) this.stepDenoised(n, first, count, x, k, hist, momentum);
      return;
    }
    for (let n = 0; n < this.table.steps; n++) this.step(n, first, count, x, k, momentum);
  }
}

export interface SampleResult {
  /** Row-major particles x N x dim, as f64. Non-finite particles are kept, not dropped. */
  particles: Float64Array;
  count: number;
  dim: number;
}

export interface CpuSampleOptions {
  /** Called after each chunk with (particles done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Samples independent particles (no corrector: a corrected population is src/cpu/fk.ts's). */
export function sampleCpu(source: ExperimentSpec | ExperimentPlan, opts: CpuSampleOptions = {}): SampleResult {
  const plan = planOf(source);
  const spec = plan.spec;
  if (spec.corrector)
    throw new Error('sampleCpu: this spec has a corrector; its particles form one population (use sampleCpuFk)');
  const stepper = new CpuStepper(plan);
  const { dim, particles: count } = spec;
  const out = new Float64Array(count * dim);
  for (let first = 0; first < count; first += CPU_CHUNK) {
    const n = Math.min(CPU_CHUNK, count - first);
    stepper.sampleRange(first, n, out.subarray(first * dim, (first + n) * dim));
    opts.onProgress?.(first + n, count);
  }
  return { particles: out, count, dim };
}
