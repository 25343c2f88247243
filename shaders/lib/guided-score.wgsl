// The guided score from the two groups' scores s_t (target) and s_n (negative): cfg and its
// variants (rescale, power-law, apg, CFG-Zero*, tangential), the same formulas as
// src/guidance/variants.ts. The including kernel declares s_t, s_n, s_guided, momentum (apg's
// state), xs, the StepRow struct and the VARIANT_* constants (its header, src/gpu/kernel.ts).

// cfgzero's and tangential's replacement of s_n, as (coefficient on s_t, coefficient on s_n)
// (src/guidance/variants.ts, negativeFit, same formulas).
fn negative_fit() -> vec2<f32> {
  var a = 0.0;
  var b = 0.0;
  var c = 0.0;
  for (var j = 0u; j < DIM; j++) {
    a += s_t[j] * s_t[j];
    b += s_t[j] * s_n[j];
    c += s_n[j] * s_n[j];
  }
  if (VARIANT == VARIANT_CFGZERO) {
    if (c > 0.0) { return vec2<f32>(0.0, b / c); }
    return vec2<f32>(0.0, 0.0);
  }
  let half = 0.5 * (a - c);
  let lambda = 0.5 * (a + c) + sqrt(half * half + b * b);
  var u = vec2<f32>(lambda - c, b);
  let v = vec2<f32>(b, lambda - a);
  if (dot(v, v) > dot(u, u)) { u = v; }
  let u2 = dot(u, u);
  if (!(lambda > 0.0) || !(u2 > 0.0)) { return vec2<f32>(0.0, 0.0); }
  let k = (u.x * b + u.y * c) / (lambda * u2);
  return k * u;
}

// s_guided = the guided score from s_t, s_n (src/guidance/variants.ts, same formulas).
// cfgpp (CFG++) runs as VARIANT_LINEAR: its DDIM rule is in the row's coefficients, whose gammas
// do not sum to 1 (so -gammaNegative is a w only for the non-linear variants below).
fn combine_scores(row: StepRow) {
  for (var j = 0u; j < DIM; j++) { s_guided[j] = row.gammaTarget * s_t[j] + row.gammaNegative * s_n[j]; }
  if (VARIANT == VARIANT_LINEAR || row.gammaNegative == 0.0) { return; }
  let w = -row.gammaNegative;
  if (VARIANT == VARIANT_CFGZERO || VARIANT == VARIANT_TANGENTIAL) {
    let f = negative_fit();
    for (var j = 0u; j < DIM; j++) {
      s_guided[j] = row.gammaTarget * s_t[j] + row.gammaNegative * (f.x * s_t[j] + f.y * s_n[j]);
    }
    return;
  }
  if (VARIANT == VARIANT_RESCALE) {
    var t2 = 0.0;
    var c2 = 0.0;
    for (var j = 0u; j < DIM; j++) {
      t2 += s_t[j] * s_t[j];
      c2 += s_guided[j] * s_guided[j];
    }
    if (c2 == 0.0) { return; }
    let f = VARIANT_PHI * sqrt(t2 / c2) + 1.0 - VARIANT_PHI;
    for (var j = 0u; j < DIM; j++) { s_guided[j] *= f; }
    return;
  }
  if (VARIANT == VARIANT_POWERLAW) {
    var d2 = 0.0;
    for (var j = 0u; j < DIM; j++) { d2 += (s_t[j] - s_n[j]) * (s_t[j] - s_n[j]); }
    var strength = w;
    if (d2 > 0.0) { strength = w * pow(row.sigma2 * d2, 0.5 * VARIANT_ALPHA); }
    for (var j = 0u; j < DIM; j++) { s_guided[j] = s_t[j] + strength * (s_t[j] - s_n[j]); }
    return;
  }
  // apg, in denoised space; at alpha = 0 plain cfg is kept.
  if (row.alpha <= 0.0) { return; }
  var m2 = 0.0;
  for (var j = 0u; j < DIM; j++) {
    momentum[j] = row.sigma2 * (s_t[j] - s_n[j]) / row.alpha + VARIANT_BETA * momentum[j];
    m2 += momentum[j] * momentum[j];
  }
  var cap = 1.0;
  if (VARIANT_R > 0.0 && m2 > VARIANT_R * VARIANT_R) { cap = VARIANT_R * inverseSqrt(m2); }
  var dot = 0.0;
  var dc2 = 0.0;
  for (var j = 0u; j < DIM; j++) {
    let dc = xs[j] + row.sigma2 * s_t[j];
    dot += momentum[j] * dc;
    dc2 += dc * dc;
  }
  var par = 0.0;
  if (dc2 > 0.0) { par = dot / dc2; }
  let scale = row.alpha * w * cap / row.sigma2;
  for (var j = 0u; j < DIM; j++) {
    let m_par = par * (xs[j] + row.sigma2 * s_t[j]);
    s_guided[j] = s_t[j] + scale * (momentum[j] - m_par + VARIANT_ETA * m_par);
  }
}
