// Training a learned denoiser (src/model/denoiser/denoiser.ts) on samples of a spec's mixture, as
// in the toy of Karras et al. 2024 (NVlabs/edm2, toy_example.py) but with EDM's denoising loss on
// samples (Karras et al. 2022, eq. 2 and Table 1) rather than the toy's exact-score regression:
//
//   per sample: x_0 ~ p(x | group) exactly, ln s ~ N(P_mean, P_std^2), n ~ N(0, I), y = x_0 + s n,
//   loss lambda(s) |D(y; s) - x_0|^2 / dim = |F([c_in y, c_noise]) - (x_0 - c_skip y) / c_out|^2 / dim
//   (lambda = 1 / c_out^2, so every noise level's target has unit variance at initialisation).
//
// Mini-batch Adam (betas 0.9, 0.99 as the toy), learning rate lr / sqrt(max(k / lrIter, 1)) at
// iteration k (the toy's schedule), and a power-function EMA of the weights (the toy's
// ema_std = 0.010; Karras et al. 2024, EDM2 post-hoc EMA): the EMA weights are the model.
//
// Deterministic: the data are counter-based draws (src/model/sample-exact.ts for x_0, the
// classifier generator src/model/classifier/rng.ts for s, n and the initialisation, streams
// DENOISER_STREAMS), one thread, a fixed order of operations: the same config gives the same
// weights bit for bit. Why not a library: no tfjs or ONNX Runtime training is installed here, and
// the network is a few thousand parameters; the classifier's Network already has hand-written,
// finite-difference-tested forward and backward passes, reused here.
import { ClfStream, clfNormals } from '../../model/classifier/rng.ts';
import { Denoiser, edmPreconditioning, fnv1a64, type DenoiserFile } from '../../model/denoiser/denoiser.ts';
import { buildModel, classGroup, MixtureEvaluator, type Group, type MixtureModel } from '../../model/mixture.ts';
import { sampleGroupExact } from '../../model/sample-exact.ts';
import type { ExperimentSpec } from '../../experiment/types.ts';

/** Streams of the classifier generator used here (far from the classifiers' own). */
export const DENOISER_STREAMS = { sigma: 0xde000000, noise: 0xde000001, init: 0xde000002 } as const;

export interface DenoiserTrainConfig {
  /** A class name of the spec, or "unconditional" (the whole mixture). */
  group: string;
  hidden: number[];
  iterations: number;
  batch: number;
  /** Reference learning rate (the toy's lr_ref). */
  lr: number;
  /** Iterations before the 1/sqrt decay starts (the toy's lr_iter). */
  lrIter: number;
  pMean: number;
  pStd: number;
  /** sigma_data, or "data": the RMS per-coordinate standard deviation of the group's law. */
  sigmaData: number | 'data';
  /** Relative std of the power-function EMA (0: no EMA, the last weights). */
  emaStd: number;
  seed: number;
  /**
   * "exact": regress on the exact denoiser E[x_0 | y] = y + s^2 grad log p_s(y) of the mixture (the
   * toy's choice: its loss sigma^2 |s_hat - s|^2 is this one up to EDM's weighting); "dsm": EDM's
   * denoising loss on x_0 itself (same minimiser, much noisier gradients).
   */
  loss: 'exact' | 'dsm';
}

export const DEFAULT_TRAIN: Omit<DenoiserTrainConfig, 'group'> = {
  hidden: [64, 64, 64],
  iterations: 3000,
  batch: 256,
  lr: 1e-2,
  lrIter: 512,
  pMean: -2.3,
  pStd: 1.5,
  sigmaData: 'data',
  emaStd: 0.01,
  seed: 0,
  loss: 'exact',
};

export interface TrainResult {
  model: Denoiser;
  file: DenoiserFile;
  /** Mean training loss over each tenth of the run. */
  lossCurve: number[];
  seconds: number;
}

/** The group a config trains on. */
export function trainingGroup(model: MixtureModel, name: string): Group {
  return name === 'unconditional' ? model.unconditional : classGroup(model, name);
}

/** The hash of the data distribution (dim, classes) recorded in a model file. */
export function dataSpecHash(spec: Pick<ExperimentSpec, 'dim' | 'classes'>): string {
  return fnv1a64(JSON.stringify({ dim: spec.dim, classes: spec.classes }));
}

/** RMS over coordinates of the group's standard deviation (exact: component moments). */
export function groupSigmaData(model: MixtureModel, group: Group): number {
  const d = model.dim;
  const mean = new Float64Array(d);
  const second = new Float64Array(d);
  let total = 0;
  for (const e of group.entries) {
    const w = Math.exp(e.logWeight);
    total += w;
    const c = model.components[e.component];
    for (let i = 0; i < d; i++) {
      let m: number;
      let v: number;
      if (c.kind === 'gaussian') {
        m = c.mean[i];
        v = 0;
        // diag(U diag(lambda) U^T)
        if (c.basis === null) v = c.lambda[i];
        else for (let j = 0; j < d; j++) v += c.basis[i * d + j] ** 2 * c.lambda[j];
      } else {
        m = 0.5 * (c.low[i] + c.high[i]);
        v = (c.high[i] - c.low[i]) ** 2 / 12;
      }
      mean[i] += w * m;
      second[i] += w * (v + m * m);
    }
  }
  let s = 0;
  for (let i = 0; i < d; i++) s += second[i] / total - (mean[i] / total) ** 2;
  return Math.sqrt(s / d);
}

