// The CPU generator (src/rng/philox.ts): Random123 known answers, the exact 32x32 high word,
// the addressing of fillNormals, and a coarse check that the normals are standard normal.

import { describe, expect, it } from 'vitest';
import { fillNormals, mulhi32, normal4, philox4x32, wordToUnit } from '../../src/rng/philox.ts';

const hex = (a: ArrayLike<number>): string => Array.from(a, (v) => v.toString(16).padStart(8, '0')).join(' ');

// Reference implementation with BigInt, written straight from the Random123 definition.
function philoxBigInt(ctr: number[], key: number[]): number[] {
  const mask = 0xffffffffn;
  let [c0, c1, c2, c3] = ctr.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9n) & mask;
      k1 = (k1 + 0xbb67ae85n) & mask;
    }
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & mask, p1 & mask, ((p0 >> 32n) ^ c3 ^ k1) & mask, p0 & mask];
  }
  return [c0, c1, c2, c3].map(Number);
}

describe('philox4x32-10 (CPU)', () => {
  it('matches the Random123 known-answer vectors (tests/kat_vectors)', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect(hex(out)).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(hex(out)).toBe('408f276d 41c83b0e a20bc7c6 6d5451fd');
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect(hex(out)).toBe('d16cfe09 94fdcceb 5001e420 24126ea1');
  });

  it('mulhi32 is the exact high word of the 64-bit product', () => {
    const edges = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xd2511f53, 0xcd9e8d57];
    const values = [...edges];
    const w = new Uint32Array(4);
    for (let i = 0; i < 500; i++) {
      philox4x32(i, 7, 0, 0, 99, 0, w);
      values.push(...w);
    }
    for (const a of values) {
      for (const b of edges) {
        expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
        expect(mulhi32(b, a)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
      }
    }
  });

  it('agrees with a BigInt reference on 2000 pseudo-random counters and keys', () => {
    const w = new Uint32Array(4);
    const out = new Uint32Array(4);
    for (let i = 0; i < 2000; i++) {
      philox4x32(i, 0xabc, 0, 0, 0x1234, 0x5678, w);
      const ctr = [w[0], w[1], w[2], w[3]];
      const key = [w[1] ^ w[3], w[0] ^ w[2]];
      philox4x32(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
      expect(Array.from(out)).toEqual(philoxBigInt(ctr, key));
    }
  });

  it('maps words into the open interval (0, 1)', () => {
    expect(wordToUnit(0)).toBe(2 ** -33);
    expect(wordToUnit(0xffffffff)).toBe(1 - 2 ** -33);
  });

  it('fillNormals uses block floor(i/4), lane i%4, counter (particle, stream, block, 0), key (seed, 0)', () => {
    const dim = 10;
    const got = new Float64Array(dim);
    fillNormals(17, 123456, 5, dim, got);
    const block = new Float64Array(4);
    for (let i = 0; i < dim; i++) {
      normal4(17, 123456, 5, Math.floor(i / 4), block);
      expect(got[i]).toBe(block[i % 4]);
    }
    // normal4 is the Box-Muller transform of exactly these words.
    const w = new Uint32Array(4);
    philox4x32(123456, 5, 0, 0, 17, 0, w);
    const u = Array.from(w, wordToUnit);
    const r = Math.sqrt(-2 * Math.log(u[0]));
    expect(got[0]).toBe(r * Math.cos(2 * Math.PI * u[1]));
    expect(got[1]).toBe(r * Math.sin(2 * Math.PI * u[1]));
  });

  it('gives standard normals (moments of 400k draws) and distinct streams', () => {
    const n = 100_000;
    const z = new Float64Array(4);
    let s1 = 0,
      s2 = 0,
      s4 = 0,
      cross = 0;
    const other = new Float64Array(4);
    for (let p = 0; p < n; p++) {
      normal4(1, p, 0, 0, z);
      normal4(1, p, 1, 0, other);
      for (let j = 0; j < 4; j++) {
        s1 += z[j];
        s2 += z[j] * z[j];
        s4 += z[j] ** 4;
        cross += z[j] * other[j];
      }
    }
    const m = 4 * n;
    // Standard errors: mean 1/sqrt(m) = 0.0016, E z^2 sqrt(2/m) = 0.0022, E z^4 sqrt(96/m) = 0.015.
    expect(Math.abs(s1 / m)).toBeLessThan(0.01);
    expect(Math.abs(s2 / m - 1)).toBeLessThan(0.012);
    expect(Math.abs(s4 / m - 3)).toBeLessThan(0.08);
    expect(Math.abs(cross / m)).toBeLessThan(0.01);
  });
});
