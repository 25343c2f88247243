// Philox4x32-10 counter-based generator, the WGSL twin of src/rng/philox.ts (definition at the
// top of that file): philox4x32 gives bit-identical words; normal4 gives the f32 value of the
// same normals (within ~1e-6 * r of the f64 ones; see test/support/philox-check.ts).
// No entry point: the host concatenates this file in front of the kernels that draw noise.
// Public: philox4x32(ctr, key) and normal4(seed, particle, stream, block); names starting
// with philox_ / PHILOX_ are internal.
//
//   key = (seed, 0), counter = (particle, stream, block, 0);
//   stream 0 = initial noise x_T, stream n+1 = Euler-Maruyama noise of step n;
//   coordinate i of a particle uses block i / 4, lane i % 4.
//   u_j = (x_j + 0.5) * 2^-32; z0 = r cos(2 pi u1), z1 = r sin(2 pi u1), r = sqrt(-2 ln u0);
//   z2, z3 likewise from (u2, u3).

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// High 32 bits of the 64-bit product a * b. WGSL has no 64-bit integers or mulhi, so the
// product is assembled from four 16x16 -> 32-bit partial products (none can overflow).
fn philox_mulhi(a: u32, b: u32) -> u32 {
  let a_lo = a & 0xFFFFu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xFFFFu;
  let b_hi = b >> 16u;
  let ll = a_lo * b_lo;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let hh = a_hi * b_hi;
  // Carry out of bit 31: the sum of the three terms at bits 16..47 is below 3 * 2^16.
  let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
  return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox_round(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  let hi0 = philox_mulhi(PHILOX_M0, ctr.x);
  let lo0 = PHILOX_M0 * ctr.x; // u32 multiplication wraps: the low word
  let hi1 = philox_mulhi(PHILOX_M1, ctr.z);
  let lo1 = PHILOX_M1 * ctr.z;
  return vec4<u32>(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
}

fn philox4x32(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  c = philox_round(c, k);
  for (var r = 1u; r < 10u; r++) {
    k += vec2<u32>(PHILOX_W0, PHILOX_W1);
    c = philox_round(c, k);
  }
  return c;
}

// ---- Box-Muller in f32 -------------------------------------------------------------------
// Same transform as the CPU (z = sqrt(-2 ln u0) (cos, sin)(2 pi u1)), but ln, sin and cos are
// evaluated here with short polynomials in basic f32 arithmetic instead of the builtins:
// WGSL only promises an absolute error of 2^-11 for sin/cos and 2^-21 for log on [0.5, 2],
// and SwiftShader (Chromium's WebGPU without a GPU) really is ~2e-4 off for cos. With the
// code below the normals agree with the f64 ones to about 1e-6 relative to r on every driver.
// Each word x is also read as 1 - u = (~x + 0.5) 2^-32, which f32 holds to full relative
// precision when u is near 1, where (x + 0.5) 2^-32 would lose the low bits.

const PHILOX_TWO_POW_M32: f32 = 2.3283064365386963e-10; // 2^-32 (exact in f32)
const PHILOX_LN2: f32 = 0.6931471805599453;
const PHILOX_TWO_PI: f32 = 6.283185307179586;

// 2 atanh(s) = ln((1 + s) / (1 - s)) for |s| <= 0.172: odd series to s^9 (truncation error
// s^10 / 11 < 3e-9 relative).
fn philox_two_atanh(s: f32) -> f32 {
  let s2 = s * s;
  return 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
}

// ln u for u = (x + 0.5) 2^-32, as ln(1 + y) = 2 atanh(y / (2 + y)) with |y| <= 0.42:
//  - u near 1 (w = 1 - u <= 1 - sqrt(1/2)): y = -w, from w computed via ~x;
//  - otherwise u = m 2^e with m in [sqrt(1/2), sqrt(2)) (frexp), y = m - 1 (exact).
fn philox_ln_unit(x: u32) -> f32 {
  let u = (f32(x) + 0.5) * PHILOX_TWO_POW_M32;
  let w = (f32(~x) + 0.5) * PHILOX_TWO_POW_M32;
  let parts = frexp(u); // u = fract * 2^exp, fract in [0.5, 1)
  let small_m = parts.fract < 0.70710678;
  let m = select(parts.fract, 2.0 * parts.fract, small_m);
  let e = f32(parts.exp) - select(0.0, 1.0, small_m);
  let near_one = w <= 0.29289322;
  let y = select(m - 1.0, -w, near_one);
  return select(e * PHILOX_LN2, 0.0, near_one) + philox_two_atanh(y / (2.0 + y));
}

// (cos, sin)(2 pi u) for u = (x + 0.5) 2^-32. The turn t = u, or u - 1 = -(~x + 0.5) 2^-32
// when x >= 2^31 (same angle mod 2 pi, t in [-1/2, 1/2], no rounding near u = 1), is split
// exactly into quarter turns q and f = t - q / 4 in [-1/8, 1/8], so the polynomials only
// see |2 pi f| <= pi / 4 (Taylor to x^9 and x^10: error < 2e-9).
fn philox_cos_sin_turn(x: u32) -> vec2<f32> {
  let t = select((f32(x) + 0.5) * PHILOX_TWO_POW_M32, -(f32(~x) + 0.5) * PHILOX_TWO_POW_M32, x >= 0x80000000u);
  let q = round(4.0 * t);
  let a = PHILOX_TWO_PI * (t - 0.25 * q);
  let a2 = a * a;
  let s = a * (1.0 + a2 * (-1.0 / 6.0 + a2 * (1.0 / 120.0 + a2 * (-1.0 / 5040.0 + a2 * (1.0 / 362880.0)))));
  let c = 1.0 + a2 * (-0.5 + a2 * (1.0 / 24.0 + a2 * (-1.0 / 720.0 + a2 * (1.0 / 40320.0 + a2 * (-1.0 / 3628800.0)))));
  // Rotate (c, s) by q quarter turns; q in -2..2, so q & 3 is the quadrant.
  switch (u32(i32(q)) & 3u) {
    case 1u: { return vec2<f32>(-s, c); }
    case 2u: { return vec2<f32>(-c, -s); }
    case 3u: { return vec2<f32>(s, -c); }
    default: { return vec2<f32>(c, s); }
  }
}

fn philox_box_muller(x_r: u32, x_a: u32) -> vec2<f32> {
  let r = sqrt(-2.0 * philox_ln_unit(x_r));
  return r * philox_cos_sin_turn(x_a);
}

fn normal4(seed: u32, particle: u32, stream: u32, block: u32) -> vec4<f32> {
  let x = philox4x32(vec4<u32>(particle, stream, block, 0u), vec2<u32>(seed, 0u));
  return vec4<f32>(philox_box_muller(x.x, x.y), philox_box_muller(x.z, x.w));
}
