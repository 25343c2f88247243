// The exact (quadrature) and sampled statistics of claim 5 (src/reproduce/cross-entropy.ts), in 1-D:
//  - per noise level t, for a classifier p_hat: the conditional KL E_{x~p_t} KL(p_t(.|x) || p_hat_t(.|x))
//    and the guidance MSE E_{x~p_t} |grad log p_hat_t(c|x) - grad log p_t(c|x)|^2 (also over
//    x ~ p_t(x|c)), as trapezoid sums on a fine grid of the exact mixture density (the integrands are
//    smooth and Gaussian-tailed, so the sums converge fast; the error is taken by halving the spacing);
//  - the integrated (Girsanov) bound of the Euler-Maruyama chain: two EM chains from the same start
//    whose drifts differ by h g^2 w Delta have Gaussian transitions of variance g^2 |h| each, so the
//    KL between their laws is sum_n |h_n| g^2(t_n) w^2 E|Delta(x, t_n)|^2 / 2 (chain rule), and by
//    data processing it bounds the KL of the final samples; E is over the exact chain's marginals,
//    here p_t(x|c) (their difference is the sampler's discretisation, measured separately);
//  - the binned KL(P || Q) of the target P against samples of Q, on bins of equal P-mass;
//  - the mutation twin's "rippled" classifier: the exact log-odds plus A sin(x / A + phase), whose
//    cross-entropy excess falls like A^2 while its gradient error does not fall (the paper's
//    counterexample: without smoothness, cross-entropy does not control guidance).
import type { ExactClassifier, TrainedClassifier } from '../model/classifier/classifier.ts';
import { MixtureEvaluator, type MixtureModel } from '../model/mixture.ts';
import { processAt } from '../processes/process.ts';
import type { ProcessSpec } from '../experiment/types.ts';
import type { StepTable } from '../solvers/table.ts';
import { normalCdf } from '../targets/law1d.ts';
import { normalUpperQuantile } from '../metrics/statistics.ts';

/** Grid points per unit of the narrowest noised component's sd, and its reach in sds. */
const POINTS_PER_SD = 40;
const REACH_SD = 12;

/** x-range and spacing covering every noised component of a 1-D model at (alpha, sigma^2). */
function grid(model: MixtureModel, alpha: number, sigma2: number, refine: number) {
  let lo = Infinity;
  let hi = -Infinity;
  let sdMin = Infinity;
  for (const c of model.components) {
    if (c.kind !== 'gaussian') throw new Error('cross-entropy: the quadrature takes Gaussian components');
    const sd = Math.sqrt(alpha * alpha * c.lambda[0] + sigma2);
    lo = Math.min(lo, alpha * c.mean[0] - REACH_SD * sd);
    hi = Math.max(hi, alpha * c.mean[0] + REACH_SD * sd);
    sdMin = Math.min(sdMin, sd);
  }
  const n = Math.ceil(((hi - lo) / sdMin) * POINTS_PER_SD * refine);
  return { lo, h: (hi - lo) / n, n };
}

export interface LevelExact {
  /** E_{x~p_t} KL(p_t(.|x) || p_hat_t(.|x)). */
  kl: number;
  /** E_{x~p_t} |grad log p_hat_t(c|x) - grad log p_t(c|x)|^2. */
  mse: number;
  /** The same over x ~ p_t(x|c). */
  mseTarget: number;
}

/**
 * The level's KL and guidance MSE of `clf` against the exact classifier at t, by the trapezoid rule
 * (refine: spacing divided by this, for the halving check).
 */
export function levelQuadrature(
  model: MixtureModel,
  process: ProcessSpec,
  exact: ExactClassifier,
  clf: TrainedClassifier,
  t: number,
  target: number,
  refine = 1,
): LevelExact {
  const { alpha, sigma2 } = processAt(process, t);
  const ev = new MixtureEvaluator(model);
  ev.setTime(alpha, sigma2);
  const { lo, h, n } = grid(model, alpha, sigma2, refine);
  const K = model.classes.length;
  const x = new Float64Array(1);
  const g = new Float64Array(1);
  const gHat = new Float64Array(1);
  const le = new Float64Array(K);
  let z = 0;
  let zc = 0;
  let kl = 0;
  let mse = 0;
  let mseT = 0;
  for (let i = 0; i <= n; i++) {
    x[0] = lo + i * h;
    ev.evaluateComponents(x);
    const trap = i === 0 || i === n ? 0.5 : 1;
    const pu = trap * Math.exp(ev.groupLogDensity(model.unconditional));
    le.set(exact.logProb(x, t));
    const lh = clf.logProb(x, t);
    let k = 0;
    for (let c = 0; c < K; c++) k += Math.exp(le[c]) * (le[c] - lh[c]);
    exact.gradLogProb(x, t, target, g);
    clf.gradLogProb(x, t, target, gHat);
    const e2 = (gHat[0] - g[0]) ** 2;
    const pc = pu * Math.exp(le[target]); // p_t(x) p_t(c|x) = p(c) p_t(x|c)
    z += pu;
    zc += pc;
    kl += pu * k;
    mse += pu * e2;
    mseT += pc * e2;
  }
  return { kl: kl / z, mse: mse / z, mseTarget: mseT / zc };
}

