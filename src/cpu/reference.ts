// The CPU reference backend, in f64: plain and deterministic by seed. Its
// structure mirrors the WGSL step kernel (shaders/step.wgsl): initialise a
// particle from stream 0 of the counter-based generator, then for each step
// evaluate the guided velocity at the tableau's stages from the step table.
import type { ExperimentSpec } from '../spec/types.ts';
import { planGuidance, type GuidancePlan } from '../guidance/guidance.ts';
import { groupDataMean, MixtureEvaluator } from '../model/mixture.ts';
import { priorScale } from '../processes/process.ts';
import { buildStepTable, type StepRow, type StepTable } from '../solvers/table.ts';
import { TABLEAUS, type Tableau } from '../solvers/tableau.ts';
import { fillNormals } from '../rng/philox.ts';

export class CpuStepper {
  readonly dim: number;
  readonly guidance: GuidancePlan;
  readonly table: StepTable;
  readonly tableau: Tableau;
  private readonly seed: number;
  private readonly prior: number;
  private readonly ev: MixtureEvaluator;
  private readonly targetMean: Float64Array;
  private readonly negativeMean: Float64Array;
  private readonly s: Float64Array;
  private readonly xs: Float64Array;
  private readonly k: Float64Array[];
  private readonly z: Float64Array;

  constructor(spec: ExperimentSpec) {
    this.dim = spec.dim;
    this.seed = spec.seed;
    this.guidance = planGuidance(spec);
    this.table = buildStepTable(spec, this.guidance);
    this.tableau = TABLEAUS[spec.solver.kind];
    this.prior = priorScale(spec.process);
    this.ev = new MixtureEvaluator(this.guidance.model);
    this.targetMean = groupDataMean(this.guidance.model, this.guidance.target);
    this.negativeMean = this.guidance.negative
      ? groupDataMean(this.guidance.model, this.guidance.negative)
      : new Float64Array(this.dim);
    this.s = new Float64Array(this.dim);
    this.xs = new Float64Array(this.dim);
    this.k = this.tableau.c.map(() => new Float64Array(this.dim));
    this.z = new Float64Array(Math.ceil(this.dim / 4) * 4);
  }

  /** x_T: stream 0 of the generator, scaled to the prior. */
  initParticle(particle: number, x: Float64Array): void {
    fillNormals(this.seed, particle, 0, this.dim, this.z);
    for (let i = 0; i < this.dim; i++) x[i] = this.prior * this.z[i];
  }

  /** The guided score s = gammaTarget s_target + gammaNegative s_negative, into this.s. */
  guidedScore(x: Float64Array, row: StepRow): Float64Array {
    this.ev.evaluateComponents(x, row.alpha, row.sigma2);
    this.s.fill(0);
    this.ev.addGroupScore(this.guidance.target, row.gammaTarget, this.s);
    if (this.guidance.negative && row.gammaNegative !== 0) {
      this.ev.addGroupScore(this.guidance.negative, row.gammaNegative, this.s);
    }
    return this.s;
  }

  /** u = cx x + cs s + cMean (guided data mean): the ODE velocity, or the SDE drift. */
  velocity(x: Float64Array, row: StepRow, out: Float64Array): void {
    const s = this.guidedScore(x, row);
    for (let i = 0; i < this.dim; i++) {
      const mean = row.gammaTarget * this.targetMean[i] + row.gammaNegative * this.negativeMean[i];
      out[i] = row.cx * x[i] + row.cs * s[i] + row.cMean * mean;
    }
  }

  /** Advances x in place by step n. */
  step(particle: number, n: number, x: Float64Array): void {
    const { stages, rows } = this.table;
    const { a, b } = this.tableau;
    const h = rows[n * stages].h;
    for (let i = 0; i < stages; i++) {
      for (let d = 0; d < this.dim; d++) {
        let acc = x[d];
        for (let j = 0; j < i; j++) acc += h * a[i][j] * this.k[j][d];
        this.xs[d] = acc;
      }
      this.velocity(this.xs, rows[n * stages + i], this.k[i]);
    }
    for (let d = 0; d < this.dim; d++) {
      let acc = 0;
      for (let i = 0; i < stages; i++) acc += b[i] * this.k[i][d];
      x[d] += h * acc;
    }
    if (this.tableau.stochastic) {
      fillNormals(this.seed, particle, n + 1, this.dim, this.z);
      const noise = rows[n * stages].noiseScale;
      for (let d = 0; d < this.dim; d++) x[d] += noise * this.z[d];
    }
  }
}

export interface SampleResult {
  /** Row-major particles x N x dim, as f64. Non-finite particles are kept, not dropped. */
  particles: Float64Array;
  count: number;
  dim: number;
}

export interface CpuSampleOptions {
  /** Called now and then with (particles done, total). */
  onProgress?: (done: number, total: number) => void;
}

export function sampleCpu(spec: ExperimentSpec, opts: CpuSampleOptions = {}): SampleResult {
  const stepper = new CpuStepper(spec);
  const { dim, particles: count } = spec;
  const out = new Float64Array(count * dim);
  const x = new Float64Array(dim);
  const reportEvery = Math.max(1, Math.floor(count / 200));
  for (let p = 0; p < count; p++) {
    stepper.initParticle(p, x);
    for (let n = 0; n < stepper.table.steps; n++) stepper.step(p, n, x);
    out.set(x, p * dim);
    if (opts.onProgress && (p + 1) % reportEvery === 0) opts.onProgress(p + 1, count);
  }
  opts.onProgress?.(count, count);
  return { particles: out, count, dim };
}
