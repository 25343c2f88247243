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
import type { GuidanceVariant } from '../spec/types.ts';

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
  if (variant.kind === 'linear' || gn === 0) return;
  const w = -gn; // cfg: gammaNegative = -w
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
