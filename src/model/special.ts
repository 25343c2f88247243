// Log-space normal CDF helpers in f64. erfc and erfcx come from stdlib; what no
// library offers is log(Phi(a) - Phi(b)) that stays finite and accurate far
// outside the box (40 sd and beyond), which the uniform-box scores need.
import erfc from '@stdlib/math-base-special-erfc';
import erfcx from '@stdlib/math-base-special-erfcx';

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log phi(z), the standard normal log-density. */
export function logPhiDensity(z: number): number {
  return -0.5 * z * z - LOG_SQRT_2PI;
}

/** log Phi(z), accurate in both tails. */
export function logPhi(z: number): number {
  if (z > 0) return Math.log1p(-0.5 * erfc(z * SQRT1_2));
  // Phi(z) = erfcx(-z/sqrt2) exp(-z^2/2) / 2 keeps the lower tail finite.
  return Math.log(0.5 * erfcx(-z * SQRT1_2)) - 0.5 * z * z;
}

/** log(1 - exp(d)) for d < 0 (Maechler's switch between the two forms). */
export function log1mexp(d: number): number {
  return d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d));
}

// Below this |width| * max(1, |centre|) the difference of CDFs is evaluated by its
// Taylor series around the centre: there the terms beyond w^4 are < 1e-16 relative.
const SERIES_LIMIT = 1e-3;

/**
 * The series factor of a narrow interval, int_{c-w/2}^{c+w/2} phi = w phi(c) corr with
 *   corr = 1 + (c^2-1) w^2/24 + (c^4-6c^2+3) w^4/1920 + ...,
 * and its first two derivatives in c (at fixed w).
 */
function narrowSeries(w: number, c: number): { corr: number; dcorr: number; d2corr: number } {
  const w2 = w * w;
  const c2 = c * c;
  return {
    corr: 1 + ((c2 - 1) * w2) / 24 + ((c2 * c2 - 6 * c2 + 3) * w2 * w2) / 1920,
    dcorr: (2 * c * w2) / 24 + ((4 * c2 * c - 12 * c) * w2 * w2) / 1920,
    d2corr: (2 * w2) / 24 + ((12 * c2 - 12) * w2 * w2) / 1920,
  };
}

/**
 * log(Phi(a) - Phi(b)) and d/dc of it, for a >= b, where c = (a + b) / 2.
 * The derivative is (phi(a) - phi(b)) / (Phi(a) - Phi(b)), the box score in units of 1/sigma.
 */
export function logDiffPhi(a: number, b: number): { log: number; dlog: number } {
  const w = a - b;
  const c = 0.5 * (a + b);
  if (w * Math.max(1, Math.abs(c)) < SERIES_LIMIT) {
    const { corr, dcorr } = narrowSeries(w, c);
    return { log: Math.log(w) + logPhiDensity(c) + Math.log(corr), dlog: -c + dcorr / corr };
  }
  if (b >= 0) {
    // Upper tail: Phi(a) - Phi(b) = Phi(-b) - Phi(-a), and the derivative flips sign.
    const r = lowerTailDiff(-b, -a);
    return { log: r.log, dlog: -r.dlog };
  }
  if (a <= 0) return lowerTailDiff(a, b);
  // Straddles 0: 1 - Phi(b) - Q(a), both terms at most 1/2.
  const log = Math.log1p(-0.5 * (erfc(-b * SQRT1_2) + erfc(a * SQRT1_2)));
  // phi(a) - phi(b) = phi(b) expm1(-w c) = -phi(a) expm1(w c), with expm1's argument <= 0.
  const dphi =
    c >= 0 ? Math.exp(logPhiDensity(b)) * Math.expm1(-w * c) : -Math.exp(logPhiDensity(a)) * Math.expm1(w * c);
  return { log, dlog: dphi / Math.exp(log) };
}

/**
 * b < a <= 0. With E(z) = erfcx(-z / sqrt2), Phi(z) = E(z) exp(-z^2/2) / 2, so
 *   Phi(b)/Phi(a) = exp(w c) E(b)/E(a),   phi(b)/phi(a) = exp(w c),   phi(a)/Phi(a) = sqrt(2/pi) / E(a),
 * where w = a - b, c = (a + b)/2: the squares of a and b never meet in a subtraction,
 * so narrow intervals far in the tail keep full relative precision (shaders/normal.wgsl
 * evaluates the same formulas in f32).
 */
function lowerTailDiff(a: number, b: number): { log: number; dlog: number } {
  const w = a - b;
  const c = 0.5 * (a + b);
  const ea = erfcx(-a * SQRT1_2);
  const eb = erfcx(-b * SQRT1_2);
  const ratioLog = w * c + Math.log(eb / ea); // log(Phi(b)/Phi(a)) < 0
  const log = Math.log(0.5 * ea) - 0.5 * a * a + log1mexp(ratioLog);
  const num = -Math.expm1(w * c); // 1 - phi(b)/phi(a)
  const den = -Math.expm1(ratioLog); // 1 - Phi(b)/Phi(a)
  return { log, dlog: (SQRT_2_OVER_PI / ea) * (num / den) };
}

/**
 * d^2/dc^2 log(Phi(a) - Phi(b)) for a >= b at fixed width (c = (a + b) / 2): the box's
 * score derivative per coordinate in units of 1/sigma^2 (the divergence of the log-density
 * path). With D = Phi(a) - Phi(b) and M = (-a phi(a) + b phi(b)) / D it is M - dlog^2; M is
 * formed by the same tail-safe ratios as logDiffPhi. Far outside the box M and dlog^2 are
 * ~z^2 and their difference ~1, so ~log10(z^2) digits are lost (3 at 40 sd; fine in f64).
 */
export function logDiffPhiSecond(a: number, b: number): number {
  const w = a - b;
  const c = 0.5 * (a + b);
  if (w * Math.max(1, Math.abs(c)) < SERIES_LIMIT) {
    const { corr, dcorr, d2corr } = narrowSeries(w, c);
    return -1 + (d2corr * corr - dcorr * dcorr) / (corr * corr);
  }
  // The upper tail mirrors the lower one: c -> -c leaves the second derivative unchanged.
  if (b >= 0) return lowerTailSecond(-b, -a);
  if (a <= 0) return lowerTailSecond(a, b);
  const { log, dlog } = logDiffPhi(a, b);
  const m = (-a * Math.exp(logPhiDensity(a)) + b * Math.exp(logPhiDensity(b))) / Math.exp(log);
  return m - dlog * dlog;
}

/** b < a <= 0: M = phi(a)/D (-a + b phi(b)/phi(a)), phi(a)/D = sqrt(2/pi) / (E(a) (1 - Phi(b)/Phi(a))). */
function lowerTailSecond(a: number, b: number): number {
  const w = a - b;
  const c = 0.5 * (a + b);
  const ea = erfcx(-a * SQRT1_2);
  const eb = erfcx(-b * SQRT1_2);
  const den = -Math.expm1(w * c + Math.log(eb / ea));
  const phiOverD = SQRT_2_OVER_PI / (ea * den);
  const dlog = phiOverD * -Math.expm1(w * c);
  const m = phiOverD * (-a + b * Math.exp(w * c));
  return m - dlog * dlog;
}
