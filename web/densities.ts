// Exact densities for the page's overlay and figures, on the CPU in f64 from the model
// (src/model/mixture.ts) at the end time tMin, the law the sampler's particles should have:
//   conditional   p(x | target)
//   unconditional p(x)
//   tilted        p(x | target)^(1 + w) p_neg(x)^(-w), normalised numerically on the plot grid,
//                 with w and the negative as the checks define them (src/targets/,
//                 tiltWeight: classifier guidance at w is cfg at w - 1 against p(x)); the law CFG
//                 is often said to sample, which it does not exactly (the page shows by how much).
// Specs of more than 2 dimensions are shown as their marginal on the first one or two
// coordinates: exact for the conditional and unconditional laws (a Gaussian's marginal is the
// sub-covariance, a box's the sub-box); the tilted law's marginal is not closed form and is not drawn.
import { planGuidance } from '../src/guidance/guidance.ts';
import { prd } from '../src/metrics/statistics.ts';
import { tiltWeight } from '../src/targets/definition.ts';
import { buildModel, classGroup, MixtureEvaluator, type Group, type MixtureModel } from '../src/model/mixture.ts';
import { processAt } from '../src/processes/process.ts';
import type { HistogramCounts } from '../src/gpu/histogram.ts';
import type { Component, ExperimentSpec, WSchedule } from '../src/experiment/types.ts';

/** What the main plot shows: one axis (histogram) or two (heatmap), with their ranges and bins. */
export interface PlotGeometry {
  /** Coordinates shown (indices into x). */
  axes: number[];
  low: number[];
  high: number[];
  bins: number[];
  /** The spec's dimension (> axes.length: the plot is a marginal). */
  dim: number;
}

export const BINS_1D = 160;
export const BINS_2D = 128;
/** Sub-samples per bin and axis: bin masses are averages over this grid inside each bin. */
export const SUB = 2;

/** The model restricted to the shown coordinates (exact marginals; see above). */
function marginalComponents(components: Component[], axes: number[]): Component[] {
  return components.map((c): Component => {
    if (c.kind === 'uniform') return { ...c, low: axes.map((i) => c.low[i]), high: axes.map((i) => c.high[i]) };
    const mean = axes.map((i) => c.mean[i]);
    const cov = c.cov;
    if (cov.kind === 'isotropic') return { ...c, mean, cov };
    if (cov.kind === 'diagonal')
      return { ...c, mean, cov: { kind: 'diagonal', variances: axes.map((i) => cov.variances[i]) } };
    return { ...c, mean, cov: { kind: 'full', matrix: axes.map((i) => axes.map((j) => cov.matrix[i][j])) } };
  });
}

export function plotAxes(spec: ExperimentSpec): number[] {
  return spec.dim === 1 ? [0] : [0, 1];
}

/** Every component of the model and of an inline negative (for the plot range). */
function allComponents(spec: ExperimentSpec): Component[] {
  const list = spec.classes.flatMap((c) => c.components);
  if (spec.guidance.kind === 'cfg' && spec.guidance.negative.kind === 'inline')
    list.push(...spec.guidance.negative.distribution.components);
  return list;
}

/**
 * The plot range: every component noised to tMin, +-4 sd (Gaussians) or its box +-4 sigma, with
 * a quarter of the width added on each side for guided particles pushed outwards.
 */
export function plotGeometry(spec: ExperimentSpec): PlotGeometry {
  const axes = plotAxes(spec);
  const { alpha, sigma2 } = processAt(spec.process, spec.solver.tMin);
  const sigma = Math.sqrt(sigma2);
  const low = axes.map(() => Infinity);
  const high = axes.map(() => -Infinity);
  for (const c of allComponents(spec)) {
    axes.forEach((i, k) => {
      let lo: number, hi: number;
      if (c.kind === 'uniform') {
        lo = alpha * c.low[i] - 4 * sigma;
        hi = alpha * c.high[i] + 4 * sigma;
      } else {
        const v =
          c.cov.kind === 'isotropic'
            ? c.cov.variance
            : c.cov.kind === 'diagonal'
              ? c.cov.variances[i]
              : c.cov.matrix[i][i];
        const sd = Math.sqrt(alpha * alpha * v + sigma2);
        lo = alpha * c.mean[i] - 4 * sd;
        hi = alpha * c.mean[i] + 4 * sd;
      }
      low[k] = Math.min(low[k], lo);
      high[k] = Math.max(high[k], hi);
    });
  }
  for (let k = 0; k < axes.length; k++) {
    const pad = 0.25 * (high[k] - low[k]);
    low[k] = niceFloor(low[k] - pad);
    high[k] = niceCeil(high[k] + pad);
  }
  return { axes, low, high, bins: axes.map(() => (axes.length === 1 ? BINS_1D : BINS_2D)), dim: spec.dim };
}

