// A mergeable quantile sketch with a proven bound: a histogram whose buckets are the f64
// values sharing their sign, exponent and top SKETCH_MANTISSA_BITS mantissa bits. A value's
// bucket is read off its bits (no logarithm, no rounding), so counts are exact integers,
// merging is adding counts, and the sketch of a union is the same whatever the chunking or
// the order of merges: shards merged give bit-identical quantiles to one run.
//
// Bound (docs/sharding.md): the bucket holding the exact order statistic x_(r) is found
// exactly (rank error 0); the value returned is the bucket's midpoint, clamped to the exact
// [min, max], so |x^_(r) - x_(r)| <= SKETCH_RELATIVE_ERROR * |x_(r)| for normal numbers
// (|x| >= 2^-1022; below that buckets are 2^-1032 wide and the error is at most 2^-1033). The type-7 quantile
// interpolates two order statistics, so its error is <= SKETCH_RELATIVE_ERROR times the
// larger of their magnitudes. Memory: one block of 2^M counts per (sign, binade) that occurs,
// at most 2 x 2047 blocks per coordinate whatever N (a Gaussian sample of 10^8: about 60).

/** Mantissa bits kept in the bucket key: 2^10 buckets per binade. */
export const SKETCH_MANTISSA_BITS = 10;
/** Half a bucket's relative width: 2^-(M + 1). */
export const SKETCH_RELATIVE_ERROR = 2 ** -(SKETCH_MANTISSA_BITS + 1);

const M = SKETCH_MANTISSA_BITS;
const BLOCK = 1 << M;
const SHIFT = 20 - M; // the f64's high word holds sign (1), exponent (11) and 20 mantissa bits
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** The bucket key of a finite value: ordered like the values; 0 holds +-0. */
export function bucketKey(v: number): number {
  f64[0] = v;
  const mag = (u32[1] & 0x7fffffff) >>> SHIFT;
  return v < 0 ? -(mag + 1) : mag;
}

/** The smallest magnitude in a bucket of magnitude index `mag`. */
function magnitudeLow(mag: number): number {
  u32[1] = mag << SHIFT;
  u32[0] = 0;
  return f64[0];
}

/** The bucket's midpoint (an infinite upper edge: its lower edge; clamped by the caller). */
export function bucketMidpoint(key: number): number {
  const mag = key < 0 ? -key - 1 : key;
  const lo = magnitudeLow(mag);
  const hi = magnitudeLow(mag + 1);
  const mid = Number.isFinite(hi) ? lo + (hi - lo) / 2 : lo;
  return key < 0 ? -mid : mid;
}

export class QuantileSketch {
  /** block id (key >> M, floor) -> 2^M counts. */
  private readonly blocks = new Map<number, Float64Array>();
  private lastId = NaN;
  private lastBlock: Float64Array | null = null;
  count = 0;
  min = Infinity;
  max = -Infinity;

  /** Adds one finite value. */
  add(v: number): void {
    const key = bucketKey(v);
    const id = key >> M;
    let block = this.lastBlock;
    if (id !== this.lastId) {
      block = this.blocks.get(id) ?? null;
      if (!block) {
        block = new Float64Array(BLOCK);
        this.blocks.set(id, block);
      }
      this.lastId = id;
      this.lastBlock = block;
    }
    block![key & (BLOCK - 1)]++;
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  private addCount(key: number, n: number): void {
    const id = key >> M;
    let block = this.blocks.get(id);
    if (!block) {
      block = new Float64Array(BLOCK);
      this.blocks.set(id, block);
    }
    block[key & (BLOCK - 1)] += n;
  }

  merge(other: QuantileSketch): void {
    for (const [id, b] of other.blocks) {
      for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) this.addCount(id * BLOCK + i, b[i]);
    }
    this.count += other.count;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The non-empty buckets, ascending: keys and counts. */
  entries(): { keys: Int32Array; counts: Float64Array } {
    const ids = [...this.blocks.keys()].sort((a, b) => a - b);
    const keys: number[] = [];
    const counts: number[] = [];
    for (const id of ids) {
      const b = this.blocks.get(id)!;
      for (let i = 0; i < BLOCK; i++) {
        if (b[i] === 0) continue;
        keys.push(id * BLOCK + i);
        counts.push(b[i]);
      }
    }
    return { keys: Int32Array.from(keys), counts: Float64Array.from(counts) };
  }

  static fromEntries(keys: Int32Array, counts: Float64Array, min: number, max: number): QuantileSketch {
    const s = new QuantileSketch();
    let total = 0;
    for (let i = 0; i < keys.length; i++) {
      s.addCount(keys[i], counts[i]);
      total += counts[i];
    }
    s.count = total;
    s.min = min;
    s.max = max;
    return s;
  }

  /**
   * Type-7 quantiles (numpy's linear interpolation between the order statistics at
   * q (n - 1)), each order statistic replaced by its bucket's clamped midpoint.
   */
  quantiles(ps: readonly number[]): number[] {
    const n = this.count;
    if (n === 0) return ps.map(() => NaN);
    const { keys, counts } = this.entries();
    const value = (k: number) => Math.min(this.max, Math.max(this.min, bucketMidpoint(keys[k])));
    // The order statistic of 0-based rank r: the bucket where the cumulative count passes r.
    const orderStatistic = (r: number): number => {
      if (r === 0) return this.min;
      if (r === n - 1) return this.max;
      let cum = 0;
      for (let k = 0; k < keys.length; k++) {
        cum += counts[k];
        if (cum > r) return value(k);
      }
      return this.max;
    };
    return ps.map((q) => {
      const pos = q * (n - 1);
      const lo = Math.floor(pos);
      const hi = Math.min(lo + 1, n - 1);
      const a = orderStatistic(lo);
      const b = hi === lo ? a : orderStatistic(hi);
      return a + (pos - lo) * (b - a);
    });
  }
}
