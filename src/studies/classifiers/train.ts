// Training by cross-entropy on (x_t, c) samples at one noise level.
//
//   logistic regression (no hidden layer): the objective
//       mean_i -log p_hat(c_i | x_i) + l2/2 |W|^2 + l2Bias/2 |b|^2
//     is convex; it is minimised by Newton's method with a backtracking line search (the
//     exact Hessian of the softmax loss, solved by Cholesky with ml-matrix). The ridge makes
//     the softmax's redundant direction (the same vector added to every class) and perfectly
//     separable levels (small t, well-separated classes) well posed.
//   MLP: mini-batch Adam on the same loss (ridge on weights only), learning rate decayed by a
//     cosine to 5% of its start, fixed-seed initialisation and batch order.
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { Dataset } from './data.ts';
import { logSoftmax, Network } from '../../model/classifier/network.ts';
import { ClfStream } from '../../model/classifier/rng.ts';

export interface NewtonOptions {
  /** Ridge on the weights, in standardised feature units (default 1e-4). */
  l2?: number;
  /** Ridge on the biases (default 1e-8): only there to make the Hessian definite. */
  l2Bias?: number;
  maxIter?: number;
}

export interface TrainInfo {
  method: 'newton' | 'adam';
  iterations: number;
  /** Final training objective (mean cross-entropy plus ridge). */
  objective: number;
  /** Final training cross-entropy. */
  trainCrossEntropy: number;
  seconds: number;
}

/** Class frequencies of a data set, as log-probabilities (floored at 1/(2n)). */
export function logClassFrequencies(data: Dataset, classes: number): Float64Array {
  const counts = new Float64Array(classes);
  for (let i = 0; i < data.n; i++) counts[data.c[i]]++;
  return counts.map((k) => Math.log(Math.max(k, 0.5) / data.n));
}

/** Mean training cross-entropy of a network over a data set. */
export function meanCrossEntropy(net: Network, data: Dataset): number {
  const lp = new Float64Array(net.classes);
  let s = 0;
  for (let i = 0; i < data.n; i++) {
    net.logProb(data.x.subarray(i * data.dim, (i + 1) * data.dim), lp);
    s -= lp[data.c[i]];
  }
  return s / data.n;
}

/** Fits logistic regression (net with hidden = []) by damped Newton. Standardises first. */
export function trainLogisticNewton(net: Network, data: Dataset, opts: NewtonOptions = {}): TrainInfo {
  if (net.config.hidden.length !== 0) throw new Error('trainLogisticNewton: the network has hidden layers');
  const started = performance.now();
  const l2 = opts.l2 ?? 1e-4;
  const l2Bias = opts.l2Bias ?? 1e-8;
  const maxIter = opts.maxIter ?? 100;
  net.standardise(data.x, data.n);
  const K = net.classes;
  const F = net.features.size;
  const G = F + 1; // features and the bias
  const P = K * G;
  const W = net.wOffset[0];
  const B = net.bOffset[0];
  // theta in the local layout (k, j): j < F is W[k][j], j = F is b[k].
  const flat = (k: number, j: number) => (j < F ? W + k * F + j : B + k);
  net.params.fill(0);
  const lf = logClassFrequencies(data, K);
  for (let k = 0; k < K; k++) net.params[B + k] = lf[k] - lf.reduce((a, b) => a + b, 0) / K;
  const d = data.dim;
  const lp = new Float64Array(K);
  const prob = new Float64Array(K);
  const zt = new Float64Array(G);
  const ridge = (j: number) => (j < F ? l2 : l2Bias);

  const objective = (): number => {
    let loss = 0;
    for (let i = 0; i < data.n; i++) {
      logSoftmax(net.forward(data.x.subarray(i * d, (i + 1) * d)), K, lp);
      loss -= lp[data.c[i]];
    }
    let pen = 0;
    for (let k = 0; k < K; k++) for (let j = 0; j < G; j++) pen += 0.5 * ridge(j) * net.params[flat(k, j)] ** 2;
    return loss / data.n + pen;
  };

  let obj = objective();
  let it = 0;
  const grad = new Float64Array(P);
  const H = new Float64Array(P * P);
  for (; it < maxIter; it++) {
    grad.fill(0);
    H.fill(0);
    for (let i = 0; i < data.n; i++) {
      const xi = data.x.subarray(i * d, (i + 1) * d);
      logSoftmax(net.forward(xi), K, lp);
      const z = net.inputs(xi);
      for (let j = 0; j < F; j++) zt[j] = z[j];
      zt[F] = 1;
      for (let k = 0; k < K; k++) prob[k] = Math.exp(lp[k]);
      for (let k = 0; k < K; k++) {
        const r = prob[k] - (k === data.c[i] ? 1 : 0);
        for (let j = 0; j < G; j++) grad[k * G + j] += r * zt[j];
        for (let l = k; l < K; l++) {
          const coef = (k === l ? prob[k] : 0) - prob[k] * prob[l];
          if (coef === 0) continue;
          for (let j = 0; j < G; j++) {
            const base = (k * G + j) * P + l * G;
            const cj = coef * zt[j];
            for (let m = 0; m < G; m++) H[base + m] += cj * zt[m];
          }
        }
      }
    }
    const Hm = new Matrix(P, P);
    const gm = new Matrix(P, 1);
    for (let a = 0; a < P; a++) {
      const k = Math.floor(a / G);
      const j = a % G;
      const th = net.params[flat(k, j)];
      gm.set(a, 0, grad[a] / data.n + ridge(j) * th);
      for (let b = a; b < P; b++) {
        // H was filled for l >= k only: mirror the blocks.
        const kb = Math.floor(b / G);
        const v = kb >= k ? H[a * P + b] : H[b * P + a];
        Hm.set(a, b, v / data.n + (a === b ? ridge(j) : 0));
        Hm.set(b, a, v / data.n + (a === b ? ridge(j) : 0));
      }
    }
    const chol = new CholeskyDecomposition(Hm);
    if (!chol.isPositiveDefinite()) throw new Error('trainLogisticNewton: Hessian not positive definite');
    const step = chol.solve(gm);
    const old = Float64Array.from(net.params);
    let decrement = 0;
    for (let a = 0; a < P; a++) decrement += step.get(a, 0) * gm.get(a, 0);
    if (decrement < 1e-13) break; // Newton decrement: the objective is within ~1e-13 of its minimum
    let s = 1;
    let next = obj;
    for (let tries = 0; tries < 40; tries++) {
      for (let a = 0; a < P; a++)
        net.params[flat(Math.floor(a / G), a % G)] = old[flat(Math.floor(a / G), a % G)] - s * step.get(a, 0);
      next = objective();
      if (next <= obj - 0.25 * s * decrement) break; // Armijo
      s *= 0.5;
    }
    if (!(next <= obj)) {
      net.params.set(old);
      break;
    }
    obj = next;
  }
  return {
    method: 'newton',
    iterations: it,
    objective: obj,
    trainCrossEntropy: meanCrossEntropy(net, data),
    seconds: (performance.now() - started) / 1000,
  };
}

