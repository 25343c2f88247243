// The mixture math of the step kernel, written once: per component its noised log-density and
// score and, when LOG_DENSITY, the pieces of the divergence of the group score,
//   div s = sum_k r_k (lap_k + |g_k|^2) - |sum_k r_k g_k|^2,
// with lap_k the Laplacian of log p_k (Gaussian: tr(-C_k^-1); box: the second derivative of
// log(Phi(a) - Phi(b)) per coordinate) and g_k its score. The caller declares xs (the point),
// factor_at(i, staged) (the component factor table's reader), statics (eigenbases) and the header
// constants.

#include "lib/mixture-lanes"

// comp_score, comp_div (the last entry's score and lap + |g|^2), gaussian_diag_log_density and the
// group sums: shaders/lib/mixture-lanes.wgsl, here with lanes = f32.
var<private> eig: array<f32, DIM>;

// One box coordinate's share of lap_k + |g_k|^2, in units of 1/sigma^2: f'' + f'^2 for
// f(c) = log(Phi(c + w/2) - Phi(c - w/2)), a = c + w/2 >= b = c - w/2. With
// pa = phi(a)/(Phi(a) - Phi(b)), pb = phi(b)/(Phi(a) - Phi(b)) it is -(a pa - b pb) (the f'^2
// of f'' = -(a pa - b pb) - (pa - pb)^2 cancels exactly). log_diff_phi's branches keep the far
// tails in log space.
fn box_div_term(a_in: f32, b_in: f32) -> f32 {
  let w = a_in - b_in;
  let c_in = 0.5 * (a_in + b_in);
  if (w * max(1.0, abs(c_in)) < NARROW_BOX) {
    // f = log w - c^2/2 + log corr + const (log_diff_phi's Taylor series): f'' = -1 + (log corr)''.
    let k = narrow_box_corr(c_in, w);
    let d1 = -c_in + k.y / k.x;
    return -1.0 + (k.z * k.x - k.y * k.y) / (k.x * k.x) + d1 * d1;
  }
  // -(a pa - b pb) is unchanged by the reflection x -> -x: use the lower tail.
  var a = a_in;
  var b = b_in;
  if (b_in >= 0.0) {
    a = -b_in;
    b = -a_in;
  }
  let c = 0.5 * (a + b);
  var pa: f32;
  var pb: f32;
  if (a <= 0.0) {
    // pa = sqrt(2/pi) / (E(a) (1 - Phi(b)/Phi(a))), E(z) = erfcx(-z/sqrt2); phi(b)/phi(a) = exp(w c).
    let la = log_erfcx_pos(-a * SQRT1_2);
    let lb = log_erfcx_pos(-b * SQRT1_2);
    let den = -expm1_f32(w * c + lb - la);
    pa = SQRT_2_OVER_PI * exp(-la) / den;
    pb = pa * exp(w * c);
  } else {
    let logv = log1p_f32(-(phi_cdf_neg(b) + phi_cdf_neg(-a)));
    pa = exp(-0.5 * a * a - LOG_SQRT_2PI - logv);
    pb = exp(-0.5 * b * b - LOG_SQRT_2PI - logv);
  }
  return b * pb - a * pa;
}

// log p_t(xs | component) with its score in comp_score (and, when LOG_DENSITY, comp_div).
fn component_log_density(c: u32, kind: u32, base: u32, staged: bool) -> f32 {
  var logp = factor_at(base, staged);
  let inv_sigma = factor_at(base + 1u, staged);
  if (LOG_DENSITY) { comp_div = 0.0; }
  if (HAS_UNIFORM && kind == KIND_UNIFORM) {
    for (var j = 0u; j < DIM; j++) {
      let a = (xs[j] - factor_at(base + 2u + j, staged)) * inv_sigma;
      let b = (xs[j] - factor_at(base + 2u + DIM + j, staged)) * inv_sigma;
      let d = log_diff_phi(a, b);
      // p_j = (Phi(a) - Phi(b)) / ((a - b) sigma); logNorm holds -DIM log sigma.
      logp += d.log - log(a - b);
      comp_score[j] = d.dlog * inv_sigma;
      if (LOG_DENSITY) {
        comp_div += box_div_term(a, b) * inv_sigma * inv_sigma;
      }
    }
    return logp;
  }
  if (!HAS_FULL || kind == KIND_GAUSSIAN) { return gaussian_diag_log_density(base, staged); }
  // Full covariance: in the eigenbasis U the noised covariance is diagonal (trace and |g|^2
  // are the same in either basis).
  let u0 = 2u * DIM + c * DIM * DIM;
  for (var j = 0u; j < DIM; j++) {
    var y = 0.0;
    for (var i = 0u; i < DIM; i++) {
      y += statics[u0 + i * DIM + j] * (xs[i] - factor_at(base + 2u + DIM + i, staged));
    }
    let iv = factor_at(base + 2u + j, staged);
    let q = y * iv;
    logp -= 0.5 * y * q;
    eig[j] = -q;
    if (LOG_DENSITY) { comp_div += q * q - iv; }
  }
  for (var i = 0u; i < DIM; i++) {
    var s = 0.0;
    for (var j = 0u; j < DIM; j++) { s += statics[u0 + i * DIM + j] * eig[j]; }
    comp_score[i] = s;
  }
  return logp;
}
