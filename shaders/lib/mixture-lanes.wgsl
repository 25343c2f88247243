// The mixture math every step kernel shares, written once for the kernel's lane type `lanes`
// (its header declares it: f32 for one particle per invocation, vec4<f32> for four in
// step-gauss4): a diagonal Gaussian entry's noised log-density and score, and a group's online
// log-sum-exp over its entries (its rule: shaders/lib/log-sum-exp.wgsl). The including kernel
// declares xs: array<lanes, DIM> (the point), factor_at(i, staged) (the entry's factors) and
// LOG_ZERO; shaders/lib/mixture.wgsl adds the kinds only the scalar kernel has (boxes, full
// covariances) and the divergence pieces.

#include "lib/log-sum-exp"

// The entry just evaluated: its score g_k and (LOG_DENSITY) lap_k + |g_k|^2.
var<private> comp_score: array<lanes, DIM>;
var<private> comp_div: lanes;

// log p_t(xs | diagonal Gaussian entry at `base`), its score in comp_score (and comp_div).
// Factors: [logNorm, 1/sigma, invVar[DIM], shift[DIM]].
fn gaussian_diag_log_density(base: u32, staged: bool) -> lanes {
  var logp = lanes(factor_at(base, staged));
  if (LOG_DENSITY) { comp_div = lanes(0.0); }
  for (var j = 0u; j < DIM; j++) {
    let r = xs[j] - factor_at(base + 2u + DIM + j, staged);
    let iv = factor_at(base + 2u + j, staged);
    let q = r * iv;
    logp -= 0.5 * r * q;
    comp_score[j] = -q;
    if (LOG_DENSITY) { comp_div += q * q - iv; }
  }
  return logp;
}

// One group's online log-sum-exp (shaders/lib/log-sum-exp.wgsl) over its entries, with
//   dacc (LOG_DENSITY) = sum_k exp(v_k - max) (lap_k + |g_k|^2).
struct GroupSum {
  max: lanes,
  sum: lanes,
  acc: array<lanes, DIM>,
  dacc: lanes,
}

fn group_reset(g: ptr<private, GroupSum>) {
  (*g).max = lanes(LOG_ZERO);
  (*g).sum = lanes(0.0);
  for (var j = 0u; j < DIM; j++) { (*g).acc[j] = lanes(0.0); }
  (*g).dacc = lanes(0.0);
}

// Adds the entry just evaluated at v = log w + log p (lse_scale's rule).
fn group_add(g: ptr<private, GroupSum>, v: lanes) {
  let f = lse_scale((*g).max, v);
  (*g).sum = (*g).sum * f.keep + f.add;
  for (var j = 0u; j < DIM; j++) { (*g).acc[j] = (*g).acc[j] * f.keep + comp_score[j] * f.add; }
  if (LOG_DENSITY) { (*g).dacc = (*g).dacc * f.keep + comp_div * f.add; }
  (*g).max = max((*g).max, v);
}

// log sum_k w_k p_k(xs) of the group.
fn group_log_density(g: ptr<private, GroupSum>) -> lanes {
  return (*g).max + log((*g).sum);
}
