// Regions of the target: highest-density regions (levels from a grid or by Monte Carlo) and the
// support as boxes, with the exact mass inside and per component.
import { type Group } from '../model/mixture.ts';
import { lawCdf, projectedLaw } from './law1d.ts';
import { TargetEvaluator, type TargetDef } from './definition.ts';
import { gridExpectation, type Grid } from './grid.ts';
import { sampleTarget } from './sample.ts';

export const HDR_LEVELS = [0.5, 0.9, 0.99] as const;

export interface HdrLevels {
  /** For each mass q: the normalised log-density level c_q with P(log p(X) > c_q) = q. */
  logLevels: number[];
  /** Absolute accuracy of the mass q above each level. */
  massError: number;
  method: 'grid quadrature' | 'Monte Carlo';
}

/** HDR levels from a grid (1-D, 2-D): error = the half-resolution grid's mass above each level + one sub-point. */
export function hdrLevelsFromGrid(g: Grid, masses: readonly number[] = HDR_LEVELS): HdrLevels {
  const order = Array.from(g.logDensity.keys()).sort((a, b) => g.logDensity[b] - g.logDensity[a]);
  const logLevels: number[] = [];
  let acc = 0;
  let k = 0;
  let boundaryWeight = 0;
  for (const q of masses) {
    while (k < order.length && acc + g.weight[order[k]] < q) acc += g.weight[order[k++]];
    const i = order[Math.min(k, order.length - 1)];
    logLevels.push(g.logDensity[i]);
    boundaryWeight = Math.max(boundaryWeight, g.weight[i]);
  }
  let massError = 0;
  masses.forEach((q, i) => {
    const e = gridExpectation(g, (_x, kk) => (g.logDensity[kk] > logLevels[i] ? 1 : 0));
    massError = Math.max(massError, Math.abs(e.value - q) + e.error);
  });
  return { logLevels, massError: massError + boundaryWeight, method: 'grid quadrature' };
}

/** HDR levels by Monte Carlo (any d; conditional and unconditional), error at false-failure rate alphaMc. */
export function hdrLevelsMonteCarlo(
  def: TargetDef,
  samples = 400_000,
  seed = 1,
  alphaMc = 1e-9,
  masses: readonly number[] = HDR_LEVELS,
): HdrLevels {
  const xs = sampleTarget(def, samples, seed);
  const ev = new TargetEvaluator(def);
  const ls = new Float64Array(samples);
  for (let p = 0; p < samples; p++) ls[p] = ev.logDensity(xs.subarray(p * def.dim, (p + 1) * def.dim));
  ls.sort();
  const logLevels = masses.map((q) => ls[Math.min(samples - 1, Math.max(0, Math.floor((1 - q) * samples)))]);
  return {
    logLevels,
    massError: Math.sqrt(Math.log(2 / alphaMc) / (2 * samples)) + 1 / samples,
    method: 'Monte Carlo',
  };
}

export function hdrLevels(def: TargetDef, grid?: Grid): HdrLevels {
  if (grid) return hdrLevelsFromGrid(grid);
  return hdrLevelsMonteCarlo(def);
}

export type Box = { low: Float64Array; high: Float64Array };

/** The target class's support as boxes when every component is a box, else null. */
export function supportBoxes(def: TargetDef): Box[] | null {
  const boxes: Box[] = [];
  for (const e of def.groupA.entries) {
    const c = def.model.components[e.component];
    if (c.kind !== 'uniform') return null;
    boxes.push({ low: c.low, high: c.high });
  }
  return boxes;
}

function boxesDisjoint(boxes: Box[]): boolean {
  for (let a = 0; a < boxes.length; a++) {
    for (let b = a + 1; b < boxes.length; b++) {
      let overlap = true;
      for (let i = 0; i < boxes[a].low.length; i++) {
        if (boxes[a].high[i] <= boxes[b].low[i] || boxes[b].high[i] <= boxes[a].low[i]) overlap = false;
      }
      if (overlap) return false;
    }
  }
  return true;
}

/**
 * P(X in union of boxes) under the target at tMin, and its accuracy. Conditional and
 * unconditional with disjoint boxes: exact (products of 1-D CDF differences per component;
 * a full-covariance Gaussian is not separable: grid or Monte Carlo). Otherwise by the grid
 * (1-D/2-D, sub-point indicator) or Monte Carlo.
 */
export function expectedInside(def: TargetDef, boxes: Box[], grid?: Grid): { p: number; error: number } {
  const d = def.dim;
  const separable = def.groupA.entries.every((e) => {
    const c = def.model.components[e.component];
    return c.kind === 'uniform' || c.basis === null;
  });
  if (def.groupB === null && separable && boxesDisjoint(boxes)) {
    let p = 0;
    for (const e of def.groupA.entries) {
      const one: Group = { name: 'one', entries: [{ component: e.component, logWeight: 0 }] };
      for (const b of boxes) {
        let prod = 1;
        for (let i = 0; i < d; i++) {
          const u = Array.from({ length: d }, (_, j) => (j === i ? 1 : 0));
          const law = projectedLaw(def.model, one, def.alpha, def.sigma2, u);
          prod *= lawCdf(law, b.high[i]) - lawCdf(law, b.low[i]);
        }
        p += Math.exp(e.logWeight) * prod;
      }
    }
    return { p, error: 1e-13 };
  }
  const inside = (x: ArrayLike<number>) =>
    boxes.some((b) => {
      for (let i = 0; i < d; i++) if (!(x[i] > b.low[i] && x[i] < b.high[i])) return false;
      return true;
    });
  if (grid) {
    const e = gridExpectation(grid, (x) => (inside(x) ? 1 : 0));
    return { p: e.value, error: e.error };
  }
  const m = 400_000;
  const xs = sampleTarget(def, m, 3);
  let hit = 0;
  for (let k = 0; k < m; k++) if (inside(xs.subarray(k * d, (k + 1) * d))) hit++;
  return { p: hit / m, error: Math.sqrt(Math.log(2 / 1e-9) / (2 * m)) };
}

/**
 * Expected soft occupancy E[r_k(X)] of groupA's components under the target: the component
 * weights exactly for the conditional and unconditional targets (E_p[w_k p_k / p] = w_k);
 * by quadrature on the grid for the tilted one.
 */
export function expectedOccupancy(def: TargetDef, grid?: Grid): { p: Float64Array; error: number } {
  const entries = def.groupA.entries;
  if (def.groupB === null) return { p: Float64Array.from(entries, (e) => Math.exp(e.logWeight)), error: 1e-15 };
  if (!grid) throw new Error('expectedOccupancy of a tilted target needs a grid');
  const ev = new TargetEvaluator(def);
  const resp = new Float64Array(entries.length);
  const all = grid.weight.length;
  const table = new Float64Array(all * entries.length);
  for (let k = 0; k < all; k++) {
    ev.logDensityAndResponsibilities(grid.points.subarray(k * def.dim, (k + 1) * def.dim), resp);
    table.set(resp, k * entries.length);
  }
  const p = new Float64Array(entries.length);
  let error = 0;
  for (let e = 0; e < entries.length; e++) {
    const r = gridExpectation(grid, (_x, k) => table[k * entries.length + e]);
    p[e] = r.value;
    error = Math.max(error, r.error);
  }
  return { p, error };
}
