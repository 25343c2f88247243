// The data distribution as one table of components shared by every class, and
// "groups" (a class, the unconditional law, an inline negative) that are weighted
// subsets of that table. One evaluation computes each component once; every
// group's log-density and score is then a log-sum-exp over its entries. The GPU
// kernel follows the same structure.
import type { Distribution, ExperimentSpec } from '../experiment/types.ts';
import {
  addComponentScoreJacobian,
  componentAtTime,
  componentLogDensityAndScore,
  componentScoreDivergence,
  makeComponentAtTime,
  prepareComponent,
  type ComponentAtTime,
  type PreparedComponent,
} from './components.ts';

export interface GroupEntry {
  component: number;
  /** log of the entry's weight within the group (weights sum to 1). */
  logWeight: number;
}

export interface Group {
  name: string;
  entries: GroupEntry[];
}

export interface MixtureModel {
  dim: number;
  components: PreparedComponent[];
  /** One group per class, in spec order, with log p(c). */
  classes: { name: string; logPrior: number; group: Group }[];
  /** p(x) = sum_c p(c) p(x | c). */
  unconditional: Group;
}

export function buildModel(spec: Pick<ExperimentSpec, 'dim' | 'classes'>): MixtureModel {
  const components: PreparedComponent[] = [];
  const classes = spec.classes.map((cls) => ({
    name: cls.name,
    logPrior: Math.log(cls.weight),
    group: addDistribution(components, cls, spec.dim, cls.name),
  }));
  const unconditional: Group = {
    name: 'unconditional',
    entries: classes.flatMap((c) =>
      c.group.entries.map((e) => ({ component: e.component, logWeight: c.logPrior + e.logWeight })),
    ),
  };
  return { dim: spec.dim, components, classes, unconditional };
}

/** Appends a distribution's components to the table and returns its group. */
export function addDistribution(components: PreparedComponent[], dist: Distribution, dim: number, name: string): Group {
  const entries = dist.components.map((c) => {
    components.push(prepareComponent(c, dim));
    return { component: components.length - 1, logWeight: Math.log(c.weight) };
  });
  return { name, entries };
}

export function classGroup(model: MixtureModel, name: string): Group {
  const cls = model.classes.find((c) => c.name === name);
  if (!cls) throw new Error(`unknown class ${JSON.stringify(name)}`);
  return cls.group;
}

/** E[x_0] under a group: the posterior mean where alpha = 0 (nothing is known of x_0 there). */
export function groupDataMean(model: MixtureModel, group: Group): Float64Array {
  const mean = new Float64Array(model.dim);
  for (const e of group.entries) {
    const m = model.components[e.component].dataMean;
    const w = Math.exp(e.logWeight);
    for (let i = 0; i < model.dim; i++) mean[i] += w * m[i];
  }
  return mean;
}

/**
 * Evaluates the noised mixture: setTime once per time, then at any number of points
 * evaluateComponents followed by group log-densities and scores. Holds its scratch so
 * that the hot loop allocates nothing.
 */
export class MixtureEvaluator {
  readonly model: MixtureModel;
  readonly componentLog: Float64Array;
  readonly componentScore: Float64Array;
  /** Each component's score divergence, from the last evaluateDivergences. */
  readonly componentDiv: Float64Array;
  private readonly atTime: ComponentAtTime[];
  private readonly y: Float64Array;
  private readonly weights: Float64Array;
  private readonly groupScore: Float64Array;

  constructor(model: MixtureModel) {
    this.model = model;
    this.componentLog = new Float64Array(model.components.length);
    this.componentScore = new Float64Array(model.components.length * model.dim);
    this.componentDiv = new Float64Array(model.components.length);
    this.groupScore = new Float64Array(model.dim);
    this.atTime = model.components.map(() => makeComponentAtTime(model.dim));
    this.y = new Float64Array(model.dim);
    this.weights = new Float64Array(model.components.length);
  }

  /** Prepares every component for the marginal at (alpha, sigma^2). */
  setTime(alpha: number, sigma2: number): void {
    const comps = this.model.components;
    for (let k = 0; k < comps.length; k++) componentAtTime(comps[k], alpha, sigma2, this.atTime[k]);
  }

  /** Computes every component's log-density and score at x (at the time of the last setTime). */
  evaluateComponents(x: ArrayLike<number>): void {
    const comps = this.model.components;
    const d = this.model.dim;
    for (let k = 0; k < comps.length; k++) {
      this.componentLog[k] = componentLogDensityAndScore(
        comps[k],
        this.atTime[k],
        x,
        this.componentScore,
        k * d,
        this.y,
      );
    }
  }

  /** Every component's score divergence at x (after evaluateComponents at the same x). */
  evaluateDivergences(x: ArrayLike<number>): void {
    const comps = this.model.components;
    for (let k = 0; k < comps.length; k++) this.componentDiv[k] = componentScoreDivergence(comps[k], this.atTime[k], x);
  }

  /**
   * div_x grad log p_t(x) of a group (after evaluateComponents and evaluateDivergences):
   * with responsibilities r_k and component scores g_k,
   *   div s = sum_k r_k (div g_k + |g_k|^2) - |sum_k r_k g_k|^2
   * (for a Gaussian div g_k = tr(-C_k^-1)).
   */
  groupScoreDivergence(group: Group): number {
    const d = this.model.dim;
    const entries = group.entries;
    const weights = this.weights;
    const sum = this.entryWeights(entries);
    if (sum === 0) return NaN;
    const mean = this.groupScore.fill(0);
    let acc = 0;
    for (let e = 0; e < entries.length; e++) {
      const r = weights[e] / sum;
      const k = entries[e].component;
      let g2 = 0;
      for (let i = 0; i < d; i++) {
        const g = this.componentScore[k * d + i];
        g2 += g * g;
        mean[i] += r * g;
      }
      acc += r * (this.componentDiv[k] + g2);
    }
    let m2 = 0;
    for (let i = 0; i < d; i++) m2 += mean[i] * mean[i];
    return acc - m2;
  }