/** The power-function EMA's exponent gamma for a relative std (edm2's std_to_exp). */
export function emaExponent(std: number): number {
  const t = std ** -2;
  // gamma^3 + 7 gamma^2 + (16 - t) gamma + (12 - t) = 0, the largest real root (Newton from above).
  let g = Math.sqrt(t);
  for (let i = 0; i < 100; i++) {
    const f = ((g + 7) * g + 16 - t) * g + 12 - t;
    const df = (3 * g + 14) * g + 16 - t;
    const next = g - f / df;
    if (Math.abs(next - g) < 1e-12 * Math.max(1, g)) return next;
    g = next;
  }
  return g;
}

class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  private readonly b1 = 0.9;
  private readonly b2 = 0.99;
  private readonly eps = 1e-8;
  constructor(n: number) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
  }
  step(params: Float64Array, grad: Float64Array, lr: number): void {
    this.t++;
    const c1 = 1 - this.b1 ** this.t;
    const c2 = 1 - this.b2 ** this.t;
    for (let a = 0; a < params.length; a++) {
      const g = grad[a];
      this.m[a] = this.b1 * this.m[a] + (1 - this.b1) * g;
      this.v[a] = this.b2 * this.v[a] + (1 - this.b2) * g * g;
      params[a] -= (lr * (this.m[a] / c1)) / (Math.sqrt(this.v[a] / c2) + this.eps);
    }
  }
}

/** Trains a denoiser on p(x | config.group) of the spec's mixture. */
export function trainDenoiser(spec: Pick<ExperimentSpec, 'dim' | 'classes'>, config: DenoiserTrainConfig): TrainResult {
  const started = performance.now();
  const mixture = buildModel(spec);
  const group = trainingGroup(mixture, config.group);
  const d = spec.dim;
  const sigmaData = config.sigmaData === 'data' ? groupSigmaData(mixture, group) : config.sigmaData;
  const model = new Denoiser(d, config.hidden, sigmaData);
  const net = model.net;
  net.initialise(new ClfStream(config.seed, DENOISER_STREAMS.init));
  const P = net.params.length;
  const grad = new Float64Array(P);
  const adam = new Adam(P);
  const ema = config.emaStd > 0 ? Float64Array.from(net.params) : null;
  const gamma = config.emaStd > 0 ? emaExponent(config.emaStd) : 0;
  const input = new Float64Array(d + 1);
  const target = new Float64Array(d);
  const dOut = new Float64Array(d);
  const eps = new Float64Array(d);
  const z1 = new Float64Array(1);
  const yv = new Float64Array(d);
  const score = new Float64Array(d);
  const ev = config.loss === 'exact' ? new MixtureEvaluator(mixture) : null;
  const B = config.batch;
  const tenth = Math.max(1, Math.floor(config.iterations / 10));
  const lossCurve: number[] = [];
  let lossAcc = 0;
  let lossN = 0;
  for (let k = 0; k < config.iterations; k++) {
    const first = k * B;
    const x0 = sampleGroupExact(mixture, group, 1, 0, { seed: config.seed, first, count: B }).x;
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < B; i++) {
      clfNormals(config.seed, first + i, DENOISER_STREAMS.sigma, 0, 1, z1);
      const s = Math.exp(config.pMean + config.pStd * z1[0]);
      clfNormals(config.seed, first + i, DENOISER_STREAMS.noise, 0, d, eps);
      const p = edmPreconditioning(sigmaData, s);
      for (let j = 0; j < d; j++) yv[j] = x0[i * d + j] + s * eps[j];
      if (ev) {
        ev.setTime(1, s * s);
        ev.evaluateComponents(yv);
        score.fill(0);
        ev.addGroupScore(group, 1, score);
      }
      for (let j = 0; j < d; j++) {
        // The regression target of F: (x_0 - c_skip y) / c_out, x_0 or its posterior mean.
        const clean = ev ? yv[j] + s * s * score[j] : x0[i * d + j];
        input[j] = p.cIn * yv[j];
        target[j] = (clean - p.cSkip * yv[j]) / p.cOut;
      }
      input[d] = p.cNoise;
      const F = net.forward(input);
      for (let j = 0; j < d; j++) {
        const r = F[j] - target[j];
        loss += r * r;
        dOut[j] = (2 * r) / (d * B);
      }
      net.backward(input, dOut, 1, grad, null);
    }
    loss /= d * B;
    const lr = config.lr / Math.sqrt(Math.max(k / config.lrIter, 1));
    adam.step(net.params, grad, lr);
    if (ema) {
      const beta = (1 - 1 / (k + 1)) ** (gamma + 1);
      for (let a = 0; a < P; a++) ema[a] += (1 - beta) * (net.params[a] - ema[a]);
    }
    lossAcc += loss;
    lossN++;
    if ((k + 1) % tenth === 0 || k + 1 === config.iterations) {
      lossCurve.push(lossAcc / lossN);
      lossAcc = 0;
      lossN = 0;
    }
  }
  if (ema) net.params.set(ema);
  const seconds = (performance.now() - started) / 1000;
  const file = model.toFile(
    { ...config, sigmaData, lossWeighting: 'edm', optimiser: 'adam(0.9, 0.99)', seconds },
    { specHash: dataSpecHash(spec), group: config.group },
  );
  return { model, file, lossCurve, seconds };
}

/** An untrained denoiser (the trainer's initialisation, no step): the baseline of the score-error report. */
export function untrainedDenoiser(
  spec: Pick<ExperimentSpec, 'dim' | 'classes'>,
  config: DenoiserTrainConfig,
): Denoiser {
  const mixture = buildModel(spec);
  const sigmaData =
    config.sigmaData === 'data' ? groupSigmaData(mixture, trainingGroup(mixture, config.group)) : config.sigmaData;
  const model = new Denoiser(spec.dim, config.hidden, sigmaData);
  model.net.initialise(new ClfStream(config.seed, DENOISER_STREAMS.init));
  return model;
}
