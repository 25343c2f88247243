// A small fully connected classifier p_hat(c | x) = softmax(net(phi(x))), differentiable in x.
//
//   z_0 = (phi(x) - mu) / sd          features (src/model/classifier/features.ts), standardised with
//                                     the training set's mean and standard deviation
//   z_l = act(W_l z_{l-1} + b_l)      hidden layers (tanh or SiLU), l = 1..L-1
//   logits = W_L z_{L-1} + b_L        one per class
//
// With no hidden layer this is multinomial logistic regression on phi(x). Gradients, with
// respect to the parameters (training) and to x (guidance), are written out by hand
// (backpropagation); the tests check both against finite differences.
import { featureMap, type FeatureKind, type FeatureMap } from './features.ts';
import type { ClfStream } from './rng.ts';

export type Activation = 'tanh' | 'silu';
export const ACTIVATIONS: readonly Activation[] = ['tanh', 'silu'];

export interface NetworkConfig {
  dim: number;
  classes: number;
  features: FeatureKind;
  /** Hidden layer widths; [] is logistic regression. */
  hidden: number[];
  activation: Activation;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** log-softmax of logits[0..k) into out, returns nothing; stable. */
export function logSoftmax(logits: ArrayLike<number>, k: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < k; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < k; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < k; i++) out[i] = logits[i] - lse;
}

export class Network {
  readonly config: NetworkConfig;
  readonly features: FeatureMap;
  /** Layer sizes [F, h_1, ..., K]. */
  readonly sizes: number[];
  readonly params: Float64Array;
  /** Offsets of W_l (row-major, out x in) and b_l in params, l = 1..L stored at index l - 1. */
  readonly wOffset: number[];
  readonly bOffset: number[];
  readonly featMean: Float64Array;
  readonly featInvStd: Float64Array;
  private readonly f: Float64Array;
  /** act[0] = standardised features, act[l] = layer l's output (act[L] = logits). */
  private readonly act: Float64Array[];
  private readonly pre: Float64Array[];
  private readonly delta: Float64Array[];
  private readonly gFeat: Float64Array;
  private readonly p: Float64Array;
  private readonly dLogits: Float64Array;

  constructor(config: NetworkConfig) {
    this.config = config;
    this.features = featureMap(config.features, config.dim);
    this.sizes = [this.features.size, ...config.hidden, config.classes];
    this.wOffset = [];
    this.bOffset = [];
    let n = 0;
    for (let l = 1; l < this.sizes.length; l++) {
      this.wOffset.push(n);
      n += this.sizes[l] * this.sizes[l - 1];
      this.bOffset.push(n);
      n += this.sizes[l];
    }
    this.params = new Float64Array(n);
    const F = this.features.size;
    this.featMean = new Float64Array(F);
    this.featInvStd = new Float64Array(F).fill(1);
    this.f = new Float64Array(F);
    this.act = this.sizes.map((s) => new Float64Array(s));
    this.pre = this.sizes.map((s) => new Float64Array(s));
    this.delta = this.sizes.map((s) => new Float64Array(s));
    this.gFeat = new Float64Array(F);
    this.p = new Float64Array(config.classes);
    this.dLogits = new Float64Array(config.classes);
  }

  get layers(): number {
    return this.sizes.length - 1;
  }

  get classes(): number {
    return this.config.classes;
  }

  /** Sets mu and sd of the features from a data set (n x dim); a constant feature keeps sd = 1. */
  standardise(x: Float64Array, n: number): void {
    const F = this.features.size;
    const d = this.config.dim;
    const sum = new Float64Array(F);
    const sum2 = new Float64Array(F);
    for (let i = 0; i < n; i++) {
      this.features.apply(x.subarray(i * d, (i + 1) * d), this.f);
      for (let j = 0; j < F; j++) sum[j] += this.f[j];
    }
    for (let j = 0; j < F; j++) this.featMean[j] = sum[j] / n;
    for (let i = 0; i < n; i++) {
      this.features.apply(x.subarray(i * d, (i + 1) * d), this.f);
      for (let j = 0; j < F; j++) sum2[j] += (this.f[j] - this.featMean[j]) ** 2;
    }
    for (let j = 0; j < F; j++) {
      const sd = Math.sqrt(sum2[j] / Math.max(1, n - 1));
      this.featInvStd[j] = sd > 1e-12 * (1 + Math.abs(this.featMean[j])) ? 1 / sd : 1;
    }
  }

  /** Glorot-uniform weights, zero biases; the output biases are set to `outputBias` if given. */
  initialise(rng: ClfStream, outputBias?: ArrayLike<number>): void {
    this.params.fill(0);
    for (let l = 1; l <= this.layers; l++) {
      const fanIn = this.sizes[l - 1];
      const fanOut = this.sizes[l];
      const a = Math.sqrt(6 / (fanIn + fanOut));
      const off = this.wOffset[l - 1];
      for (let i = 0; i < fanIn * fanOut; i++) this.params[off + i] = a * (2 * rng.uniform() - 1);
    }
    if (outputBias) {
      const off = this.bOffset[this.layers - 1];
      for (let k = 0; k < this.classes; k++) this.params[off + k] = outputBias[k];
    }
  }

  /** Standardised features of x into act[0] (also used by the Newton trainer). */
  inputs(x: ArrayLike<number>): Float64Array {
    this.features.apply(x, this.f);
    const z = this.act[0];
    for (let j = 0; j < z.length; j++) z[j] = (this.f[j] - this.featMean[j]) * this.featInvStd[j];
    return z;
  }