  /**
   * out (dim x dim, row-major) += coefficient * the Jacobian of grad log p_t(x | group) (the
   * Hessian of the group's log-density) at x, after evaluateComponents(x): with responsibilities
   * r_k, component scores g_k and component Hessians H_k,
   *   H = sum_k r_k (H_k + g_k g_k^T) - s s^T,  s = sum_k r_k g_k
   * (its trace is groupScoreDivergence). Used by the exact log-determinant of the solver map.
   */
  addGroupScoreJacobian(group: Group, coefficient: number, x: ArrayLike<number>, out: Float64Array): void {
    const d = this.model.dim;
    const entries = group.entries;
    const weights = this.weights;
    const sum = this.entryWeights(entries);
    if (sum === 0) {
      out.fill(NaN);
      return;
    }
    const mean = this.groupScore.fill(0);
    for (let e = 0; e < entries.length; e++) {
      const r = weights[e] / sum;
      const k = entries[e].component;
      addComponentScoreJacobian(this.model.components[k], this.atTime[k], x, coefficient * r, out);
      for (let i = 0; i < d; i++) {
        const gi = this.componentScore[k * d + i];
        mean[i] += r * gi;
        for (let j = 0; j < d; j++) out[i * d + j] += coefficient * r * gi * this.componentScore[k * d + j];
      }
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] -= coefficient * mean[i] * mean[j];
  }

  /**
   * Fills this.weights[e] with entry e's w_e p_e(x) / max_e (one exp per entry: log-sum-exp)
   * and returns their sum; responsibilities are weights[e] / sum. Returns 0 when no entry has
   * any density at x (then the weights hold the log terms).
   */
  private entryWeights(entries: GroupEntry[]): number {
    const weights = this.weights;
    let max = -Infinity;
    for (let e = 0; e < entries.length; e++) {
      weights[e] = entries[e].logWeight + this.componentLog[entries[e].component];
      if (weights[e] > max) max = weights[e];
    }
    if (max === -Infinity) return 0;
    let sum = 0;
    for (let e = 0; e < entries.length; e++) sum += weights[e] = Math.exp(weights[e] - max);
    return sum;
  }

  /** log p_t(x) of a group, from the last evaluateComponents. */
  groupLogDensity(group: Group): number {
    let max = -Infinity;
    for (const e of group.entries) max = Math.max(max, e.logWeight + this.componentLog[e.component]);
    if (max === -Infinity) return -Infinity;
    let sum = 0;
    for (const e of group.entries) sum += Math.exp(e.logWeight + this.componentLog[e.component] - max);
    return max + Math.log(sum);
  }

  /** out += coefficient * grad log p_t(x) of a group (from the last evaluateComponents). */
  addGroupScore(group: Group, coefficient: number, out: Float64Array): void {
    const d = this.model.dim;
    const entries = group.entries;
    const weights = this.weights;
    const sum = this.entryWeights(entries);
    if (sum === 0) return;
    const scale = coefficient / sum;
    for (let e = 0; e < entries.length; e++) {
      const r = weights[e] * scale; // coefficient x responsibility w_k p_k(x) / p(x)
      const base = entries[e].component * d;
      for (let i = 0; i < d; i++) out[i] += r * this.componentScore[base + i];
    }
  }
}

/** A fresh evaluator with every component evaluated at one point x and time (alpha, sigma^2). */
function evaluatedAt(model: MixtureModel, x: ArrayLike<number>, alpha: number, sigma2: number): MixtureEvaluator {
  const ev = new MixtureEvaluator(model);
  ev.setTime(alpha, sigma2);
  ev.evaluateComponents(x);
  return ev;
}

/** Exact log p_t(x | group) at one point (convenience for tests and metrics). */
export function logDensityAt(
  model: MixtureModel,
  group: Group,
  x: ArrayLike<number>,
  alpha: number,
  sigma2: number,
): number {
  return evaluatedAt(model, x, alpha, sigma2).groupLogDensity(group);
}

/** Exact score grad log p_t(x | group) at one point. */
export function scoreAt(
  model: MixtureModel,
  group: Group,
  x: ArrayLike<number>,
  alpha: number,
  sigma2: number,
): Float64Array {
  const ev = evaluatedAt(model, x, alpha, sigma2);
  const out = new Float64Array(model.dim);
  ev.addGroupScore(group, 1, out);
  return out;
}

/** The exact noised classifier p_t(c | x) for every class, in spec order. */
export function classPosterior(model: MixtureModel, x: ArrayLike<number>, alpha: number, sigma2: number): Float64Array {
  const ev = evaluatedAt(model, x, alpha, sigma2);
  const logJoint = model.classes.map((c) => c.logPrior + ev.groupLogDensity(c.group));
  const max = Math.max(...logJoint);
  const unnorm = logJoint.map((l) => Math.exp(l - max));
  const total = unnorm.reduce((a, b) => a + b, 0);
  return Float64Array.from(unnorm, (u) => u / total);
}