export interface AdamOptions {
  epochs?: number;
  batch?: number;
  lr?: number;
  /** Ridge on the weights (default 1e-5). */
  l2?: number;
  /** Seed of the initialisation and batch order, and the level (which picks the streams). */
  seed: number;
  level: number;
  initStream: number;
  shuffleStream: number;
}

/** Trains a network by mini-batch Adam. Standardises and initialises first. */
export function trainAdam(net: Network, data: Dataset, opts: AdamOptions): TrainInfo {
  const started = performance.now();
  const epochs = opts.epochs ?? 30;
  const batch = Math.min(opts.batch ?? 256, data.n);
  const lr0 = opts.lr ?? 3e-3;
  const l2 = opts.l2 ?? 1e-5;
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  net.standardise(data.x, data.n);
  net.initialise(new ClfStream(opts.seed, opts.initStream), logClassFrequencies(data, net.classes));
  const shuffler = new ClfStream(opts.seed, opts.shuffleStream);
  const P = net.params.length;
  const grad = new Float64Array(P);
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  // Which parameters are weights (ridge applies) rather than biases.
  const isWeight = new Uint8Array(P);
  for (let l = 0; l < net.layers; l++) isWeight.fill(1, net.wOffset[l], net.bOffset[l]);
  const idx = new Int32Array(data.n);
  for (let i = 0; i < data.n; i++) idx[i] = i;
  const batchesPerEpoch = Math.ceil(data.n / batch);
  const total = epochs * batchesPerEpoch;
  let step = 0;
  for (let e = 0; e < epochs; e++) {
    shuffler.shuffle(idx);
    for (let bi = 0; bi < batchesPerEpoch; bi++) {
      const from = bi * batch;
      const to = Math.min(data.n, from + batch);
      grad.fill(0);
      net.lossAndGrad(data.x, data.c, idx, from, to, grad);
      step++;
      const lr = lr0 * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * (step - 1)) / total)));
      const c1 = 1 - Math.pow(b1, step);
      const c2 = 1 - Math.pow(b2, step);
      for (let a = 0; a < P; a++) {
        const g = grad[a] + (isWeight[a] ? l2 * net.params[a] : 0);
        m[a] = b1 * m[a] + (1 - b1) * g;
        v[a] = b2 * v[a] + (1 - b2) * g * g;
        net.params[a] -= (lr * (m[a] / c1)) / (Math.sqrt(v[a] / c2) + eps);
      }
    }
  }
  const ce = meanCrossEntropy(net, data);
  let pen = 0;
  for (let a = 0; a < P; a++) if (isWeight[a]) pen += 0.5 * l2 * net.params[a] ** 2;
  return {
    method: 'adam',
    iterations: step,
    objective: ce + pen,
    trainCrossEntropy: ce,
    seconds: (performance.now() - started) / 1000,
  };
}
