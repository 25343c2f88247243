// The exact density of the discretised sampler (issue 13 item 2), CPU f64, small d: each ODE
// step x_{n+1} = Phi_n(x_n) of an explicit Runge-Kutta method is a smooth map whose Jacobian
// follows the stages in closed form,
//   Xs_i = I + h sum_{j<i} a_ij K_j,   K_i = J_u(xs_i, t_i) Xs_i,   J_n = I + h sum_i b_i K_i,
// with J_u = cx I + cs (gT H_T + gN H_N) from the guided mixture's log-density Hessians
// (CpuStepper.velocityJacobian). Then log q_discrete(x_N) = log q_start(x_0) - sum_n log|det J_n|
// holds exactly for the map the sampler applies (while it is invertible), whereas the flow route
// (src/cpu/log-density.ts) integrates -div u along the same path and is exact only for the ODE
// flow: their difference is the solver's error, O(h^p). d <= LOG_DET_MAX_DIM (d^3 per stage).
import type { ExperimentSpec } from '../experiment/types.ts';
import { assertLogDensitySupported } from '../model/divergence.ts';
import { CPU_CHUNK, CpuStepper } from './reference.ts';
import { logStartDensity } from './log-density.ts';

export const LOG_DET_MAX_DIM = 8;

export interface LogDetResult {
  /** count x dim particles at tMin (the same as plain sampling's). */
  x: Float64Array;
  /** log q of the discrete solver map's output law: log q_start - sum_n log|det J_n|. */
  logqMap: Float64Array;
  /** log q by the continuous change of variables along the same path (the flow route). */
  logqFlow: Float64Array;
  /** Particles with a non-finite x, log q or a singular step map. */
  nonFinite: number;
}

/** log|det M| of a dim x dim row-major matrix (LU with partial pivoting; M is overwritten). */
export function logAbsDet(m: Float64Array, d: number): number {
  let acc = 0;
  for (let c = 0; c < d; c++) {
    let piv = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r * d + c]) > Math.abs(m[piv * d + c])) piv = r;
    const p = m[piv * d + c];
    if (p === 0 || !Number.isFinite(p)) return p === 0 ? -Infinity : NaN;
    if (piv !== c) {
      for (let j = 0; j < d; j++) {
        const t = m[c * d + j];
        m[c * d + j] = m[piv * d + j];
        m[piv * d + j] = t;
      }
    }
    acc += Math.log(Math.abs(p));
    for (let r = c + 1; r < d; r++) {
      const f = m[r * d + c] / p;
      if (f === 0) continue;
      for (let j = c + 1; j < d; j++) m[r * d + j] -= f * m[c * d + j];
    }
  }
  return acc;
}

/** Refuses what the log-det route cannot do: the flow route's refusals (src/model/divergence.ts) and d > 8. */
export function assertLogDetSupported(spec: ExperimentSpec): void {
  assertLogDensitySupported(spec);
  if (spec.dim > LOG_DET_MAX_DIM)
    throw new Error(
      `dim: the exact log-determinant of the solver map is for dim <= ${LOG_DET_MAX_DIM} (d^3 work per stage), got ${spec.dim}`,
    );
}

/**
 * Particles [first, first + count) from the start law to tMin with both log-densities. The
 * particles are those of the plain CPU sampler (same starts, same steps).
 */
export function carryLogDetCpu(spec: ExperimentSpec, opts: { first: number; count: number }): LogDetResult {
  assertLogDetSupported(spec);
  const { first, count } = opts;
  const d = spec.dim;
  const dd = d * d;
  const stepper = new CpuStepper(spec);
  const { stages, rows, steps } = stepper.table;
  const { a, b } = stepper.tableau;
  const x = new Float64Array(count * d);
  stepper.initParticles(first, count, x);
  const logqMap = logStartDensity(spec, x, count);
  const logqFlow = logqMap.slice();
  const xs = new Float64Array(d);
  const ju = new Float64Array(dd);
  const xsJ = new Float64Array(dd);
  const jStep = new Float64Array(dd);
  for (let c0 = 0; c0 < count; c0 += CPU_CHUNK) {
    const n = Math.min(CPU_CHUNK, count - c0);
    const k = a.map(() => new Float64Array(n * d));
    const K = a.map(() => new Float64Array(n * dd));
    const div = new Float64Array(n);
    for (let s = 0; s < steps; s++) {
      const h = rows[s * stages].h;
      div.fill(0);
      for (let i = 0; i < stages; i++) {
        const row = rows[s * stages + i];
        stepper.setTime(row);
        for (let p = 0; p < n; p++) {
          const o = (c0 + p) * d;
          for (let c = 0; c < d; c++) {
            let acc = x[o + c];
            for (let j = 0; j < i; j++) acc += h * a[i][j] * k[j][p * d + c];
            xs[c] = acc;
          }
          // Xs_i = I + h sum_j a_ij K_j: the stage point's Jacobian with respect to x_n.
          xsJ.fill(0);
          for (let c = 0; c < d; c++) xsJ[c * d + c] = 1;
          for (let j = 0; j < i; j++) {
            const f = h * a[i][j];
            if (f === 0) continue;
            for (let e = 0; e < dd; e++) xsJ[e] += f * K[j][p * dd + e];
          }
          stepper.velocity(xs, row, k[i], p * d);
          stepper.velocityJacobian(xs, row, ju);
          if (b[i] !== 0) div[p] += b[i] * stepper.velocityDivergence(xs, row);
          const Ki = K[i];
          for (let r = 0; r < d; r++) {
            for (let c = 0; c < d; c++) {
              let acc = 0;
              for (let m = 0; m < d; m++) acc += ju[r * d + m] * xsJ[m * d + c];
              Ki[p * dd + r * d + c] = acc;
            }
          }
        }
      }
      for (let p = 0; p < n; p++) {
        const o = (c0 + p) * d;
        jStep.fill(0);
        for (let c = 0; c < d; c++) jStep[c * d + c] = 1;
        for (let i = 0; i < stages; i++) {
          if (b[i] === 0) continue;
          const f = h * b[i];
          for (let e = 0; e < dd; e++) jStep[e] += f * K[i][p * dd + e];
          for (let c = 0; c < d; c++) x[o + c] += f * k[i][p * d + c];
        }
        logqMap[c0 + p] -= logAbsDet(jStep, d);
        logqFlow[c0 + p] -= h * div[p];
      }
    }
  }
  let nonFinite = 0;
  for (let i = 0; i < count; i++) {
    let ok = Number.isFinite(logqMap[i]) && Number.isFinite(logqFlow[i]);
    for (let j = 0; ok && j < d; j++) ok = Number.isFinite(x[i * d + j]);
    if (!ok) nonFinite++;
  }
  return { x, logqMap, logqFlow, nonFinite };
}

/** Mean and largest |log q_map - log q_flow| over the finite particles: the solver's density error. */
export function logDetGap(r: LogDetResult): { mean: number; max: number; meanSigned: number } {
  let n = 0,
    s = 0,
    ss = 0,
    mx = 0;
  for (let i = 0; i < r.logqMap.length; i++) {
    const g = r.logqMap[i] - r.logqFlow[i];
    if (!Number.isFinite(g)) continue;
    n++;
    s += Math.abs(g);
    ss += g;
    mx = Math.max(mx, Math.abs(g));
  }
  return { mean: s / n, max: mx, meanSigned: ss / n };
}
