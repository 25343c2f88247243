// The Feynman-Kac corrector on the CPU, in f64: the reference for src/gpu/fk.ts, with the
// same structure (initialise and weigh; per step: move, weigh, then resample when the ESS
// is low) and the same random numbers (Philox streams per particle slot, and per step for
// the resampling offset). Weights and resampling: src/corrector/fk.ts.
import { type ExperimentPlan, planOf } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import {
  backwardResidual,
  blockStats,
  initialConstant,
  logPriorKernel,
  recordStep,
  resampleUniform,
  stepConstant,
  summariseBlocks,
  systematicAncestors,
  type FkReport,
} from '../corrector/fk.ts';
import { fillNormals } from '../rng/philox.ts';
import { priorScale } from '../processes/process.ts';
import { CpuStepper, type SampleResult } from './reference.ts';
import type { StepRow } from '../solvers/table.ts';

export interface FkSampleResult extends SampleResult {
  fk: FkReport;
}

export interface CpuFkOptions {
  /** First particle index (default 0): the population's slots are [first, first + N). */
  firstParticle?: number;
  onProgress?: (stepsDone: number, steps: number) => void;
  /**
   * Called after each step's weights, before resampling (tests compare the GPU's with these).
   * `magnitudes`: per particle, the sum of the absolute values of the terms added into its
   * log-weight since the last resampling: the scale of its f32 rounding error.
   */
  onWeights?: (step: number, logWeights: Float64Array, particles: Float64Array, magnitudes: Float64Array) => void;
}

export function sampleCpuFk(source: ExperimentSpec | ExperimentPlan, opts: CpuFkOptions = {}): FkSampleResult {
  const plan = planOf(source);
  const spec = plan.spec;
  const corrector = spec.corrector;
  if (!corrector || corrector.kind !== 'fk') throw new Error('sampleCpuFk: the spec has no fk corrector');
  const stepper = new CpuStepper(plan);
  const { dim, seed } = spec;
  const count = spec.particles;
  const first = opts.firstParticle ?? 0;
  const { rows, terminal, steps } = stepper.table;
  const prior = priorScale(spec.process);

  let x: Float64Array = new Float64Array(count * dim);
  let drift: Float64Array = new Float64Array(count * dim);
  let logQ: Float64Array = new Float64Array(count);
  const logW = new Float64Array(count);
  const magnitude = new Float64Array(count);
  const z = new Float64Array(Math.ceil(dim / 4) * 4);
  const report: FkReport = {
    essFraction: [],
    resampledAfter: [],
    logNormaliser: initialConstant(dim, prior),
    nonFiniteDiscarded: 0,
  };

  // Initialise: x_T from the prior, its drift and tilted log-density at row 0, and
  // log w_0 = log q_0(x_T) - log prior(x_T).
  stepper.initParticles(first, count, x);
  stepper.setTime(rows[0]);
  for (let p = 0; p < count; p++) {
    const xp = x.subarray(p * dim, (p + 1) * dim);
    stepper.velocity(xp, rows[0], drift, p * dim);
    logQ[p] = stepper.logTilted(rows[0]);
    let sq = 0;
    for (let i = 0; i < dim; i++) sq += xp[i] * xp[i];
    logW[p] = logQ[p] - logPriorKernel(sq, prior);
    magnitude[p] = Math.abs(logQ[p]) + Math.abs(logPriorKernel(sq, prior));
  }

  for (let n = 0; n < steps; n++) {
    const row = rows[n];
    const next = n + 1 < steps ? rows[n + 1] : terminal;
    stepper.setTime(next);
    for (let p = 0; p < count; p++) {
      fillNormals(seed, first + p, n + 1, dim, z);
      const o = p * dim;
      const moved = fkMove(stepper, row, next, x.subarray(o, o + dim), drift.subarray(o, o + dim), logQ[p], z);
      logW[p] += moved.increment;
      logQ[p] = moved.logQ;
      magnitude[p] += moved.magnitude;
    }
    report.logNormaliser += stepConstant(row, dim);
    opts.onWeights?.(n, logW, x, magnitude);

    const summary = summariseBlocks(blockStats(logW, count));
    if (recordStep(report, summary, n, steps, count, corrector.essThreshold)) {
      const ancestors = systematicAncestors(logW, count, resampleUniform(seed, n, first));
      ({ x, drift, logQ } = gather(ancestors, dim, x, drift, logQ));
      logW.fill(0);
      magnitude.fill(0);
    }
    opts.onProgress?.(n + 1, steps);
  }
  return { particles: x, count, dim, fk: report };
}

/**
 * One particle's corrected em step (shaders/step.wgsl fk_dispatch): moves x in place by
 * h drift + noise z (the drift evaluated at x with `row`), evaluates the new drift (into
 * `drift`) and log q at the new point with `next`, and returns the log-weight increment
 * without its constant (src/corrector/fk.ts), the new log q, and the sum of the absolute values
 * of the increment's terms (the scale of its rounding error). The stepper's time must be
 * next's (setTime).
 */
export function fkMove(
  stepper: CpuStepper,
  row: StepRow,
  next: StepRow,
  x: Float64Array,
  drift: Float64Array,
  logQOld: number,
  z: Float64Array,
): { increment: number; logQ: number; magnitude: number } {
  let back2 = 0;
  let z2 = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = row.h * drift[i] + row.noiseScale * z[i];
    const back = backwardResidual(row.backShrink, x[i], dx);
    back2 += back * back;
    z2 += z[i] * z[i];
    x[i] += dx;
  }
  stepper.velocity(x, next, drift, 0);
  const logQ = stepper.logTilted(next);
  const magnitude = Math.abs(logQ) + Math.abs(logQOld) + row.backHalfPrecision * back2 + 0.5 * z2;
  return { increment: logQ - logQOld - row.backHalfPrecision * back2 + 0.5 * z2, logQ, magnitude };
}

function gather(
  ancestors: Uint32Array,
  dim: number,
  x: Float64Array,
  drift: Float64Array,
  logQ: Float64Array,
): { x: Float64Array; drift: Float64Array; logQ: Float64Array } {
  const nx = new Float64Array(x.length);
  const nd = new Float64Array(drift.length);
  const nq = new Float64Array(logQ.length);
  ancestors.forEach((a, j) => {
    nx.set(x.subarray(a * dim, (a + 1) * dim), j * dim);
    nd.set(drift.subarray(a * dim, (a + 1) * dim), j * dim);
    nq[j] = logQ[a];
  });
  return { x: nx, drift: nd, logQ: nq };
}