function niceFloor(v: number): number {
  return Math.floor(v * 4) / 4;
}
function niceCeil(v: number): number {
  return Math.ceil(v * 4) / 4;
}

/** A schedule's most telling w, for the w control: the largest |w| (w itself when constant). */
export function referenceW(s: WSchedule): number {
  switch (s.kind) {
    case 'constant':
      return s.w;
    case 'interval':
      return Math.abs(s.w) >= Math.abs(s.outside) ? s.w : s.outside;
    case 'piecewise':
      return s.points.reduce((best, [, w]) => (Math.abs(w) > Math.abs(best) ? w : best), 0);
  }
}

/** Log-densities on the sub-sample grid of a geometry: computed once per spec and geometry. */
export interface LogDensityGrid {
  geometry: PlotGeometry;
  /** Points per axis (bins x SUB); point (a, b) at index a + n0 b. */
  points: number[];
  logConditional: Float64Array;
  logUnconditional: Float64Array;
  /** The cfg/classifier negative's log-density (null without guidance, or for a marginal). */
  logNegative: Float64Array | null;
  /** Per point, the target component with the largest weighted density (the "mode" it belongs to). */
  mode: Int32Array;
  modes: number;
}

/** Coordinates of sub-sample point j on axis k. */
export function pointCoordinate(g: PlotGeometry, k: number, j: number): number {
  const n = g.bins[k] * SUB;
  return g.low[k] + ((j + 0.5) * (g.high[k] - g.low[k])) / n;
}

export function logDensityGrid(spec: ExperimentSpec, geometry: PlotGeometry): LogDensityGrid {
  const marginal = geometry.dim > geometry.axes.length;
  let model: MixtureModel;
  let target: Group;
  let negative: Group | null = null;
  if (marginal) {
    const classes = spec.classes.map((c) => ({ ...c, components: marginalComponents(c.components, geometry.axes) }));
    model = buildModel({ dim: geometry.axes.length, classes });
    target = classGroup(model, spec.target);
  } else {
    const plan = planGuidance(spec);
    model = plan.model;
    target = plan.target;
    negative = plan.negative;
  }
  const { alpha, sigma2 } = processAt(spec.process, spec.solver.tMin);
  const ev = new MixtureEvaluator(model);
  ev.setTime(alpha, sigma2);
  const points = geometry.bins.map((b) => b * SUB);
  const total = points.reduce((a, b) => a * b, 1);
  const logConditional = new Float64Array(total);
  const logUnconditional = new Float64Array(total);
  const logNegative = negative ? new Float64Array(total) : null;
  const mode = new Int32Array(total);
  const x = new Float64Array(geometry.axes.length);
  const n0 = points[0];
  for (let idx = 0; idx < total; idx++) {
    x[0] = pointCoordinate(geometry, 0, idx % n0);
    if (points.length > 1) x[1] = pointCoordinate(geometry, 1, Math.floor(idx / n0));
    ev.evaluateComponents(x);
    logConditional[idx] = ev.groupLogDensity(target);
    logUnconditional[idx] = ev.groupLogDensity(model.unconditional);
    if (logNegative && negative) logNegative[idx] = ev.groupLogDensity(negative);
    let best = -Infinity;
    let arg = -1;
    target.entries.forEach((e, k) => {
      const v = e.logWeight + ev.componentLog[e.component];
      if (v > best) {
        best = v;
        arg = k;
      }
    });
    mode[idx] = arg;
  }
  return { geometry, points, logConditional, logUnconditional, logNegative, mode, modes: target.entries.length };
}

/** Densities (per unit length or area) on the sub-sample grid, and bin masses. */
export interface Densities {
  grid: LogDensityGrid;
  conditional: Float64Array;
  unconditional: Float64Array;
  /** The guidance's negative law p_neg(x) (null without cfg/classifier guidance, or for a marginal). */
  negative: Float64Array | null;
  /** How to name the negative on the page. */
  negativeLabel: string;
  /** null when not available (a marginal of more than 2 dimensions). */
  tilted: Float64Array | null;
  /** The tilt's w in cfg terms (tiltWeight), and how to name it on the page. */
  wTilt: number;
  tiltLabel: string;
  /** Masses per histogram bin (summing to 1 over the plot), index i0 + bins[0] i1. */
  binConditional: Float64Array;
  binTilted: Float64Array | null;
  /** Per bin, the dominant target component (majority of its sub-samples). */
  binMode: Int32Array;
  maxDensity: number;
}

