// Counter-based random numbers shared bit-for-bit by the CPU (this file) and the GPU
// (shaders/philox.wgsl). Definition (the code below and the WGSL implement exactly this):
//
//   Generator: Philox4x32-10 of Salmon et al. (SC'11), as in Random123:
//     multipliers M0 = 0xD2511F53, M1 = 0xCD9E8D57; Weyl key bumps W0 = 0x9E3779B9, W1 = 0xBB67AE85.
//     One round maps counter (c0,c1,c2,c3) with key (k0,k1) to
//       (hi(M1*c2) ^ c1 ^ k0,  lo(M1*c2),  hi(M0*c0) ^ c3 ^ k1,  lo(M0*c0))
//     where hi/lo are the high and low 32-bit words of the 64-bit product.
//     Ten rounds; the key is bumped (k0 += W0, k1 += W1, mod 2^32) between rounds.
//     Checked against the Random123 known-answer vectors (test/rng/philox.test.ts).
//
//   Addressing (SPEC.md "Run": keyed by seed, particle index and draw index):
//     key     = (seed, 0)
//     counter = (particle, stream, block, 0)
//     stream 0 is the initial noise x_T; stream n+1 is the Euler-Maruyama noise of step n.
//     Coordinate i of a particle's draw uses block floor(i / 4), lane i % 4.
//
//   Floats: the 4 output words x_j become u_j = (x_j + 0.5) * 2^-32, strictly inside (0, 1)
//   (exact in f64). Box-Muller on the pairs (u0, u1) and (u2, u3):
//     z0 = r cos(2 pi u1), z1 = r sin(2 pi u1), r = sqrt(-2 ln u0); z2, z3 likewise from (u2, u3).
//
// No BigInt in the hot path: the 32x32 -> 64-bit product is split into 16-bit halves so that
// every intermediate stays an exact double below 2^53.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_POW_M32 = 2 ** -32;
const TWO_PI = 2 * Math.PI;

/**
 * High 32 bits of the product a * b of two uint32 values, exact.
 * a * (b >> 16) and a * (b & 0xffff) are below 2^48, so they are exact doubles; the carry from
 * the low part is added before the final shift (floor is safe: dropping the fraction below
 * 2^-16 of the low part cannot change floor(x / 2^16) of an integer x).
 */
export function mulhi32(a: number, b: number): number {
  const lowPart = a * (b & 0xffff); // < 2^48
  const highPart = a * (b >>> 16); // < 2^48
  const t = highPart + Math.floor(lowPart / 65536); // < 2^49, exact
  return Math.floor(t / 65536) >>> 0;
}

/**
 * Philox4x32-10 of counter (c0..c3) under key (k0, k1); the 4 output words go to out[0..3].
 * All arguments are treated as uint32 (taken mod 2^32).
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  c0 >>>= 0;
  c1 >>>= 0;
  c2 >>>= 0;
  c3 >>>= 0;
  k0 >>>= 0;
  k1 >>>= 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// Scratch words for normal4; module-level so the hot path allocates nothing.
const words = new Uint32Array(4);

/** The 4 raw words for (seed, particle, stream, block) under the addressing above. */
export function philoxWords(seed: number, particle: number, stream: number, block: number, out: Uint32Array): void {
  philox4x32(particle, stream, block, 0, seed, 0, out);
}

/** uint32 word -> u = (x + 0.5) * 2^-32 in (0, 1), exact in f64. */
export function wordToUnit(x: number): number {
  return ((x >>> 0) + 0.5) * TWO_POW_M32;
}

/** 4 standard normals (f64) for (seed, particle, stream, block) into out[0..3]. */
export function normal4(seed: number, particle: number, stream: number, block: number, out: Float64Array): void {
  philox4x32(particle, stream, block, 0, seed, 0, words);
  const r01 = Math.sqrt(-2 * Math.log(wordToUnit(words[0])));
  const a01 = TWO_PI * wordToUnit(words[1]);
  const r23 = Math.sqrt(-2 * Math.log(wordToUnit(words[2])));
  const a23 = TWO_PI * wordToUnit(words[3]);
  out[0] = r01 * Math.cos(a01);
  out[1] = r01 * Math.sin(a01);
  out[2] = r23 * Math.cos(a23);
  out[3] = r23 * Math.sin(a23);
}

const block4 = new Float64Array(4);

/**
 * Coordinates 0..dim-1 of one particle's draw from `stream` into out[0..dim-1]
 * (coordinate i = lane i % 4 of block floor(i / 4)).
 */
export function fillNormals(seed: number, particle: number, stream: number, dim: number, out: Float64Array): void {
  for (let block = 0, i = 0; i < dim; block++, i += 4) {
    normal4(seed, particle, stream, block, block4);
    const n = Math.min(4, dim - i);
    for (let lane = 0; lane < n; lane++) out[i + lane] = block4[lane];
  }
}
