// Exact floating-point summation (Shewchuk 1997, "Adaptive precision floating-point
// arithmetic", the algorithm of Python's math.fsum): the running sum is kept as a list of
// non-overlapping f64 partials whose exact sum is the exact sum of every value added. Merging
// two sums adds one's partials into the other, also exactly, so the final correctly rounded
// value is the same whatever the order or the chunking: shards merged give bit-identical sums.
// Non-finite values are not summed (the caller counts them).

export class ExactSum {
  private partials: number[] = [];

  add(x: number): void {
    const p = this.partials;
    let i = 0;
    for (let j = 0; j < p.length; j++) {
      let y = p[j];
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    p.length = i;
    p.push(x);
  }

  merge(other: ExactSum): void {
    for (const v of other.partials) this.add(v);
  }

  /** The exact sum, correctly rounded to f64 (fsum's final step, with its half-way correction). */
  value(): number {
    const p = this.partials;
    let n = p.length;
    if (n === 0) return 0;
    let hi = p[--n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n];
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }

  toArray(): Float64Array {
    return Float64Array.from(this.partials);
  }

  static fromArray(a: ArrayLike<number>): ExactSum {
    const s = new ExactSum();
    for (let i = 0; i < a.length; i++) s.add(a[i]);
    return s;
  }
}