/**
 * Turns the log grid into densities: each law normalised numerically on the plot (the grid
 * holds all but a negligible part of the conditional and unconditional laws by construction;
 * the tilted law has no closed-form normaliser).
 */
export function densities(grid: LogDensityGrid, spec: ExperimentSpec): Densities {
  const g = grid.geometry;
  const cell = g.low.reduce((a, lo, k) => a * ((g.high[k] - lo) / grid.points[k]), 1);
  const normalise = (logs: Float64Array): Float64Array => {
    let max = -Infinity;
    for (const v of logs) if (v > max) max = v;
    const out = new Float64Array(logs.length);
    if (max === -Infinity) return out;
    let sum = 0;
    for (let i = 0; i < logs.length; i++) sum += out[i] = Math.exp(logs[i] - max);
    const scale = 1 / (sum * cell);
    for (let i = 0; i < out.length; i++) out[i] *= scale;
    return out;
  };
  const conditional = normalise(grid.logConditional);
  const unconditional = normalise(grid.logUnconditional);
  const negative = grid.logNegative && spec.guidance.kind !== 'none' ? normalise(grid.logNegative) : null;
  const g0 = spec.guidance;
  const negativeLabel =
    g0.kind === 'classifier'
      ? 'p(x) (the classifier guidance negative)'
      : g0.kind === 'cfg'
        ? g0.negative.kind === 'class'
          ? `p(x | ${g0.negative.name}), the negative`
          : g0.negative.kind === 'inline'
            ? 'p_neg(x), the inline negative'
            : 'p(x), the negative (unconditional)'
        : '';

  let tilted: Float64Array | null = null;
  const guidance = spec.guidance;
  const wTilt = tiltWeight(guidance);
  const tiltLabel =
    guidance.kind === 'classifier' ? `tilted law, classifier w = ${fmt(wTilt + 1)}` : `tilted law, w = ${fmt(wTilt)}`;
  if (guidance.kind !== 'none' && grid.logNegative) {
    const [gT, gN] = [1 + wTilt, -wTilt];
    const logs = new Float64Array(grid.logConditional.length);
    for (let i = 0; i < logs.length; i++) {
      const n = grid.logNegative[i];
      // Where both vanish (far outside a box) the tilt is 0, not NaN.
      logs[i] =
        gN === 0 ? gT * grid.logConditional[i] : gT * grid.logConditional[i] + gN * (n === -Infinity ? -1e300 : n);
      if (!Number.isFinite(logs[i])) logs[i] = -Infinity;
    }
    tilted = normalise(logs);
  } else if (guidance.kind === 'none') {
    tilted = conditional;
  }

  // Bin masses: averages of the SUB^dims sub-samples of each bin, times the bin's size.
  const nBins = g.bins.reduce((a, b) => a * b, 1);
  const binOf = (idx: number): number => {
    const a = Math.floor((idx % grid.points[0]) / SUB);
    if (g.bins.length === 1) return a;
    const b = Math.floor(Math.floor(idx / grid.points[0]) / SUB);
    return a + g.bins[0] * b;
  };
  const binConditional = new Float64Array(nBins);
  const binTilted = tilted ? new Float64Array(nBins) : null;
  const binMode = new Int32Array(nBins).fill(-1);
  const voteCounts: Int32Array[] = Array.from({ length: Math.max(1, grid.modes) }, () => new Int32Array(nBins));
  for (let idx = 0; idx < conditional.length; idx++) {
    const b = binOf(idx);
    binConditional[b] += conditional[idx] * cell;
    if (binTilted && tilted) binTilted[b] += tilted[idx] * cell;
    if (grid.mode[idx] >= 0) voteCounts[grid.mode[idx]][b]++;
  }
  for (let b = 0; b < nBins; b++) {
    let best = 0;
    for (let m = 0; m < voteCounts.length; m++) {
      if (voteCounts[m][b] > best) {
        best = voteCounts[m][b];
        binMode[b] = m;
      }
    }
  }
  let maxDensity = 0;
  for (const v of conditional) maxDensity = Math.max(maxDensity, v);
  if (tilted) for (const v of tilted) maxDensity = Math.max(maxDensity, v);
  return {
    grid,
    conditional,
    unconditional,
    negative,
    negativeLabel,
    tilted,
    wTilt,
    tiltLabel,
    binConditional,
    binTilted,
    binMode,
    maxDensity,
  };
}

