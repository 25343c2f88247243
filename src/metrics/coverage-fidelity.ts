// Coverage and fidelity from exact per-particle log-densities (issue 13; docs/coverage-fidelity.md).
// Pure statistics: the inputs are log q and log p on two sample sets,
//   Q-set: the sampler's particles (equally weighted), with log q (its own law) and log p (target at tMin);
//   P-set: exact target draws at tMin (stratified by component, with weights of mean 1), carried
//          forward for their log q.
// Every estimate is a mean of i.i.d. (per stratum) terms and comes with its Monte Carlo SE.

export interface Estimate {
  value: number;
  se: number;
}

export interface TailDiagnostic {
  /** Share of sum_i |w_i d_i| (d = log p - log q) carried by the top 0.1 % of P-points. */
  topShare: number;
  /** topShare > TAIL_FLAG: the KL(P||Q) error bar rests on a handful of points; do not trust it. */
  flagged: boolean;
}

/** 0.1 % of the points carrying more than 10 % of the absolute mass (100x their share). */
export const TAIL_FLAG = 0.1;

function finiteMask(...arrays: Float64Array[]): boolean[] {
  const n = arrays[0].length;
  return Array.from({ length: n }, (_, i) => arrays.every((a) => Number.isFinite(a[i])));
}

/** KL(Q||P) = E_Q[log q - log p]: mean and SE over the finite Q-particles (non-finite ones counted). */
export function klQP(logq: Float64Array, logp: Float64Array): Estimate & { used: number; nonFinite: number } {
  const ok = finiteMask(logq, logp);
  let n = 0,
    s = 0,
    s2 = 0;
  for (let i = 0; i < ok.length; i++) {
    if (!ok[i]) continue;
    const d = logq[i] - logp[i];
    n++;
    s += d;
    s2 += d * d;
  }
  const mean = s / n;
  const v = n > 1 ? (s2 - n * mean * mean) / (n - 1) : NaN;
  return { value: mean, se: Math.sqrt(Math.max(v, 0) / n), used: n, nonFinite: ok.length - n };
}

/**
 * KL(P||Q) = E_P[log p - log q] from weighted P-points: (1/N) sum_i w_i d_i, with weights of
 * mean 1. With strata (the component each point was drawn from; weights constant within a
 * stratum) the SE is the stratified one, sqrt(sum_k (W_k^2 / n_k) var_k(d)), W_k = n_k w_k / N
 * the stratum's probability; without, sd(w d) / sqrt(N).
 */
export function klPQ(
  logp: Float64Array,
  logq: Float64Array,
  weight: Float64Array,
  strata?: Int32Array,
): Estimate & { tail: TailDiagnostic; nonFinite: number } {
  const N = logp.length;
  const ok = finiteMask(logp, logq);
  let nonFinite = 0;
  const wd: number[] = [];
  let sum = 0;
  for (let i = 0; i < N; i++) {
    if (!ok[i]) {
      nonFinite++;
      continue;
    }
    const v = weight[i] * (logp[i] - logq[i]);
    wd.push(v);
    sum += v;
  }
  const value = sum / wd.length;
  let se: number;
  if (strata) {
    const groups = new Map<number, { w: number; d: number[] }>();
    for (let i = 0; i < N; i++) {
      if (!ok[i]) continue;
      const g = groups.get(strata[i]) ?? { w: weight[i], d: [] };
      g.d.push(logp[i] - logq[i]);
      groups.set(strata[i], g);
    }
    let var_ = 0;
    for (const g of groups.values()) {
      const n = g.d.length;
      if (n < 2) continue;
      const m = g.d.reduce((a, b) => a + b, 0) / n;
      const vk = g.d.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1);
      const Wk = (n * g.w) / wd.length;
      var_ += (Wk * Wk * vk) / n;
    }
    se = Math.sqrt(var_);
  } else {
    const v = wd.reduce((a, b) => a + (b - value) ** 2, 0) / (wd.length - 1);
    se = Math.sqrt(v / wd.length);
  }
  return { value, se, tail: tailDiagnostic(wd), nonFinite };
}

export function tailDiagnostic(terms: number[]): TailDiagnostic {
  const abs = terms.map(Math.abs).sort((a, b) => b - a);
  const total = abs.reduce((a, b) => a + b, 0);
  const top = Math.max(1, Math.ceil(abs.length * 1e-3));
  let s = 0;
  for (let i = 0; i < top; i++) s += abs[i];
  const topShare = total > 0 ? s / total : 0;
  return { topShare, flagged: topShare > TAIL_FLAG };
}

/** How log Z of the tilted law was obtained, and its error (quadrature: an absolute error on log Z, hence on the KL). */
export interface TiltNormaliser {
  /** 'none': no tilted law (a learned negative: its law is the model, not an exact mixture). */
  method: 'quadrature' | 'importance sampling' | 'none';
  logZ: number;
  /** Quadrature: the half-resolution difference (a stated error, not an SE); IS: the SE of log Z (already in the KL's SE). */
  error: number;
  note?: string;
}

