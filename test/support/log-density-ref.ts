// An f64 reference for the log-density mode that shares nothing with the kernels' closed-form
// divergence: CpuStepper's own velocity, differentiated by central differences (step eps per
// coordinate: truncation ~eps^2 |u'''|, rounding ~1e-16 |u| / eps, both far below the 1e-3
// tolerance), carried through the tableau as l_{n+1} = l_n - h sum_i b_i div u(xs_i, t_i).
import { CpuStepper } from '../../src/cpu/reference.ts';
import { priorScale } from '../../src/processes/process.ts';
import type { StepRow, StepTable } from '../../src/solvers/table.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';

const EPS = 1e-4;

export interface LogDensityReference {
  particles: Float64Array;
  logq: Float64Array;
}

/** log N(x; 0, s^2 I) for each row of x. */
export function priorLogDensity(x: Float64Array, dim: number, s: number): Float64Array {
  const n = x.length / dim;
  const out = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += x[p * dim + j] ** 2;
    out[p] = (-0.5 * sq) / (s * s) - dim * (0.5 * Math.log(2 * Math.PI) + Math.log(s));
  }
  return out;
}

/** div u at x by central differences of CpuStepper.velocity (evaluators set to the row). */
function fdDivergence(st: CpuStepper, x: Float64Array, row: StepRow, up: Float64Array, down: Float64Array): number {
  let div = 0;
  const xp = Float64Array.from(x);
  for (let j = 0; j < x.length; j++) {
    const e = EPS * Math.max(1, Math.abs(x[j]));
    xp[j] = x[j] + e;
    st.velocity(xp, row, up, 0);
    xp[j] = x[j] - e;
    st.velocity(xp, row, down, 0);
    xp[j] = x[j];
    div += (up[j] - down[j]) / (2 * e);
  }
  return div;
}

/**
 * Runs `table` (default: the spec's) from the given starts, or from CpuStepper's prior draw with
 * l_0 = log N(x; 0, priorScale^2 I).
 */
export function logDensityReference(
  spec: ExperimentSpec,
  opts: { table?: StepTable; x?: Float64Array; logq?: Float64Array } = {},
): LogDensityReference {
  const st = new CpuStepper(spec);
  const table = opts.table ?? st.table;
  const { dim: d, particles: n } = spec;
  const { a, b } = st.tableau;
  const stages = table.stages;
  const x = opts.x ? Float64Array.from(opts.x) : new Float64Array(n * d);
  if (!opts.x) st.initParticles(0, n, x);
  const logq = opts.logq ? Float64Array.from(opts.logq) : priorLogDensity(x, d, priorScale(spec.process));
  const k = Array.from({ length: stages }, () => new Float64Array(n * d));
  const div = Array.from({ length: stages }, () => new Float64Array(n));
  const xs = new Float64Array(d);
  const up = new Float64Array(d);
  const down = new Float64Array(d);
  for (let s = 0; s < table.steps; s++) {
    const h = table.rows[s * stages].h;
    for (let i = 0; i < stages; i++) {
      const row = table.rows[s * stages + i];
      st.setTime(row);
      for (let p = 0; p < n; p++) {
        for (let c = 0; c < d; c++) {
          let acc = x[p * d + c];
          for (let j = 0; j < i; j++) acc += h * a[i][j] * k[j][p * d + c];
          xs[c] = acc;
        }
        st.velocity(xs, row, k[i], p * d);
        div[i][p] = fdDivergence(st, xs, row, up, down);
      }
    }
    for (let p = 0; p < n; p++) {
      let dl = 0;
      for (let i = 0; i < stages; i++) dl += b[i] * div[i][p];
      logq[p] -= h * dl;
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let i = 0; i < stages; i++) acc += b[i] * k[i][p * d + c];
        x[p * d + c] += h * acc;
      }
    }
  }
  return { particles: x, logq };
}

/**
 * The spec's table run backwards in time (tMin up to the start), for solvers whose stage nodes
 * are symmetric under c -> 1 - c (heun, rk4): step n of the reversed table is step
 * steps-1-n's rows in reverse stage order, with h negated.
 */
export function reversedTableSymmetric(table: StepTable, c: readonly number[]): StepTable {
  const stages = table.stages;
  c.forEach((ci, i) => {
    if (Math.abs(ci + c[stages - 1 - i] - 1) > 0) throw new Error('reversedTableSymmetric: stage nodes not symmetric');
  });
  const rows: StepRow[] = [];
  for (let n = table.steps - 1; n >= 0; n--) {
    for (let i = stages - 1; i >= 0; i--)
      rows.push({ ...table.rows[n * stages + i], h: -table.rows[n * stages + i].h });
  }
  return { ...table, times: Float64Array.from(table.times).reverse(), rows };
}
