// The Feynman-Kac (sequential Monte Carlo) corrector: the parts shared by the CPU
// reference (src/cpu/fk.ts) and the WebGPU host (src/gpu/fk.ts), all in f64.
//
// Guidance draws from the reverse SDE with the score S = gT s_target + gN s_negative
// (gT + gN = 1), which does not sample the tilted law q_t = p_t(x|c)^gT p_t(x|neg)^gN.
// Particles carry log-weights that fix that. We use the discrete-time weights of an SMC
// sampler on the path space, with the Euler-Maruyama step as the proposal M and the
// forward process's own transition as the backward kernel L:
//   log w_0 = log q_0(x_0) - log N(x_0; 0, prior^2 I)
//   log w  += log q_{n+1}(x_{n+1}) - log q_n(x_n) + log L(x_n | x_{n+1}) - log M(x_{n+1} | x_n)
//   M = N(x_n + h drift_n, noise_n^2 I),  L = N(a_n x_{n+1}, v_n I)  (src/solvers/table.ts)
// The weighted particles then target q at tMin exactly, for any number of steps: the step
// count changes the weights' variance, not the law. As h -> 0 the increment tends to
// Skreta et al. (2025)'s continuous-time weight dlog w = -gT gN (g^2 / 2) |s_target - s_negative|^2 dtau
// (+ (dgT/dtau)(log p_target - log p_negative) when w varies in time): the divergence terms cancel
// because gT + gN = 1 (checked in test/corrector/fk-cpu.test.ts).
//
// The kernels drop every term that is the same for all particles (they cancel when
// weights are normalised); the host adds them back, in f64, into the normaliser estimate.
import { philox4x32, wordToUnit } from '../rng/philox.ts';
import type { StepRow } from '../solvers/table.ts';

/** Particles per block of the GPU's weight scan (64 invocations x 16). */
export const FK_BLOCK = 1024;

export interface FkReport {
  /** ESS / N after each step, before any resampling (index n: after step n). */
  essFraction: number[];
  /** Steps after which the population was resampled (always includes the last). */
  resampledAfter: number[];
  /**
   * Estimate of log of the integral of the unnormalised tilted law at tMin,
   * log int p(x|c)^gT p(x|neg)^gN dx (0 without guidance), from the products of mean weights.
   */
  logNormaliser: number;
  /** Particles whose weight was non-finite when the population was resampled (they get no copies). */
  nonFiniteDiscarded: number;
}

/** The per-(block) weight statistics the GPU's reduction writes, also built by the CPU. */
export interface BlockStats {
  /** Largest finite log-weight in the block (-1e30 when none). */
  max: number;
  /** Sum of exp(logw - max) over the block's finite weights. */
  sum: number;
  /** Sum of exp(2 (logw - max)). */
  sumSq: number;
  nonFinite: number;
}

/** Where each block's output slots start, and where its first slot falls in its own weight units. */
export interface BlockPlan {
  slotStart: number;
  phase: number;
  spacing: number;
}

/** The uniform offset of systematic resampling after step n (Philox, key (seed, 1): not a particle stream). */
export function resampleUniform(seed: number, step: number, firstParticle: number): number {
  const words = new Uint32Array(4);
  philox4x32(step, firstParticle, 0, 0, seed, 1, words);
  return wordToUnit(words[0]);
}

/** log N(x; 0, prior^2 I) without its constant, which initialConstant holds. */
export function logPriorKernel(sumSq: number, prior: number): number {
  return -sumSq / (2 * prior * prior);
}

/** The constant the initial weight drops: -log of N(.; 0, prior^2 I)'s normaliser. */
export function initialConstant(dim: number, prior: number): number {
  return 0.5 * dim * Math.log(2 * Math.PI * prior * prior);
}

/** The constant a step's increment drops: log of L's normaliser ratio to M's, d log noise - (d/2) log v. */
export function stepConstant(row: StepRow, dim: number): number {
  return dim * Math.log(row.noiseScale) + 0.5 * dim * Math.log(2 * row.backHalfPrecision);
}

/**
 * The increment of step n without its constant: given the move dx = h drift + noise z from x,
 * log q_new - log q_old + |z|^2 / 2 - |x - a (x + dx)|^2 / (2 v). x - a x' is formed as
 * (1 - a) x - a dx, without cancellation.
 */
export function backwardResidual(backShrink: number, x: number, dx: number): number {
  return backShrink * x - (1 - backShrink) * dx;
}

export interface WeightSummary {
  /** Global reference: the largest block max with weight. */
  max: number;
  /** Sum of exp(logw - max) over all particles. */
  total: number;
  ess: number;
  nonFinite: number;
}