/**
 * KL(Q||P_tilt) with log p_tilt = lu - log Z, lu the unnormalised tilted log-density (e.g.
 * (1 + w) log p_c - w log p_neg).
 * - With `logZ` known (quadrature, d <= 2): KL = mean(d) + log Z, d = log q - lu; SE sd(d)/sqrt(n)
 *   (the quadrature error is reported beside it, not in the SE).
 * - Otherwise Z = E_Q[exp(lu - log q)] by importance sampling from Q:
 *   KL = mean(d) + log mean(exp(-d)); SE by the delta method: the influence of point i is
 *   d_i + exp(-d_i) / mean(exp(-d)). Its log Z estimate is returned as `logZ`, with SE `logZSe`.
 */
export function klTilted(
  logq: Float64Array,
  logTiltUnnorm: Float64Array,
  logZ?: number,
): Estimate & { logZ: number; logZSe: number } {
  const ok = finiteMask(logq, logTiltUnnorm);
  const d: number[] = [];
  for (let i = 0; i < ok.length; i++) if (ok[i]) d.push(logq[i] - logTiltUnnorm[i]);
  const n = d.length;
  const mean = d.reduce((a, b) => a + b, 0) / n;
  if (logZ !== undefined) {
    const v = d.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
    return { value: mean + logZ, se: Math.sqrt(v / n), logZ, logZSe: 0 };
  }
  const shift = Math.min(...d);
  const e = d.map((v) => Math.exp(-(v - shift)));
  const me = e.reduce((a, b) => a + b, 0) / n;
  const value = mean + Math.log(me) - shift;
  const inf = d.map((v, i) => v + e[i] / me);
  const mi = inf.reduce((a, b) => a + b, 0) / n;
  const vi = inf.reduce((a, b) => a + (b - mi) ** 2, 0) / (n - 1);
  const ve = e.reduce((a, b) => a + (b - me) ** 2, 0) / (n - 1);
  // SE of log Z by the delta method: sd(exp(-d)) / (mean(exp(-d)) sqrt(n)).
  return { value, se: Math.sqrt(vi / n), logZ: Math.log(me) - shift, logZSe: Math.sqrt(ve / n) / me };
}

export interface PrCurve {
  lambda: number[];
  precision: number[];
  recall: number[];
  /** max F_1/8 over the curve (precision-like), as the binned prd() in src/metrics/statistics.ts. */
  precisionSummary: number;
  /** max F_8 over the curve (recall-like). */
  recallSummary: number;
}

/**
 * The PRD curve (Sajjadi et al. 2018, in the form of Simon et al. 2019) from exact density
 * ratios: for lambda = tan(angle),
 *   precision alpha(lambda) = int min(lambda p, q) = E_Q[min(lambda p/q, 1)]
 *   recall    beta(lambda)  = int min(p, q/lambda) = E_P[min(1, q/(lambda p))]  (weighted P-set)
 */
export function prCurve(
  qSet: { logq: Float64Array; logp: Float64Array },
  pSet: { logq: Float64Array; logp: Float64Array; weight: Float64Array },
  angles = 201,
): PrCurve {
  const qr = [] as number[]; // log p - log q on the Q-set
  for (let i = 0; i < qSet.logq.length; i++) {
    const v = qSet.logp[i] - qSet.logq[i];
    if (Number.isFinite(v)) qr.push(v);
  }
  const pr = [] as [number, number][]; // (log q - log p, weight) on the P-set
  for (let i = 0; i < pSet.logq.length; i++) {
    const v = pSet.logq[i] - pSet.logp[i];
    if (Number.isFinite(v)) pr.push([v, pSet.weight[i]]);
  }
  const fb = (a: number, b: number, beta: number) =>
    a > 0 && b > 0 ? ((1 + beta * beta) * a * b) / (beta * beta * a + b) : 0;
  const out: PrCurve = { lambda: [], precision: [], recall: [], precisionSummary: 0, recallSummary: 0 };
  for (let i = 1; i < angles - 1; i++) {
    const lambda = Math.tan((i / (angles - 1)) * (Math.PI / 2));
    const ll = Math.log(lambda);
    let a = 0;
    for (const v of qr) a += Math.exp(Math.min(ll + v, 0));
    a /= qr.length;
    let b = 0;
    for (const [v, w] of pr) b += w * Math.exp(Math.min(v - ll, 0));
    b /= pr.length;
    out.lambda.push(lambda);
    out.precision.push(a);
    out.recall.push(b);
    out.recallSummary = Math.max(out.recallSummary, fb(a, b, 8));
    out.precisionSummary = Math.max(out.precisionSummary, fb(a, b, 1 / 8));
  }
  return out;
}