function fmt(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/**
 * Coverage and fidelity of the binned particles against the exact conditional law, as the
 * checks define them (src/metrics/statistics.ts, prd: precision and recall for distributions,
 * Sajjadi et al. 2018, on the plot's bins; 2-D bins merged 2 x 2): coverage is recall F_8,
 * fidelity is precision F_1/8. Particles outside the plot count in an extra bin of exact mass 0.
 */
export interface Figures {
  /** Particles binned so far (all of them: in range, outside, non-finite). */
  particles: number;
  outside: number;
  nonFinite: number;
  /** PRD recall F_8 against p(x | c). */
  coverage: number;
  /** PRD precision F_1/8 against p(x | c). */
  fidelity: number;
  /** Share of particles inside the 99% highest-density region of p(x | c) (on the bins). */
  hdr99: number;
  /** Target components (modes) whose region of the plot received at least 10% of its exact mass. */
  modesCovered: number;
  modes: number;
  /** Total variation distance of the binned particles to the binned conditional and tilted laws. */
  tvConditional: number;
  tvTilted: number | null;
}

/** Bins of the 99% highest-density region of `mass`. */
export function highDensityRegion(mass: Float64Array, level = 0.99): Uint8Array {
  const order = Array.from(mass.keys()).sort((a, b) => mass[b] - mass[a]);
  const inside = new Uint8Array(mass.length);
  let total = 0;
  for (const v of mass) total += v;
  let acc = 0;
  for (const i of order) {
    if (acc >= level * total) break;
    inside[i] = 1;
    acc += mass[i];
  }
  return inside;
}

/** Sums 2 x 2 blocks of a bins[0] x bins[1] grid (first axis fastest); 1-D grids pass through. */
function merge2x2(values: ArrayLike<number>, bins: number[]): Float64Array {
  if (bins.length === 1) return Float64Array.from(values);
  const [n0, n1] = bins;
  const m0 = Math.ceil(n0 / 2);
  const out = new Float64Array(m0 * Math.ceil(n1 / 2));
  for (let b = 0; b < n1; b++) for (let a = 0; a < n0; a++) out[(a >> 1) + m0 * (b >> 1)] += values[a + n0 * b];
  return out;
}

export function computeFigures(h: HistogramCounts, d: Densities, hdr: Uint8Array): Figures {
  const nBins = d.binConditional.length;
  const { counts, underflow, overflow, nonFinite } = h;
  const particles = h.total;
  const outside = underflow + overflow;
  const empty: Figures = {
    particles,
    outside,
    nonFinite,
    coverage: NaN,
    fidelity: NaN,
    hdr99: NaN,
    modesCovered: 0,
    modes: d.grid.modes,
    tvConditional: NaN,
    tvTilted: null,
  };
  const finite = particles - nonFinite;
  if (finite <= 0) return empty;
  let inHdr = 0;
  let tvC = outside / finite;
  let tvT = d.binTilted ? tvC : 0;
  const modeMass = new Float64Array(d.grid.modes);
  const modeHits = new Float64Array(d.grid.modes);
  for (let b = 0; b < nBins; b++) {
    const q = counts[b] / finite;
    tvC += Math.abs(q - d.binConditional[b]);
    if (d.binTilted) tvT += Math.abs(q - d.binTilted[b]);
    if (hdr[b]) {
      inHdr += q;
      const m = d.binMode[b];
      if (m >= 0) {
        modeMass[m] += d.binConditional[b];
        modeHits[m] += q;
      }
    }
  }
  let modesCovered = 0;
  for (let m = 0; m < modeMass.length; m++) if (modeMass[m] > 0 && modeHits[m] >= 0.1 * modeMass[m]) modesCovered++;
  const bins = d.grid.geometry.bins;
  const q = merge2x2(counts, bins);
  const p = merge2x2(d.binConditional, bins);
  const pr = prd(Float64Array.from([...q, outside]), Float64Array.from([...p, 0]));
  return {
    ...empty,
    coverage: pr.f8,
    fidelity: pr.f1over8,
    hdr99: inHdr,
    modesCovered,
    modes: modeMass.filter((m) => m > 0).length,
    tvConditional: 0.5 * tvC,
    tvTilted: d.binTilted ? 0.5 * tvT : null,
  };
}
