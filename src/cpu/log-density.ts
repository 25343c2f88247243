// The CPU (f64) implementation of LogDensityBackend (src/backend/log-density.ts):
// particles and their log-density carried through the same CpuStepper steps as plain sampling.
import type { CarryOptions, CarryResult, LogDensityBackend } from '../backend/log-density.ts';
import { assertLogDensitySupported } from '../model/divergence.ts';
import { logDensityAt } from '../model/mixture.ts';
import { planGuidance } from '../guidance/guidance.ts';
import { priorScale, processAt, startTime } from '../processes/process.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { CPU_CHUNK, CpuStepper } from './reference.ts';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * log p_start(x) of count points: the prior N(0, priorScale^2 I), or with start "exact" the
 * exact noised target law p_T(x | target).
 */
export function logStartDensity(spec: ExperimentSpec, x: Float64Array, count: number): Float64Array {
  const d = spec.dim;
  const out = new Float64Array(count);
  if (spec.start === 'exact') {
    const g = planGuidance(spec);
    const p = processAt(spec.process, startTime(spec.process));
    for (let i = 0; i < count; i++)
      out[i] = logDensityAt(g.model, g.target, x.subarray(i * d, (i + 1) * d), p.alpha, p.sigma2);
    return out;
  }
  const s2 = priorScale(spec.process) ** 2;
  for (let i = 0; i < count; i++) {
    let r2 = 0;
    for (let j = 0; j < d; j++) r2 += x[i * d + j] ** 2;
    out[i] = -0.5 * d * (LOG_2PI + Math.log(s2)) - (0.5 * r2) / s2;
  }
  return out;
}

/** Synchronous CPU carry (the contract of src/backend/log-density.ts). */
export function carryCpu(spec: ExperimentSpec, opts: CarryOptions): CarryResult {
  assertLogDensitySupported(spec);
  const { first, count, direction } = opts;
  const d = spec.dim;
  const stepper = new CpuStepper(spec, { reverse: direction === 'forward' });
  const x = new Float64Array(count * d);
  if (opts.initial) {
    if (opts.initial.length !== count * d)
      throw new Error(`carry: initial has ${opts.initial.length} numbers, expected ${count} x ${d}`);
    x.set(opts.initial);
  } else if (direction === 'forward') {
    throw new Error('carry: a forward run needs initial points');
  } else {
    stepper.initParticles(first, count, x);
  }
  const logq = new Float64Array(count);
  if (opts.initialLogDensity) logq.set(opts.initialLogDensity);
  else if (direction === 'backward') logq.set(logStartDensity(spec, x, count));
  for (let c0 = 0; c0 < count; c0 += CPU_CHUNK) {
    const n = Math.min(CPU_CHUNK, count - c0);
    const xc = x.subarray(c0 * d, (c0 + n) * d);
    const lc = logq.subarray(c0, c0 + n);
    const k = stepper.tableau.c.map(() => new Float64Array(n * d));
    for (let s = 0; s < stepper.table.steps; s++) stepper.step(s, first + c0, n, xc, k, null, lc);
  }
  let nonFinite = 0;
  for (let i = 0; i < count; i++) {
    let ok = Number.isFinite(logq[i]);
    for (let j = 0; ok && j < d; j++) ok = Number.isFinite(x[i * d + j]);
    if (!ok) nonFinite++;
  }
  return { x, logq, nonFinite };
}

export const cpuLogDensityBackend: LogDensityBackend = {
  name: 'cpu',
  carry: async (spec, opts) => carryCpu(spec, opts),
};
