// Philox4x32-10 counter-based generator, bit-identical to src/rng/philox.ts (see the
// definition at the top of that file). No entry point: the host concatenates this file in
// front of the kernels that draw noise.
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

// The same Box-Muller transform as the CPU, in f32. Two f32-specific remarks:
//  - (an exact rewrite that only keeps precision) the angle 2 pi u is taken as 2 pi (u - 1) when u > 1/2 (same cos and sin; u - 1 is exact
//    in f32 by Sterbenz), so cos/sin see arguments in [-pi, pi], where WGSL states their
//    accuracy;
//  - u = (f32(x) + 0.5) * 2^-32 is never 0; when f32(x) rounds up to 2^32 it is 1.0, giving
//    r = 0 where the f64 r is below 2^-12.
fn philox_unit(x: u32) -> f32 {
  return (f32(x) + 0.5) * 2.3283064365386963e-10; // 2^-32
}

fn philox_box_muller(u_r: f32, u_a: f32) -> vec2<f32> {
  let r = sqrt(-2.0 * log(u_r));
  let turn = select(u_a, u_a - 1.0, u_a > 0.5);
  let angle = 6.283185307179586 * turn;
  return r * vec2<f32>(cos(angle), sin(angle));
}

fn normal4(seed: u32, particle: u32, stream: u32, block: u32) -> vec4<f32> {
  let x = philox4x32(vec4<u32>(particle, stream, block, 0u), vec2<u32>(seed, 0u));
  let z01 = philox_box_muller(philox_unit(x.x), philox_unit(x.y));
  let z23 = philox_box_muller(philox_unit(x.z), philox_unit(x.w));
  return vec4<f32>(z01, z23);
}
