// Grids (1-D and 2-D): the target's mass on cells, densities at sub-points, expectations, and the
// tilted density's normaliser by quadrature.
import { TargetEvaluator, type TargetDef } from './definition.ts';
import { targetBox } from './one-d.ts';

export interface Grid {
  dim: 1 | 2;
  low: number[];
  high: number[];
  /** Cells per axis. */
  cells: number[];
  /** Sub-points per cell per axis. */
  sub: number;
  /** Normalised mass per cell (first axis fastest). */
  mass: Float64Array;
  /** Largest |cell mass - the same at half the sub-points|, plus the mass outside the grid. */
  massError: number;
  /** Point of every sub-point (row-major), its log-density and quadrature weight (sum 1). */
  points: Float64Array;
  logDensity: Float64Array;
  weight: Float64Array;
}

/**
 * Midpoint quadrature of the target on cells x sub-points (1-D or 2-D). The normaliser is the
 * grid's own total (so the masses sum to 1); massError compares against sub/2 sub-points.
 */
export function targetGrid(def: TargetDef, cells: number[], box = targetBox(def), sub = 8): Grid {
  const dim = def.dim as 1 | 2;
  if (dim !== 1 && dim !== 2) throw new Error(`targetGrid: dim 1 or 2 only, got ${def.dim}`);
  const ev = new TargetEvaluator(def);
  const n0 = cells[0] * sub;
  const n1 = dim === 2 ? cells[1] * sub : 1;
  const h0 = (box.high[0] - box.low[0]) / n0;
  const h1 = dim === 2 ? (box.high[1] - box.low[1]) / n1 : 1;
  const total = n0 * n1;
  const points = new Float64Array(total * dim);
  const logDensity = new Float64Array(total);
  const x = new Float64Array(dim);
  let max = -Infinity;
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < n0; i++) {
      const k = i + n0 * j;
      x[0] = box.low[0] + (i + 0.5) * h0;
      if (dim === 2) x[1] = box.low[1] + (j + 0.5) * h1;
      points.set(x, k * dim);
      logDensity[k] = ev.logDensity(x);
      max = Math.max(max, logDensity[k]);
    }
  }
  const weight = new Float64Array(total);
  let z = 0;
  for (let k = 0; k < total; k++) z += weight[k] = Math.exp(logDensity[k] - max);
  for (let k = 0; k < total; k++) weight[k] /= z;
  const nc = cells[0] * (dim === 2 ? cells[1] : 1);
  const mass = new Float64Array(nc);
  const half = new Float64Array(nc);
  let halfZ = 0;
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < n0; i++) {
      const k = i + n0 * j;
      const c = Math.floor(i / sub) + cells[0] * (dim === 2 ? Math.floor(j / sub) : 0);
      mass[c] += weight[k];
      // Every other sub-point (a coarser midpoint rule: sub/2 points per cell per axis).
      if (i % 2 === 0 && (dim === 1 || j % 2 === 0)) {
        half[c] += weight[k];
        halfZ += weight[k];
      }
    }
  }
  let massError = 0;
  for (let c = 0; c < nc; c++) massError = Math.max(massError, Math.abs(mass[c] - half[c] / halfZ));
  // Mass outside: the box is 10 sd beyond every piece along every axis (< 1e-22 per piece).
  massError += 1e-20;
  // Log-densities normalised by the grid's total (for the tilted target, logZ from here is consistent).
  const cellVolume = h0 * h1;
  const logNorm = max + Math.log(z * cellVolume);
  const ld = logDensity.map((l) => l - logNorm);
  return { dim, low: box.low, high: box.high, cells, sub, mass, massError, points, logDensity: ld, weight };
}

/**
 * log Z of the tilted density by 1-D/2-D quadrature (midpoint rule on 2^16 cells, or 512 x 512,
 * over targetBox), with the half-resolution difference as error. Throws when the density does
 * not decay at the box's edges. Also used by src/checks/exact-density.ts for KL(Q||tilted).
 */
export function tiltedNormaliser(def: TargetDef): { logZ: number; logZError: number } {
  const unnormalised = { ...def, logZ: 0 };
  const box = targetBox(unnormalised);
  const est = (cells: number[]): number => {
    const ev = new TargetEvaluator(unnormalised);
    const d = def.dim;
    const n0 = cells[0];
    const n1 = d === 2 ? cells[1] : 1;
    const h0 = (box.high[0] - box.low[0]) / n0;
    const h1 = d === 2 ? (box.high[1] - box.low[1]) / n1 : 1;
    const ls: number[] = [];
    const x = new Float64Array(d);
    for (let j = 0; j < n1; j++) {
      for (let i = 0; i < n0; i++) {
        x[0] = box.low[0] + (i + 0.5) * h0;
        if (d === 2) x[1] = box.low[1] + (j + 0.5) * h1;
        ls.push(ev.logDensity(x));
      }
    }
    let max = -Infinity;
    for (const l of ls) max = Math.max(max, l);
    let s = 0;
    for (const l of ls) s += Math.exp(l - max);
    // The density must be negligible at the edges, else the tilt is not normalisable here.
    return max + Math.log(s * h0 * h1);
  };
  const cells = def.dim === 1 ? [1 << 16] : [512, 512];
  const a = est(cells);
  const b = est(cells.map((c) => c / 2));
  if (!Number.isFinite(a)) throw new Error('the tilted density is not normalisable (log Z is not finite)');
  checkTiltDecays(unnormalised, box, a);
  return { logZ: a, logZError: Math.abs(a - b) };
}

function checkTiltDecays(def: TargetDef, box: { low: number[]; high: number[] }, logZ: number): void {
  const ev = new TargetEvaluator(def);
  const d = def.dim;
  // Along each edge of the box the normalised density must be tiny.
  const probes: number[][] = [];
  for (let i = 0; i < d; i++) {
    for (const end of [box.low[i], box.high[i]]) {
      for (let k = 0; k <= 20; k++) {
        const p = box.low.map((l, j) => l + ((box.high[j] - l) * k) / 20);
        p[i] = end;
        probes.push(p);
      }
    }
  }
  for (const p of probes) {
    const l = ev.logDensity(p) - logZ;
    if (l > Math.log(1e-12)) {
      throw new Error(
        `the tilted density p(x|c)^(1+w) p_neg(x)^(-w) with w = ${def.w} does not decay at [${p.map((v) => v.toFixed(2))}] ` +
          '(it is not normalisable, or has mass far outside the classes): no tilted target',
      );
    }
  }
}

/**
 * E[f(X)] on a grid (midpoint rule over the sub-points), with an error estimate: the difference
 * against the same rule on every other sub-point per axis, plus the grid's mass error.
 */
export function gridExpectation(g: Grid, f: (x: Float64Array, k: number) => number): { value: number; error: number } {
  const n0 = g.cells[0] * g.sub;
  let fine = 0;
  let half = 0;
  let halfZ = 0;
  for (let k = 0; k < g.weight.length; k++) {
    const v = f(g.points.subarray(k * g.dim, (k + 1) * g.dim), k);
    fine += g.weight[k] * v;
    const i = k % n0;
    const j = Math.floor(k / n0);
    if (i % 2 === 0 && j % 2 === 0) {
      half += g.weight[k] * v;
      halfZ += g.weight[k];
    }
  }
  return { value: fine, error: Math.abs(fine - half / halfZ) + g.massError };
}
