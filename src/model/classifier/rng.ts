// Deterministic random numbers for the classifier experiments (training data, network
// initialisation, mini-batch order), from the same Philox4x32-10 as the samplers
// (src/rng/philox.ts) but under a different key, so that no draw here can coincide with a
// sampler's draw:
//
//   sampler (src/cpu, shaders):  key (seed, 0)          counter (particle, stream, block, 0)
//   classifiers (this file):     key (seed, CLF_KEY)    counter (index, stream, block, purpose)
//
// `stream` names one data set or one generator (see STREAMS below); `purpose` separates the
// draws of one sample (class choice, x_0, eps). Words become uniforms u = (x + 0.5) 2^-32 and
// Box-Muller normals exactly as in src/rng/philox.ts.
import { philox4x32, wordToUnit } from '../../rng/philox.ts';

/** The second key word of every classifier draw ("clf" in ASCII); the samplers use 0. */
export const CLF_KEY = 0x00636c66;

/** Stream numbers (counter word 1). Data sets use 2 * level + split, between-level test sets 2^30 + level; generators live above 2^31. */
export const STREAMS = {
  train: (level: number) => 2 * level,
  test: (level: number) => 2 * level + 1,
  init: (level: number) => 0x80000000 + 2 * level,
  shuffle: (level: number) => 0x80000001 + 2 * level,
  /** Test sets halfway between level and level + 1. */
  between: (level: number) => 0x40000000 + level,
} as const;

const words = new Uint32Array(4);
const TWO_PI = 2 * Math.PI;

/** The 4 words of counter (index, stream, block, purpose) under key (seed, CLF_KEY). */
export function clfWords(
  seed: number,
  index: number,
  stream: number,
  block: number,
  purpose: number,
  out: Uint32Array,
): void {
  philox4x32(index, stream, block, purpose, seed, CLF_KEY, out);
}

/** 4 uniforms in (0, 1) for (index, stream, block, purpose). */
export function clfUniform4(
  seed: number,
  index: number,
  stream: number,
  block: number,
  purpose: number,
  out: Float64Array,
): void {
  clfWords(seed, index, stream, block, purpose, words);
  for (let j = 0; j < 4; j++) out[j] = wordToUnit(words[j]);
}

const u4 = new Float64Array(4);

/**
 * out[0..n) from blocks 0, 1, ... of (index, stream, purpose): each block's 4 uniforms become
 * 4 values through `lanes`, and the last block's surplus is dropped.
 */
function fillFromBlocks(
  seed: number,
  index: number,
  stream: number,
  purpose: number,
  n: number,
  out: Float64Array,
  lanes: (u: Float64Array) => ArrayLike<number>,
): void {
  for (let block = 0, i = 0; i < n; block++, i += 4) {
    clfUniform4(seed, index, stream, block, purpose, u4);
    const z = lanes(u4);
    for (let lane = 0; lane < 4 && i + lane < n; lane++) out[i + lane] = z[lane];
  }
}

/** Box-Muller: 4 standard normals from 4 uniforms. */
function boxMuller4(u: Float64Array): number[] {
  const r01 = Math.sqrt(-2 * Math.log(u[0]));
  const r23 = Math.sqrt(-2 * Math.log(u[2]));
  return [
    r01 * Math.cos(TWO_PI * u[1]),
    r01 * Math.sin(TWO_PI * u[1]),
    r23 * Math.cos(TWO_PI * u[3]),
    r23 * Math.sin(TWO_PI * u[3]),
  ];
}

/** n standard normals for (index, stream, purpose): block b gives coordinates 4b..4b+3 (Box-Muller). */
export function clfNormals(
  seed: number,
  index: number,
  stream: number,
  purpose: number,
  n: number,
  out: Float64Array,
): void {
  fillFromBlocks(seed, index, stream, purpose, n, out, boxMuller4);
}

/** n uniforms in (0, 1) for (index, stream, purpose). */
export function clfUniforms(
  seed: number,
  index: number,
  stream: number,
  purpose: number,
  n: number,
  out: Float64Array,
): void {
  fillFromBlocks(seed, index, stream, purpose, n, out, (u) => u);
}

/**
 * A sequential generator on one stream: draw k reads counter (floor(k / 4), stream, 0, 0),
 * word k mod 4. For network initialisation and shuffling, where draws are consumed in order.
 */
export class ClfStream {
  private readonly seed: number;
  private readonly stream: number;
  private counter = 0;
  private lane = 4;
  private readonly buf = new Float64Array(4);

  constructor(seed: number, stream: number) {
    this.seed = seed >>> 0;
    this.stream = stream >>> 0;
  }

  /** A uniform in (0, 1). */
  uniform(): number {
    if (this.lane === 4) {
      clfUniform4(this.seed, this.counter++, this.stream, 0, 0, this.buf);
      this.lane = 0;
    }
    return this.buf[this.lane++];
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.uniform() * n));
  }

  /** Fisher-Yates shuffle in place. */
  shuffle(a: Int32Array | Uint32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
  }
}
