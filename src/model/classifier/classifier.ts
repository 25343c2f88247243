// Noise-conditional classifiers p_hat_t(c | x) as guidance sources.
//
// A TrainedClassifier gives log p_hat_t(. | x) and grad_x log p_hat_t(c | x) at any time t, so
// that a sampler can guide with s = s_u + w grad_x log p_hat_t(c | x) (src/studies/classifiers/sample.ts).
//
// PerLevelClassifier holds one network per time of a grid t_1 < ... < t_L (trained separately
// at each level: per-t models, no t input). Between two levels it interpolates the LOGITS
// linearly in a coordinate r(t),
//     logits_t(x) = (1 - lam) logits_a(x) + lam logits_b(x),  lam = (r(t) - r(t_a)) / (r(t_b) - r(t_a)),
// and normalises (a geometric mixture of the two levels' classifiers, again a softmax); at a
// level it is exactly that level's network; outside [t_1, t_L] it is the nearest end level.
// With the process given, r = alpha / sigma (the square root of the signal-to-noise ratio):
// at low SNR log p_t(x|c) = log N(x; 0, sigma^2) + alpha m_c . x / sigma^2 + O(alpha^2), so the
// exact logits are linear in alpha/sigma to first order (sigma ~ 1 there) and this
// interpolation is nearly exact across the long low-SNR stretch of the path; in log t it would
// overshoot there badly (the logits fall like e^-t for OU while log t barely moves), which
// showed as a coherent push of the guided samples (README, "Trained classifiers"). Without a
// process, r = log t. Its gradient is the exact gradient of this interpolated classifier:
//     grad_x log p_hat(c|x) = sum_levels weight * J_level(x)^T (e_c - p_hat(.|x)).
//
// ExactClassifier is the true noised classifier p_t(c|x) = p(c) p_t(x|c) / p_t(x) of the
// mixture, with grad_x log p_t(c|x) = s_c - s_u; PriorClassifier is the constant p(c) (the
// "no information" classifier: zero gradient, cross-entropy H(c)).
import { MixtureEvaluator, type MixtureModel } from '../mixture.ts';
import { processAt } from '../../processes/process.ts';
import type { ProcessSpec } from '../../experiment/types.ts';
import { logSoftmax, type Network } from './network.ts';

export interface TrainedClassifier {
  /** Class names, in spec order (the index c of gradLogProb). */
  readonly classes: string[];
  /** log p_hat_t(c | x) for every class (a fresh array, or scratch the next call may overwrite). */
  logProb(x: Float64Array, t: number): Float64Array;
  /** out = grad_x log p_hat_t(c | x). */
  gradLogProb(x: Float64Array, t: number, c: number, out: Float64Array): void;
}

/** alpha(t) / sigma(t): the square root of the signal-to-noise ratio, decreasing in t. */
export function snrAmplitude(process: ProcessSpec, t: number): number {
  const p = processAt(process, t);
  return p.alpha / Math.sqrt(p.sigma2);
}

export class ExactClassifier implements TrainedClassifier {
  readonly classes: string[];
  private readonly model: MixtureModel;
  private readonly process: ProcessSpec;
  private readonly ev: MixtureEvaluator;
  private readonly out: Float64Array;
  private t = NaN;

  constructor(model: MixtureModel, process: ProcessSpec) {
    this.model = model;
    this.process = process;
    this.classes = model.classes.map((c) => c.name);
    this.ev = new MixtureEvaluator(model);
    this.out = new Float64Array(model.classes.length);
  }

  private at(x: Float64Array, t: number): void {
    if (t !== this.t) {
      const p = processAt(this.process, t);
      this.ev.setTime(p.alpha, p.sigma2);
      this.t = t;
    }
    this.ev.evaluateComponents(x);
  }

  logProb(x: Float64Array, t: number): Float64Array {
    this.at(x, t);
    const K = this.model.classes.length;
    for (let k = 0; k < K; k++)
      this.out[k] = this.model.classes[k].logPrior + this.ev.groupLogDensity(this.model.classes[k].group);
    logSoftmax(this.out, K, this.out);
    return this.out;
  }

