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
import type { ExperimentSpec, WSchedule } from '../spec/types.ts';
import { CpuStepper } from '../cpu/reference.ts';
import { groupDataMean, MixtureEvaluator } from '../model/mixture.ts';
import { scheduleAt } from '../guidance/schedule.ts';
import { fillNormals } from '../rng/philox.ts';
import type { TrainedClassifier } from './classifier.ts';

export interface ClassifierSampleOptions {
  /** Overrides spec.particles. */
  particles?: number;
  /** First particle index (particles [first, first + count) of the spec's seed). */
  first?: number;
}

export function sampleWithClassifier(
  spec: ExperimentSpec,
  clf: TrainedClassifier,
  w: number | WSchedule,
  opts: ClassifierSampleOptions = {},
): Float64Array {
  const schedule: WSchedule = typeof w === 'number' ? { kind: 'constant', w } : w;
  const stepper = new CpuStepper({ ...spec, guidance: { kind: 'none' } });
  const model = stepper.guidance.model;
  const target = clf.classes.indexOf(spec.target);
  if (target < 0) throw new Error(`sampleWithClassifier: the classifier has no class ${JSON.stringify(spec.target)}`);
  const d = spec.dim;
  const count = opts.particles ?? spec.particles;
  const first = opts.first ?? 0;
  const ev = new MixtureEvaluator(model);
  const uncond = model.unconditional;
  const meanU = groupDataMean(model, uncond);
  const { table, tableau } = stepper;
  const { stages, rows } = table;
  const x = new Float64Array(count * d);
  const k = tableau.c.map(() => new Float64Array(count * d));
  const xs = new Float64Array(d);
  const s = new Float64Array(d);
  const g = new Float64Array(d);
  const z = new Float64Array(Math.ceil(d / 4) * 4);
  stepper.initParticles(first, count, x);
  for (let n = 0; n < table.steps; n++) {
    const h = rows[n * stages].h;
    for (let i = 0; i < stages; i++) {
      const row = rows[n * stages + i];
      const wt = scheduleAt(schedule, row.t);
      ev.setTime(row.alpha, row.sigma2);
      const ki = k[i];
      for (let p = 0; p < count; p++) {
        const o = p * d;
        for (let c = 0; c < d; c++) {
          let acc = x[o + c];
          for (let j = 0; j < i; j++) acc += h * tableau.a[i][j] * k[j][o + c];
          xs[c] = acc;
        }
        ev.evaluateComponents(xs);
        s.fill(0);
        ev.addGroupScore(uncond, 1, s);
        if (wt !== 0 && row.cs !== 0) {
          clf.gradLogProb(xs, row.t, target, g);
          for (let c = 0; c < d; c++) s[c] += wt * g[c];
        }
        for (let c = 0; c < d; c++) ki[o + c] = row.cx * xs[c] + row.cs * s[c] + row.cMean * meanU[c];
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
        fillNormals(spec.seed, first + p, n + 1, d, z);
        for (let c = 0; c < d; c++) x[p * d + c] += noise * z[c];
      }
    }
  }
  return x;
}