  /** Forward pass; returns the logits (a view, overwritten by the next call). */
  forward(x: ArrayLike<number>): Float64Array {
    this.inputs(x);
    const P = this.params;
    const L = this.layers;
    for (let l = 1; l <= L; l++) {
      const nIn = this.sizes[l - 1];
      const nOut = this.sizes[l];
      const W = this.wOffset[l - 1];
      const B = this.bOffset[l - 1];
      const inp = this.act[l - 1];
      const pre = this.pre[l];
      const out = this.act[l];
      for (let o = 0; o < nOut; o++) {
        let acc = P[B + o];
        const row = W + o * nIn;
        for (let i = 0; i < nIn; i++) acc += P[row + i] * inp[i];
        pre[o] = acc;
      }
      if (l === L) out.set(pre);
      else if (this.config.activation === 'tanh') for (let o = 0; o < nOut; o++) out[o] = Math.tanh(pre[o]);
      else for (let o = 0; o < nOut; o++) out[o] = pre[o] * sigmoid(pre[o]);
    }
    return this.act[L];
  }

  /**
   * Backpropagates dL/dlogits = `dLogits` through the last forward pass: adds scale x the
   * parameter gradient to `paramGrad` and scale x grad_x to `gradX` (either may be null).
   */
  backward(
    x: ArrayLike<number>,
    dLogits: ArrayLike<number>,
    scale: number,
    paramGrad: Float64Array | null,
    gradX: Float64Array | null,
  ): void {
    const P = this.params;
    const L = this.layers;
    const dL = this.delta[L];
    for (let k = 0; k < this.classes; k++) dL[k] = scale * dLogits[k];
    for (let l = L; l >= 1; l--) {
      const nIn = this.sizes[l - 1];
      const nOut = this.sizes[l];
      const W = this.wOffset[l - 1];
      const B = this.bOffset[l - 1];
      const inp = this.act[l - 1];
      const dOut = this.delta[l];
      if (paramGrad) {
        for (let o = 0; o < nOut; o++) {
          const g = dOut[o];
          paramGrad[B + o] += g;
          const row = W + o * nIn;
          for (let i = 0; i < nIn; i++) paramGrad[row + i] += g * inp[i];
        }
      }
      if (l === 1 && !gradX) break;
      const dIn = this.delta[l - 1];
      dIn.fill(0);
      for (let o = 0; o < nOut; o++) {
        const g = dOut[o];
        const row = W + o * nIn;
        for (let i = 0; i < nIn; i++) dIn[i] += P[row + i] * g;
      }
      if (l > 1) {
        // through the activation of layer l - 1
        const pre = this.pre[l - 1];
        const a = this.act[l - 1];
        if (this.config.activation === 'tanh') for (let i = 0; i < nIn; i++) dIn[i] *= 1 - a[i] * a[i];
        else
          for (let i = 0; i < nIn; i++) {
            const s = sigmoid(pre[i]);
            dIn[i] *= s * (1 + pre[i] * (1 - s));
          }
      }
    }
    if (gradX) {
      const d0 = this.delta[0];
      for (let j = 0; j < d0.length; j++) this.gFeat[j] = d0[j] * this.featInvStd[j];
      this.features.vjp(x, this.gFeat, gradX);
    }
  }

  /** log p_hat(. | x) into out (length classes). */
  logProb(x: ArrayLike<number>, out: Float64Array): Float64Array {
    logSoftmax(this.forward(x), this.classes, out);
    return out;
  }

  /** grad_x log p_hat(c | x) into out (overwritten). */
  gradLogProb(x: ArrayLike<number>, c: number, out: Float64Array): void {
    logSoftmax(this.forward(x), this.classes, this.p);
    for (let k = 0; k < this.classes; k++) this.dLogits[k] = (k === c ? 1 : 0) - Math.exp(this.p[k]);
    out.fill(0);
    this.backward(x, this.dLogits, 1, null, out);
  }

  /**
   * Mean cross-entropy over rows idx[from..to) of (x, c); adds its parameter gradient to
   * `grad` (zeroed by the caller). Returns the mean loss.
   */
  lossAndGrad(
    x: Float64Array,
    c: Int32Array,
    idx: ArrayLike<number>,
    from: number,
    to: number,
    grad: Float64Array,
  ): number {
    const d = this.config.dim;
    const m = to - from;
    let loss = 0;
    for (let r = from; r < to; r++) {
      const i = idx[r];
      const xi = x.subarray(i * d, (i + 1) * d);
      logSoftmax(this.forward(xi), this.classes, this.p);
      loss -= this.p[c[i]];
      // d(-log p_c)/dlogits = p - e_c
      for (let k = 0; k < this.classes; k++) this.dLogits[k] = Math.exp(this.p[k]) - (k === c[i] ? 1 : 0);
      this.backward(xi, this.dLogits, 1 / m, grad, null);
    }
    return loss / m;
  }

  /** A copy with the same parameters and standardisation (for per-level snapshots). */
  clone(): Network {
    const n = new Network(this.config);
    n.params.set(this.params);
    n.featMean.set(this.featMean);
    n.featInvStd.set(this.featInvStd);
    return n;
  }

  /** Plain-JSON form (for reports). */
  toJSON(): object {
    return {
      config: this.config,
      featMean: Array.from(this.featMean),
      featInvStd: Array.from(this.featInvStd),
      params: Array.from(this.params),
    };
  }
}