  gradLogProb(x: Float64Array, t: number, c: number, out: Float64Array): void {
    this.at(x, t);
    out.fill(0);
    this.ev.addGroupScore(this.model.classes[c].group, 1, out);
    this.ev.addGroupScore(this.model.unconditional, -1, out);
  }
}

export class PriorClassifier implements TrainedClassifier {
  readonly classes: string[];
  private readonly logPrior: Float64Array;

  constructor(model: MixtureModel) {
    this.classes = model.classes.map((c) => c.name);
    this.logPrior = Float64Array.from(model.classes, (c) => c.logPrior);
  }

  logProb(): Float64Array {
    return this.logPrior;
  }

  gradLogProb(_x: Float64Array, _t: number, _c: number, out: Float64Array): void {
    out.fill(0);
  }
}

export class PerLevelClassifier implements TrainedClassifier {
  readonly classes: string[];
  /** Increasing times of the levels. */
  readonly times: number[];
  readonly nets: Network[];
  /** The interpolation coordinate r(t): alpha/sigma with a process, else log t. */
  readonly coordinate: (t: number) => number;
  private readonly coords: number[];
  private readonly logits: Float64Array;
  private readonly lp: Float64Array;
  private readonly delta: Float64Array;

  constructor(classes: string[], times: number[], nets: Network[], process?: ProcessSpec) {
    if (times.length === 0 || times.length !== nets.length)
      throw new Error('PerLevelClassifier: one network per level');
    for (let i = 1; i < times.length; i++)
      if (!(times[i] > times[i - 1])) throw new Error('PerLevelClassifier: times must increase');
    if (!(times[0] > 0)) throw new Error('PerLevelClassifier: times must be > 0');
    this.classes = classes;
    this.times = times;
    this.nets = nets;
    this.coordinate = process ? (t) => snrAmplitude(process, t) : Math.log;
    this.coords = times.map(this.coordinate);
    this.logits = new Float64Array(classes.length);
    this.lp = new Float64Array(classes.length);
    this.delta = new Float64Array(classes.length);
  }

  /** The two levels around t and the weight of the upper one. */
  bracket(t: number): { lo: number; hi: number; lam: number } {
    const L = this.times.length;
    if (!(t > this.times[0])) return { lo: 0, hi: 0, lam: 0 };
    if (t >= this.times[L - 1]) return { lo: L - 1, hi: L - 1, lam: 0 };
    let hi = 1;
    while (this.times[hi] <= t) hi++;
    const lo = hi - 1;
    const lam = (this.coordinate(t) - this.coords[lo]) / (this.coords[hi] - this.coords[lo]);
    return { lo, hi, lam: Math.min(1, Math.max(0, lam)) };
  }

  logProb(x: Float64Array, t: number): Float64Array {
    const { lo, hi, lam } = this.bracket(t);
    const K = this.classes.length;
    const a = this.nets[lo].forward(x);
    for (let k = 0; k < K; k++) this.logits[k] = a[k];
    if (lam > 0) {
      const b = this.nets[hi].forward(x);
      for (let k = 0; k < K; k++) this.logits[k] = (1 - lam) * this.logits[k] + lam * b[k];
    }
    logSoftmax(this.logits, K, this.lp);
    return this.lp;
  }

  gradLogProb(x: Float64Array, t: number, c: number, out: Float64Array): void {
    const { lo, hi, lam } = this.bracket(t);
    const K = this.classes.length;
    this.logProb(x, t);
    for (let k = 0; k < K; k++) this.delta[k] = (k === c ? 1 : 0) - Math.exp(this.lp[k]);
    out.fill(0);
    // logProb ran each level's forward pass once; each network keeps its own state for backward
    // (lo !== hi whenever lam > 0).
    this.nets[lo].backward(x, this.delta, 1 - lam, null, out);
    if (lam > 0) this.nets[hi].backward(x, this.delta, lam, null, out);
  }
}
