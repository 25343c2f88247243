// What a check measures, decided before sampling: the exact target, its 1-D projections with
// 2048 equiprobable f32 bin edges and the exact bin probabilities at those (rounded) edges, a
// 1-D/2-D grid for HDR levels and expectations, a 2-D histogram (2-D specs) with exact cell
// masses, the HDR levels, the support boxes, the expected occupancy and support fraction.
import { type ExperimentPlan, planOf } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { binProbabilities, FINE_BINS } from '../metrics/statistics.ts';
import type { HistogramPlan, MeasurePlan } from './measure.ts';
import {
  expectedInside,
  expectedOccupancy,
  hdrLevels,
  supportBoxes,
  type Box,
  type HdrLevels,
} from '../targets/regions.ts';
import { target1d, targetBox, type Target1d } from '../targets/one-d.ts';
import { type TargetDef, type TargetKind } from '../targets/definition.ts';
import { targetDef } from '../targets/from-spec.ts';
import { targetGrid, type Grid } from '../targets/grid.ts';

export interface ProjectionPlan {
  label: string;
  u: number[];
  target: Target1d;
  /** FINE_BINS + 1 f32-representable edges, equiprobable under the plan's target. */
  edges: Float64Array;
  /** Exact probabilities [under, bins..., over] at the rounded edges. */
  probs: Float64Array;
}

export interface CheckPlan {
  spec: ExperimentSpec;
  against: TargetKind;
  def: TargetDef;
  projections: ProjectionPlan[];
  grid?: Grid;
  hdr: HdrLevels;
  boxes: Box[] | null;
  occupancy: { p: Float64Array; error: number };
  inside: { p: number; error: number } | null;
  /** 2-D specs: a 64 x 64 histogram over the target's box with exact cell masses (with ends). */
  hist2d?: { plan: HistogramPlan; probs: Float64Array };
  halfSpaces: { u: number[]; b: number; label: string }[];
  measurePlan: MeasurePlan;
}

/** The next f32 above v. */
function nextF32(v: number): number {
  const f = new Float32Array([v]);
  const i = new Int32Array(f.buffer);
  i[0] += v >= 0 ? 1 : -1;
  return f[0];
}

/** FINE_BINS equiprobable edges of a law, rounded to f32 and kept strictly increasing. */
export function equiprobableEdges(t: Target1d, bins = FINE_BINS): Float64Array {
  const e = new Float64Array(bins + 1);
  e[0] = Math.fround(t.range[0]);
  e[bins] = Math.fround(t.range[1]);
  for (let i = 1; i < bins; i++) e[i] = Math.fround(t.quantile(i / bins));
  for (let i = 1; i <= bins; i++) if (!(e[i] > e[i - 1])) e[i] = nextF32(e[i - 1]);
  return e;
}

/** Projection directions: coordinate axes (up to 4), and in 2-D the diagonals (when closed form). */
export function projectionsFor(def: TargetDef): { label: string; u: number[] }[] {
  const d = def.dim;
  const out: { label: string; u: number[] }[] = [];
  for (let i = 0; i < Math.min(d, 4); i++)
    out.push({ label: `x${i}`, u: Array.from({ length: d }, (_, j) => (j === i ? 1 : 0)) });
  const boxes = def.groupA.entries.some((e) => def.model.components[e.component].kind === 'uniform');
  if (d >= 2 && !boxes && def.groupB === null) {
    const s = 1 / Math.sqrt(d);
    out.push({ label: 'sum/sqrt(d)', u: Array(d).fill(s) });
    if (d === 2) out.push({ label: '(x0-x1)/sqrt2', u: [s, -s] });
  }
  return out;
}

export function projectionPlan(def: TargetDef, label: string, u: number[]): ProjectionPlan {
  const target = target1d(def, u);
  const edges = equiprobableEdges(target);
  return { label, u, target, edges, probs: binProbabilities(target.cdf, edges) };
}

export interface PlanOptions {
  halfSpaces?: { u: number[]; b: number; label: string }[];
  /** Build 1-D projections and the 2-D histogram against this target instead (sweep: conditional). */
  binsFor?: TargetDef;
}

export function planCheck(
  source: ExperimentSpec | ExperimentPlan,
  against: TargetKind,
  opts: PlanOptions = {},
): CheckPlan {
  const experiment = planOf(source);
  const spec = experiment.spec;
  const def = targetDef(experiment, against);
  const projections = projectionsFor(def).map((p) => projectionPlan(def, p.label, p.u));
  let grid: Grid | undefined;
  let hist2d: CheckPlan['hist2d'];
  if (spec.dim === 1) grid = targetGrid(def, [4096]);
  if (spec.dim === 2) {
    const box = targetBox(def, 5);
    grid = targetGrid(def, [64, 64], box, 8);
    const probs = new Float64Array(64 * 64 + 2);
    probs.set(grid.mass, 1);
    let total = 0;
    for (const m of grid.mass) total += m;
    probs[64 * 64 + 1] = Math.max(0, 1 - total);
    hist2d = {
      plan: {
        axes: [
          [1, 0],
          [0, 1],
        ],
        bins: [64, 64],
        low: box.low.map(Math.fround),
        high: box.high.map(Math.fround),
        edges: [null, null],
      },
      probs,
    };
  }
  const hdr = hdrLevels(def, grid);
  const boxes = supportBoxes(def);
  const occupancy = expectedOccupancy(def, grid);
  const inside = boxes ? expectedInside(def, boxes, grid) : null;
  const halfSpaces = opts.halfSpaces ?? [];
  const histograms: HistogramPlan[] = projections.map((p) => ({
    axes: [p.u],
    bins: [FINE_BINS],
    low: [0],
    high: [1],
    edges: [p.edges],
  }));
  if (hist2d) histograms.push(hist2d.plan);
  const measurePlan: MeasurePlan = {
    histograms,
    density: {
      def,
      hdrLogLevels: hdr.logLevels,
      boxes,
      projections: projections.map((p) => ({ u: p.u, center: p.target.moments.mean })),
      halfSpaces,
    },
  };
  return { spec, against, def, projections, grid, hdr, boxes, occupancy, inside, hist2d, halfSpaces, measurePlan };
}
