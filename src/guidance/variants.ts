// Non-linear guidance variants, as functions of the target and negative scores at one
// point. Each reduces to cfg, s = s_c + w (s_c - s_n), at its identity setting. The
// WGSL kernel (shaders/step.wgsl, combine_scores) implements the same formulas in f32.
//
//   rescale  (Lin et al. 2024, guidance rescale): s = s_cfg (phi rms(s_c)/rms(s_cfg) + 1 - phi).
//            The reference code uses the per-sample std; that is 0 in d = 1, so the root mean
//            square over coordinates is used (noise predictions have mean ~ 0, where they agree).
//   apg      (Sadat et al. 2024, adaptive projected guidance), in denoised space D = (x + sigma^2 s)/alpha:
//            Delta = D_c - D_n; with momentum m <- Delta + beta m; capped to norm r; split into the
//            parts parallel and orthogonal to D_c; D = D_c + w (m_orth + eta m_par). The momentum is
//            updated at every score evaluation (every stage of a Runge-Kutta step).
//   powerlaw s = s_c + w (sigma |s_c - s_n|)^alpha (s_c - s_n): the guidance strength grows or
//            shrinks with the size of the guidance direction in noise-prediction units.
//   cfgzero  (Fan et al. 2025, CFG-Zero*): s = (1 + w) s_c - w a* s_n, a* = <s_c, s_n> / |s_n|^2, the
//            scale that best fits s_n to s_c; zero-init (x held for the first steps) is in the rows.
//   tangential (Kwon et al. 2025, TCFG): s_n -> P s_n, its projection on the top right singular
//            vector v1 of the 2 x d matrix M = [s_c; s_n]. v1 = M^T u / |M^T u| with u the top
//            eigenvector of the 2 x 2 Gram matrix G = M M^T, so P s_n = (u1 b + u2 c) M^T u / (lambda |u|^2)
//            with G = [[a, b], [b, c]] and lambda its top eigenvalue.
// Both are invariant under a common scaling of s_c and s_n, so they are the same on scores and
// on noise predictions (-sigma s).
//
// cfgpp (Chung et al. 2024, CFG++) is not a score combination but a discrete DDIM rule; see
// cfgppCoefficients below. Being linear in x, s_c and s_n, it is carried entirely by the step
// table's coefficients, and its scores combine linearly (combinesLinearly).
import type { GuidanceVariant } from '../experiment/types.ts';

/**
 * Whether the guided score is the plain gammaTarget s_c + gammaNegative s_n of the step row
 * (no non-linear correction): linear cfg, and cfgpp, whose rule lives in the row's coefficients.
 * The GPU kernels treat these alike (VARIANT_LINEAR; the gauss4 fast path is open to both).
 */
export function combinesLinearly(
  variant: GuidanceVariant,
): variant is Extract<GuidanceVariant, { kind: 'linear' } | { kind: 'cfgpp' }> {
  return variant.kind === 'linear' || variant.kind === 'cfgpp';
}

/** The row coefficients of one CFG++ step (src/solvers/table.ts's StepRow fields). */
export interface CfgppCoefficients {
  cx: number;
  cs: number;
  cMean: number;
  gammaTarget: number;
  gammaNegative: number;
}

/**
 * CFG++ (Chung et al. 2024, "CFG++: manifold-constrained classifier-free guidance"), DDIM form.
 * With s_u the negative's score (the unconditional law by default), s_c the target's, and
 * s_lambda = s_u + lambda (s_c - s_u), one step t_n -> t_{n+1} (time runs backwards) is
 *   x0hat = (x + sigma_n^2 s_lambda) / alpha_n,  eps_u = -sigma_n s_u,
 *   x_{n+1} = alpha_{n+1} x0hat + sigma_{n+1} eps_u
 *           = r (x + sigma_n^2 s_lambda) - sigma_{n+1} sigma_n s_u,     r = alpha_{n+1} / alpha_n:
 * the guided x0hat, renoised with the negative's noise estimate. It is linear in x, s_c and s_u,
 * so with the euler tableau (x_{n+1} = x_n + h u) it is the row u = cx x + cs s + cMean mean with
 * s = gammaTarget s_c + gammaNegative s_u, u = (x_{n+1} - x_n) / h:
 *   cx = (r - 1) / h,  cs = 1,  gammaTarget = r sigma_n^2 lambda / h,
 *   gammaNegative = (r sigma_n^2 (1 - lambda) - sigma_{n+1} sigma_n) / h,  cMean = 0.
 * At alpha_n = 0 (flow at t = 1) x0hat is the posterior mean, which there is the data mean, so
 * the lambda-mixed x0hat is lambda m_c + (1 - lambda) m_u and eps_u = x / sigma_n exactly:
 *   cx = (sigma_{n+1} / sigma_n - 1) / h,  cs = 0,  gammaTarget = lambda,
 *   gammaNegative = 1 - lambda,  cMean = alpha_{n+1} / h    (the gammas then weigh the means).
 * Unlike every other guidance the gammas do not sum to 1 and -gammaNegative is not a w.
 *
 * There is no ODE limit: compared with DDIM on s_u, each step moves x by
 * alpha_{n+1} lambda (x0hat_c - x0hat_u) = r lambda sigma_n^2 (s_c - s_u), which is O(1) rather
 * than O(h), so the guidance effect grows with the number of steps (until x0hat_c ~ x0hat_u,
 * where p_t(c | x) ~ 1) and a result holds for its step count and grid only.
 */