/** Combines block statistics (in f64) into the population's total weight and ESS. */
export function summariseBlocks(blocks: readonly BlockStats[]): WeightSummary {
  let max = -Infinity;
  let nonFinite = 0;
  for (const b of blocks) {
    nonFinite += b.nonFinite;
    if (b.sum > 0) max = Math.max(max, b.max);
  }
  if (max === -Infinity) return { max, total: 0, ess: 0, nonFinite };
  let total = 0;
  let totalSq = 0;
  for (const b of blocks) {
    if (!(b.sum > 0)) continue;
    const scale = Math.exp(b.max - max);
    total += b.sum * scale;
    totalSq += b.sumSq * scale * scale;
  }
  return { max, total, ess: (total * total) / totalSq, nonFinite };
}

/**
 * Records step n's weights in the report and says whether to resample now: when the ESS is
 * below threshold x N, and always after the last step. A resampling closes an epoch of the
 * normaliser estimate (its mean weight) and discards the non-finite weights (counted).
 */
export function recordStep(
  report: FkReport,
  summary: WeightSummary,
  n: number,
  steps: number,
  count: number,
  essThreshold: number,
): boolean {
  report.essFraction.push(summary.ess / count);
  if (n < steps - 1 && summary.ess >= essThreshold * count) return false;
  if (!(summary.total > 0)) throw new Error(`fk: every particle's weight is zero or non-finite after step ${n}`);
  report.logNormaliser += summary.max + Math.log(summary.total / count);
  report.nonFiniteDiscarded += summary.nonFinite;
  report.resampledAfter.push(n);
  return true;
}

/**
 * Systematic resampling of N slots over the blocks: slot j sits at (j + u) T / N in the
 * cumulative weight. Per block: the first slot whose position falls in it, and that position
 * and the slot spacing in the block's own units (weights exp(logw - block max)), so that the
 * GPU places slots with its block-local f32 prefix sums while the block-level prefix, where
 * f32 could not place 10^7 slots exactly, is summed here in f64.
 */
export function planSystematic(
  blocks: readonly BlockStats[],
  summary: WeightSummary,
  slots: number,
  u: number,
): BlockPlan[] {
  const { max, total } = summary;
  const spacingGlobal = total / slots;
  const plan: BlockPlan[] = [];
  let before = 0; // cumulative weight of earlier blocks
  for (const b of blocks) {
    const scale = b.sum > 0 ? Math.exp(b.max - max) : 0;
    const slotStart = Math.min(slots, Math.max(0, Math.ceil((before / total) * slots - u)));
    if (scale > 0) {
      const phaseGlobal = Math.max(0, (slotStart + u) * spacingGlobal - before);
      plan.push({ slotStart, phase: phaseGlobal / scale, spacing: Math.min(1e30, spacingGlobal / scale) });
    } else {
      plan.push({ slotStart, phase: 0, spacing: 0 });
    }
    before += b.sum * scale;
  }
  return plan;
}

/** Block statistics of log-weights (the CPU's counterpart of shaders/fk-reduce.wgsl, in f64). */
export function blockStats(logWeights: Float64Array, count: number): BlockStats[] {
  const out: BlockStats[] = [];
  for (let start = 0; start < count; start += FK_BLOCK) {
    const end = Math.min(count, start + FK_BLOCK);
    let max = -1e30;
    let nonFinite = 0;
    for (let i = start; i < end; i++) {
      if (Number.isFinite(logWeights[i])) max = Math.max(max, logWeights[i]);
      else nonFinite++;
    }
    let sum = 0;
    let sumSq = 0;
    for (let i = start; i < end; i++) {
      if (!Number.isFinite(logWeights[i])) continue;
      const w = Math.exp(logWeights[i] - max);
      sum += w;
      sumSq += w * w;
    }
    out.push({ max, sum, sumSq, nonFinite });
  }
  return out;
}

/**
 * Systematic resampling in f64 over all particles at once: ancestor of slot j is the first
 * particle whose cumulative weight exceeds (j + u) T / N. Non-finite weights count as zero.
 */
export function systematicAncestors(logWeights: Float64Array, count: number, u: number): Uint32Array {
  let max = -Infinity;
  for (let i = 0; i < count; i++) if (Number.isFinite(logWeights[i])) max = Math.max(max, logWeights[i]);
  const cumulative = new Float64Array(count);
  let acc = 0;
  for (let i = 0; i < count; i++) {
    if (Number.isFinite(logWeights[i])) acc += Math.exp(logWeights[i] - max);
    cumulative[i] = acc;
  }
  if (!(acc > 0)) throw new Error('fk: every particle has zero or non-finite weight');
  // Rounding may put a position at the very end: it goes to the first particle reaching the total.
  const lastJump = cumulative.indexOf(acc);
  const ancestors = new Uint32Array(count);
  let i = 0;
  for (let j = 0; j < count; j++) {
    const position = ((j + u) / count) * acc;
    while (i < count && !(cumulative[i] > position)) i++;
    ancestors[j] = i < count ? i : lastJump;
  }
  return ancestors;
}
