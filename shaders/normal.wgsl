// Normal CDF helpers in f32, in log space, for the uniform-box scores. WGSL has no
// erf, erfc, log1p or expm1, so they are built here.

const SQRT1_2: f32 = 0.70710678118654752;
const LOG_SQRT_2PI: f32 = 0.91893853320467274;
const SQRT_2_OVER_PI: f32 = 0.79788456080286536;

// log erfcx(x) = log(exp(x^2) erfc(x)) for x >= 0, from the Chebyshev-fitted form
// erfc(x) = t exp(-x^2 + P(t)), t = 1 / (1 + x/2) (Numerical Recipes' erfcc; relative error
// below 1.2e-7 for all x >= 0). In log form it never over- or underflows.
fn log_erfcx_pos(x: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * x);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return log(t) + p;
}

// log Phi(z) for z <= 0: log(erfc(-z/sqrt2) / 2) = log(erfcx(-z/sqrt2)) - z^2/2 - log 2.
fn log_phi_cdf_neg(z: f32) -> f32 {
  return log_erfcx_pos(-z * SQRT1_2) - 0.5 * z * z - 0.69314718055994531;
}

// Phi(z) for z <= 0.
fn phi_cdf_neg(z: f32) -> f32 {
  return exp(log_phi_cdf_neg(z));
}

// log(1 + y), accurate for small y (Goldberg's trick: the rounding of 1 + y is undone).
fn log1p_f32(y: f32) -> f32 {
  let u = 1.0 + y;
  if (u == 1.0) { return y; }
  return log(u) * (y / (u - 1.0));
}

// exp(x) - 1, accurate for small x (Kahan's trick).
fn expm1_f32(x: f32) -> f32 {
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  return um1 * x / log(u);
}

// log(Phi(a) - Phi(b)) for a >= b, and R = (phi(a) - phi(b)) / (Phi(a) - Phi(b)), the box
// score in units of 1/sigma. Mirrors logDiffPhi in src/model/special.ts; the tail case is
// written so that the squares a^2, b^2 never meet in a subtraction (they differ by 2 w c).
struct LogDiff { log: f32, dlog: f32 }

// Narrow boxes (w max(1, |c|) < NARROW_BOX): the integral of phi over [c - w/2, c + w/2] is
// w phi(c) corr(c, w) with corr's Taylor series in w (the first omitted term is below
// (0.1)^6 / 322560 relative). Returns (corr, d corr/dc, d^2 corr/dc^2).
const NARROW_BOX: f32 = 0.1;
fn narrow_box_corr(c: f32, w: f32) -> vec3<f32> {
  let w2 = w * w;
  let c2 = c * c;
  return vec3<f32>(
    1.0 + (c2 - 1.0) * w2 / 24.0 + (c2 * c2 - 6.0 * c2 + 3.0) * w2 * w2 / 1920.0,
    2.0 * c * w2 / 24.0 + (4.0 * c2 * c - 12.0 * c) * w2 * w2 / 1920.0,
    2.0 * w2 / 24.0 + (12.0 * c2 - 12.0) * w2 * w2 / 1920.0,
  );
}

fn log_diff_phi(a_in: f32, b_in: f32) -> LogDiff {
  let w = a_in - b_in;
  let c_in = 0.5 * (a_in + b_in);
  if (w * max(1.0, abs(c_in)) < NARROW_BOX) {
    let k = narrow_box_corr(c_in, w);
    return LogDiff(log(w) - 0.5 * c_in * c_in - LOG_SQRT_2PI + log(k.x), -c_in + k.y / k.x);
  }
  // Reflect the upper tail onto the lower one: Phi(a) - Phi(b) = Phi(-b) - Phi(-a), and R flips sign.
  var a = a_in;
  var b = b_in;
  var sign = 1.0;
  if (b_in >= 0.0) {
    a = -b_in;
    b = -a_in;
    sign = -1.0;
  }
  let c = 0.5 * (a + b);
  if (a <= 0.0) {
    // Lower tail, b < a <= 0. Phi(b)/Phi(a) = exp(w c + log E(b) - log E(a)) with E(z) = erfcx(-z/sqrt2),
    // phi(b)/phi(a) = exp(w c), and phi(a)/Phi(a) = sqrt(2/pi) / E(a).
    let la = log_erfcx_pos(-a * SQRT1_2);
    let lb = log_erfcx_pos(-b * SQRT1_2);
    let ratio_log = w * c + lb - la; // log(Phi(b)/Phi(a)) < 0
    let den = -expm1_f32(ratio_log); // 1 - Phi(b)/Phi(a)
    let num = -expm1_f32(w * c); // 1 - phi(b)/phi(a)
    let logv = la - 0.5 * a * a - 0.69314718055994531 + log(den);
    let r = SQRT_2_OVER_PI * exp(-la) * num / den;
    return LogDiff(logv, sign * r);
  }
  // Straddles 0: 1 - Phi(b) - Q(a), both terms at most 1/2.
  let tails = phi_cdf_neg(b) + phi_cdf_neg(-a);
  let logv = log1p_f32(-tails);
  // phi(a) - phi(b) = phi(b) expm1(-w c) = -phi(a) expm1(w c): no cancellation when a is
  // near -b; the form is chosen so that expm1's argument is <= 0 and cannot overflow.
  var dphi: f32;
  if (c >= 0.0) {
    dphi = exp(-0.5 * b * b) * expm1_f32(-w * c);
  } else {
    dphi = -exp(-0.5 * a * a) * expm1_f32(w * c);
  }
  let r = dphi / (exp(logv) * 2.5066282746310002);
  return LogDiff(logv, sign * r);
}
