// Sampling with classifier guidance from any TrainedClassifier, on the CPU in f64:
//     s = s_u + w(t) grad_x log p_hat_t(target | x),
// s_u the exact unconditional score. It reuses the CPU reference's building blocks: the
// CpuStepper of the spec (its per-step table with the ODE/SDE coefficients, its tableau, its
// initial noise) and the exact MixtureEvaluator; only the guided score is new. The step is the
// CpuStepper's (same stages, same Euler-Maruyama noise stream n + 1 of particle p), so with
// the ExactClassifier this reproduces the reference's `classifier` guidance particle by
// particle up to rounding (test/classifiers/sample.test.ts).
//
// At alpha = 0 (flow at t = 1 only) the velocity is alpha' E_guided[x_0] + (sigma'/sigma) x
// and a trained classifier says nothing about the guided data mean there: it is taken as the
// unconditional data mean (the classifier's term is dropped for that one evaluation).
import type { ExperimentSpec, WSchedule } from '../../experiment/types.ts';
import { CpuStepper } from '../../cpu/reference.ts';
import { groupDataMean, MixtureEvaluator, type MixtureModel } from '../../model/mixture.ts';
import type { StepRow, StepTable } from '../../solvers/table.ts';
import type { Tableau } from '../../solvers/tableau.ts';
import { scheduleAt } from '../../guidance/schedule.ts';
import { fillNormals } from '../../rng/philox.ts';
import type { TrainedClassifier } from '../../model/classifier/classifier.ts';

export interface ClassifierSampleOptions {
  /** Overrides spec.particles. */
  particles?: number;
  /** First particle index (particles [first, first + count) of the spec's seed). */
  first?: number;
}

/**
 * The classifier-guided sampler's steps (CpuStepper's interface: table, tableau, initParticles,
 * step), so that a step can be taken alone (the GPU parity tests differentiate it).
 */
export class ClassifierStepper {
  readonly dim: number;
  readonly table: StepTable;
  readonly tableau: Tableau;
  readonly model: MixtureModel;
  readonly clf: TrainedClassifier;
  readonly schedule: WSchedule;
  /** The target's index in the classifier's classes. */
  readonly target: number;
  private readonly seed: number;
  private readonly base: CpuStepper;
  private readonly ev: MixtureEvaluator;
  private readonly meanU: Float64Array;
  private readonly xs: Float64Array;
  private readonly s: Float64Array;
  private readonly g: Float64Array;
  private readonly z: Float64Array;

  constructor(spec: ExperimentSpec, clf: TrainedClassifier, w: number | WSchedule) {
    this.schedule = typeof w === 'number' ? { kind: 'constant', w } : w;
    this.base = new CpuStepper({ ...spec, guidance: { kind: 'none' } });
    this.model = this.base.guidance.model;
    this.clf = clf;
    this.target = clf.classes.indexOf(spec.target);
    if (this.target < 0)
      throw new Error(`sampleWithClassifier: the classifier has no class ${JSON.stringify(spec.target)}`);
    this.dim = spec.dim;
    this.seed = spec.seed;
    this.table = this.base.table;
    this.tableau = this.base.tableau;
    if (this.tableau.denoised)
      throw new Error(`solver.kind: trained-classifier guidance runs euler, heun, rk4 or em, got ${spec.solver.kind}`);
    this.ev = new MixtureEvaluator(this.model);
    this.meanU = groupDataMean(this.model, this.model.unconditional);
    this.xs = new Float64Array(this.dim);
    this.s = new Float64Array(this.dim);
    this.g = new Float64Array(this.dim);
    this.z = new Float64Array(Math.ceil(this.dim / 4) * 4);
  }

  initParticles(first: number, count: number, x: Float64Array): void {
    this.base.initParticles(first, count, x);
  }

  /** w(t) of a row: 0 where the classifier's term is dropped (cs = 0, alpha = 0). */
  weightAt(row: StepRow): number {
    return row.cs !== 0 ? scheduleAt(this.schedule, row.t) : 0;
  }

  /** Advances particles [first, first + count), stored in x, by step n (k: one slab per stage). */
  step(n: number, first: number, count: number, x: Float64Array, k: Float64Array[]): void {
    const d = this.dim;
    const { tableau, xs, s, g, z } = this;
    const { stages, rows } = this.table;
    const uncond = this.model.unconditional;
    const h = rows[n * stages].h;
    for (let i = 0; i < stages; i++) {
      const row = rows[n * stages + i];
      const wt = this.weightAt(row);
      this.ev.setTime(row.alpha, row.sigma2);
      const ki = k[i];
      for (let p = 0; p < count; p++) {
        const o = p * d;
        for (let c = 0; c < d; c++) {
          let acc = x[o + c];
          for (let j = 0; j < i; j++) acc += h * tableau.a[i][j] * k[j][o + c];
          xs[c] = acc;
        }
        this.ev.evaluateComponents(xs);
        s.fill(0);
        this.ev.addGroupScore(uncond, 1, s);
        if (wt !== 0) {
          this.clf.gradLogProb(xs, row.t, this.target, g);
          for (let c = 0; c < d; c++) s[c] += wt * g[c];
        }
        for (let c = 0; c < d; c++) ki[o + c] = row.cx * xs[c] + row.cs * s[c] + row.cMean * this.meanU[c];
      }
    }
    for (let p = 0; p < count; p++) {
      const o = p * d;
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let i = 0; i < stages; i++) acc += tableau.b[i] * k[i][o + c];
        x[o + c] += h * acc;
      }
    }
    if (tableau.stochastic) {
      const noise = rows[n * stages].noiseScale;
      for (let p = 0; p < count; p++) {
        fillNormals(this.seed, first + p, n + 1, d, z);
        for (let c = 0; c < d; c++) x[p * d + c] += noise * z[c];
      }
    }
  }
}

export function sampleWithClassifier(
  spec: ExperimentSpec,
  clf: TrainedClassifier,
  w: number | WSchedule,
  opts: ClassifierSampleOptions = {},
): Float64Array {
  const stepper = new ClassifierStepper(spec, clf, w);
  const count = opts.particles ?? spec.particles;
  const first = opts.first ?? 0;
  const x = new Float64Array(count * spec.dim);
  const k = stepper.tableau.c.map(() => new Float64Array(count * spec.dim));
  stepper.initParticles(first, count, x);
  for (let n = 0; n < stepper.table.steps; n++) stepper.step(n, first, count, x, k);
  return x;
}