/**
 * The EM chain's integrated bound sum_n |h_n| g^2(t_n) w^2 E_{p_{t_n}(x|c)} |Delta|^2 / 2 over the
 * steps' start times (where EM evaluates the score), 1-stage tables only.
 */
export function integratedBound(
  table: StepTable,
  model: MixtureModel,
  process: ProcessSpec,
  exact: ExactClassifier,
  clf: TrainedClassifier,
  w: number,
  target: number,
): number {
  if (table.stages !== 1) throw new Error('integratedBound: a one-stage (Euler-Maruyama) table');
  let b = 0;
  for (let n = 0; n < table.steps; n++) {
    const row = table.rows[n];
    const g2 = processAt(process, row.t).g2;
    const e = levelQuadrature(model, process, exact, clf, row.t, target);
    b += 0.5 * Math.abs(row.h) * g2 * w * w * e.mseTarget;
  }
  return b;
}

export interface BinnedKl {
  /** KL(P || Q_hat) on the bins, minus the plug-in's first-order bias `correction`. */
  kl: number;
  se: number;
  correction: number;
  bins: number;
  n: number;
  nonFinite: number;
}

/**
 * KL(P || Q) of a normal target P = N(mean, sd^2) against the first `count` samples of Q, on
 * `bins` bins of equal P-mass (bin b holds the P-quantiles (b/B, (b+1)/B]). Counts get +1/2 (so the
 * log is finite); the plug-in's bias sum_b P_b (1 - Q_b) / (2 N Q_b) is subtracted; its standard
 * error is the delta method's (1/N)(sum_b P_b^2 / Q_b - 1), which vanishes at Q = P, plus the
 * second-order (B - 1) / (2 N^2) of 2 N KL ~ chi^2_{B-1}.
 */
export function binnedKlNormal(x: ArrayLike<number>, count: number, mean: number, sd: number, bins: number): BinnedKl {
  const counts = new Float64Array(bins);
  let nonFinite = 0;
  for (let i = 0; i < count; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    counts[Math.min(bins - 1, Math.floor(normalCdf((v - mean) / sd) * bins))]++;
  }
  const N = count - nonFinite;
  const P = 1 / bins;
  let kl = 0;
  let correction = 0;
  let a2 = 0;
  for (const c of counts) {
    const q = (c + 0.5) / (N + bins / 2);
    kl += P * Math.log(P / q);
    correction += (P * (1 - q)) / (2 * N * q);
    a2 += (P * P) / q;
  }
  const se = Math.sqrt(Math.max(a2 - 1, 0) / N + (bins - 1) / (2 * N * N));
  return { kl: kl - correction, se, correction, bins, n: N, nonFinite };
}

/** The lower edge of each equal-mass bin of N(mean, sd^2) (for the figures and the tests). */
export function equalMassEdges(mean: number, sd: number, bins: number): number[] {
  return Array.from({ length: bins - 1 }, (_, b) => mean - sd * normalUpperQuantile((b + 1) / bins));
}

/**
 * The mutation twin's classifier (two classes): log-odds l(x) + A sin(x / A + phase), l the exact
 * log-odds of class `target` at t. Its KL to the exact classifier is O(A^2); its log-odds gradient
 * is off by cos(x / A + phase), which does not shrink with A.
 */
export class RippledClassifier implements TrainedClassifier {
  readonly classes: string[];
  readonly amplitude: number;
  readonly phase: number;
  private readonly target: number;
  private readonly exact: ExactClassifier;
  private readonly out = new Float64Array(2);
  constructor(exact: ExactClassifier, amplitude: number, phase: number, target: number) {
    if (exact.classes.length !== 2) throw new Error('RippledClassifier: two classes');
    this.exact = exact;
    this.classes = exact.classes;
    this.amplitude = amplitude;
    this.phase = phase;
    this.target = target;
  }

  private logOdds(x: Float64Array, t: number): number {
    const le = this.exact.logProb(x, t);
    const a = this.amplitude;
    return le[this.target] - le[1 - this.target] + a * Math.sin(x[0] / a + this.phase);
  }

  logProb(x: Float64Array, t: number): Float64Array {
    const l = this.logOdds(x, t);
    // log sigma(l) and log sigma(-l), stably.
    const lp = -Math.log1p(Math.exp(-Math.abs(l))) + Math.min(l, 0);
    this.out[this.target] = lp;
    this.out[1 - this.target] = lp - l;
    return this.out;
  }

  gradLogProb(x: Float64Array, t: number, c: number, out: Float64Array): void {
    const l = this.logOdds(x, t);
    const pExact = Math.exp(this.exact.logProb(x, t)[this.target]);
    // grad log p(target|x) = (1 - p) l'(x): recover the exact l' from the exact gradient.
    this.exact.gradLogProb(x, t, this.target, out);
    const dl = out[0] / (1 - pExact) + Math.cos(x[0] / this.amplitude + this.phase);
    const p = 1 / (1 + Math.exp(-l));
    out[0] = c === this.target ? (1 - p) * dl : -p * dl;
  }
}
