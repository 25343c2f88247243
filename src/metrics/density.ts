// Density-based metrics of particles in f64 on the host (CpuDensityMetrics), and the types the GPU
// version (src/gpu/density-metrics.ts, binned where the particles are) shares with it. Per finite
// particle: soft occupancy (posterior responsibilities of the target's components), hard occupancy
// (argmax), HDR membership (target log-density above each level), inside the support boxes,
// half-space counts, and per projection the sums of (u.x - c) and (u.x - c)^2 about the exact mean c.
import { TargetEvaluator, type TargetDef } from '../targets/definition.ts';
import type { Box } from '../targets/regions.ts';

export interface DensityMetricsConfig {
  def: TargetDef;
  /** Normalised log-density levels (HDR_LEVELS order). */
  hdrLogLevels: number[];
  boxes: Box[] | null;
  projections: { u: number[]; center: number }[];
  halfSpaces: { u: number[]; b: number }[];
}

export interface DensityMetricsResult {
  finite: number;
  nonFinite: number;
  /** Sum over particles of each component's responsibility (groupA's entries, in order). */
  softOccupancy: Float64Array;
  /** Particles whose most responsible component is each entry. */
  hardOccupancy: Float64Array;
  /** Particles with log p(x) above each HDR level. */
  hdrInside: Float64Array;
  /** Particles inside any support box (0 when there are no boxes). */
  inside: number;
  /** Particles with u.x > b for each half-space. */
  halfSpace: Float64Array;
  /** Per projection: sum (u.x - c) and sum (u.x - c)^2. */
  projSum1: Float64Array;
  projSum2: Float64Array;
}

export interface DensityMetrics {
  accumulate(particles: GPUBuffer | ArrayLike<number>, count: number): Promise<void>;
  read(): Promise<DensityMetricsResult>;
  destroy(): void;
}

/** The result from the counts (finite, non-finite, hard occupancy, HDR, inside, half-spaces) and the sums. */
export function densityResultFrom(
  cfg: DensityMetricsConfig,
  c: ArrayLike<number>,
  sums: Float64Array,
): DensityMetricsResult {
  const nocc = cfg.def.groupA.entries.length;
  const nlev = cfg.hdrLogLevels.length;
  const nproj = cfg.projections.length;
  let o = 2;
  const hard = Float64Array.from({ length: nocc }, (_, k) => c[o + k]);
  o += nocc;
  const hdr = Float64Array.from({ length: nlev }, (_, l) => c[o + l]);
  o += nlev;
  const inside = c[o++];
  const half = Float64Array.from({ length: cfg.halfSpaces.length }, (_, m) => c[o + m]);
  return {
    finite: c[0],
    nonFinite: c[1],
    softOccupancy: sums.slice(0, nocc),
    hardOccupancy: hard,
    hdrInside: hdr,
    inside,
    halfSpace: half,
    projSum1: Float64Array.from({ length: nproj }, (_, j) => sums[nocc + 2 * j]),
    projSum2: Float64Array.from({ length: nproj }, (_, j) => sums[nocc + 2 * j + 1]),
  };
}

/** The same metrics in f64 on the CPU, from particles in host memory. */
export class CpuDensityMetrics implements DensityMetrics {
  private readonly cfg: DensityMetricsConfig;
  private readonly ev: TargetEvaluator;
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly resp: Float64Array;
  constructor(cfg: DensityMetricsConfig) {
    this.cfg = cfg;
    this.ev = new TargetEvaluator(cfg.def);
    const nocc = cfg.def.groupA.entries.length;
    this.counts = new Float64Array(2 + nocc + cfg.hdrLogLevels.length + 1 + cfg.halfSpaces.length);
    this.sums = new Float64Array(nocc + 2 * cfg.projections.length);
    this.resp = new Float64Array(nocc);
  }
  async accumulate(particles: GPUBuffer | ArrayLike<number>, count: number): Promise<void> {
    if (typeof GPUBuffer !== 'undefined' && particles instanceof GPUBuffer)
      throw new Error('CpuDensityMetrics needs host particles');
    const data = particles as ArrayLike<number>;
    const { def, hdrLogLevels, boxes, projections, halfSpaces } = this.cfg;
    const d = def.dim;
    const nocc = this.resp.length;
    const x = new Float64Array(d);
    const c = this.counts;
    for (let p = 0; p < count; p++) {
      let finite = true;
      for (let j = 0; j < d; j++) {
        x[j] = data[p * d + j];
        if (!Number.isFinite(x[j])) finite = false;
      }
      if (!finite) {
        c[1]++;
        continue;
      }
      c[0]++;
      const l = this.ev.logDensityAndResponsibilities(x, this.resp);
      let best = 0;
      for (let k = 0; k < nocc; k++) {
        this.sums[k] += this.resp[k];
        if (this.resp[k] > this.resp[best]) best = k;
      }
      c[2 + best]++;
      const o0 = 2 + nocc;
      hdrLogLevels.forEach((level, i) => {
        if (l > level) c[o0 + i]++;
      });
      let o = o0 + hdrLogLevels.length;
      if (boxes?.some((b) => b.low.every((lo, j) => x[j] > lo && x[j] < b.high[j]))) c[o]++;
      o++;
      halfSpaces.forEach((h, m) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += h.u[j] * x[j];
        if (s > h.b) c[o + m]++;
      });
      projections.forEach((pr, jj) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += pr.u[j] * x[j];
        const v = s - pr.center;
        this.sums[nocc + 2 * jj] += v;
        this.sums[nocc + 2 * jj + 1] += v * v;
      });
    }
  }
  async read(): Promise<DensityMetricsResult> {
    return densityResultFrom(this.cfg, this.counts, this.sums);
  }
  destroy(): void {}
}