export function cfgppCoefficients(
  p0: { alpha: number; sigma2: number },
  p1: { alpha: number; sigma2: number },
  h: number,
  lambda: number,
): CfgppCoefficients {
  const s0 = Math.sqrt(p0.sigma2);
  const s1 = Math.sqrt(p1.sigma2);
  if (p0.alpha > 0) {
    const r = p1.alpha / p0.alpha;
    return {
      cx: (r - 1) / h,
      cs: 1,
      cMean: 0,
      gammaTarget: (r * p0.sigma2 * lambda) / h,
      gammaNegative: (r * p0.sigma2 * (1 - lambda) - s1 * s0) / h,
    };
  }
  return { cx: (s1 / s0 - 1) / h, cs: 0, cMean: p1.alpha / h, gammaTarget: lambda, gammaNegative: 1 - lambda };
}

/**
 * The negative score as cfgzero and tangential replace it, written f.onTarget s_c + f.onNegative s_n:
 * cfgzero a* s_n; tangential P s_n (see the header). Zero where the scores vanish.
 */
export function negativeFit(
  kind: 'cfgzero' | 'tangential',
  sT: ArrayLike<number>,
  sN: ArrayLike<number>,
): { onTarget: number; onNegative: number } {
  let a = 0;
  let b = 0;
  let c = 0;
  for (let i = 0; i < sT.length; i++) {
    a += sT[i] * sT[i];
    b += sT[i] * sN[i];
    c += sN[i] * sN[i];
  }
  if (kind === 'cfgzero') return { onTarget: 0, onNegative: c > 0 ? b / c : 0 };
  const half = 0.5 * (a - c);
  const lambda = 0.5 * (a + c) + Math.sqrt(half * half + b * b);
  // Two expressions of the top eigenvector of G; the longer is the well-conditioned one.
  let [u1, u2] = [lambda - c, b];
  const [v1, v2] = [b, lambda - a];
  if (v1 * v1 + v2 * v2 > u1 * u1 + u2 * u2) [u1, u2] = [v1, v2];
  const u2norm = u1 * u1 + u2 * u2;
  if (!(lambda > 0) || !(u2norm > 0)) return { onTarget: 0, onNegative: 0 };
  const k = (u1 * b + u2 * c) / (lambda * u2norm);
  return { onTarget: k * u1, onNegative: k * u2 };
}

export interface VariantRow {
  alpha: number;
  sigma2: number;
  gammaTarget: number;
  gammaNegative: number;
}

/**
 * out = the guided score from s_c (sT) and s_n (sN) at x. `momentum` is the particle's APG
 * state (length dim; updated in place), null for the other variants.
 */
export function combineScores(
  variant: GuidanceVariant,
  x: ArrayLike<number>,
  sT: Float64Array,
  sN: Float64Array,
  row: VariantRow,
  momentum: Float64Array | null,
  out: Float64Array,
): void {
  const d = sT.length;
  const { gammaTarget: gt, gammaNegative: gn } = row;
  for (let i = 0; i < d; i++) out[i] = gt * sT[i] + gn * sN[i];
  if (combinesLinearly(variant) || gn === 0) return;
  const w = -gn; // cfg: gammaNegative = -w
  if (variant.kind === 'cfgzero' || variant.kind === 'tangential') {
    const f = negativeFit(variant.kind, sT, sN);
    for (let i = 0; i < d; i++) out[i] = gt * sT[i] + gn * (f.onTarget * sT[i] + f.onNegative * sN[i]);
    return;
  }
  if (variant.kind === 'rescale') {
    let target2 = 0;
    let cfg2 = 0;
    for (let i = 0; i < d; i++) {
      target2 += sT[i] * sT[i];
      cfg2 += out[i] * out[i];
    }
    if (cfg2 === 0) return;
    const f = variant.phi * Math.sqrt(target2 / cfg2) + 1 - variant.phi;
    for (let i = 0; i < d; i++) out[i] *= f;
    return;
  }
  if (variant.kind === 'powerlaw') {
    let delta2 = 0;
    for (let i = 0; i < d; i++) delta2 += (sT[i] - sN[i]) ** 2;
    const strength = delta2 > 0 ? w * Math.pow(row.sigma2 * delta2, 0.5 * variant.alpha) : w;
    for (let i = 0; i < d; i++) out[i] = sT[i] + strength * (sT[i] - sN[i]);
    return;
  }
  // apg: needs alpha > 0 (D is defined through 1/alpha); at alpha = 0 plain cfg is kept.
  if (row.alpha <= 0) return;
  const m = momentum!;
  let m2 = 0;
  for (let i = 0; i < d; i++) {
    const deltaD = (row.sigma2 * (sT[i] - sN[i])) / row.alpha;
    m[i] = deltaD + variant.beta * m[i];
    m2 += m[i] * m[i];
  }
  const cap = variant.r !== null && m2 > variant.r * variant.r ? variant.r / Math.sqrt(m2) : 1;
  // Parallel part along D_c, using alpha D_c = x + sigma^2 s_c (the direction is scale-free).
  let dot = 0;
  let dc2 = 0;
  for (let i = 0; i < d; i++) {
    const dc = x[i] + row.sigma2 * sT[i];
    dot += m[i] * dc;
    dc2 += dc * dc;
  }
  const par = dc2 > 0 ? dot / dc2 : 0;
  const scale = (row.alpha * w * cap) / row.sigma2; // s = s_c + (alpha w / sigma^2)(m_orth + eta m_par)
  for (let i = 0; i < d; i++) {
    const mPar = par * (x[i] + row.sigma2 * sT[i]);
    const mOrth = m[i] - mPar;
    out[i] = sT[i] + scale * (mOrth + variant.eta * mPar);
  }
}
