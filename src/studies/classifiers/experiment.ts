// The trained-classifier experiment behind `guidance-sampler classifiers`:
//   1. at each time t of a grid, draw a training and a test set (x_t, c) from the noised
//      mixture, fit logistic regression (Newton) and/or an MLP (Adam) by cross-entropy;
//   2. per t, evaluate each on the test set against the exact classifier
//      (src/studies/classifiers/evaluate.ts): cross-entropies, conditional KL, guidance error; and the
//      interpolated classifiers halfway (in log SNR) between adjacent levels;
//   3. optionally sample with classifier guidance at several w, with the exact classifier and
//      with each trained one (per-level networks interpolated in alpha/sigma, see classifier.ts),
//      from the same initial noise, and summarise the laws (for binary-vertex mixtures such as
//      examples/k-of-n.json: the histogram of the number of ones).
import type { ExperimentSpec } from '../../experiment/types.ts';
import { buildModel, type MixtureModel } from '../../model/mixture.ts';
import { processAt, startTime } from '../../processes/process.ts';
import { sampleNoisedData } from './data.ts';
import type { FeatureKind } from '../../model/classifier/features.ts';
import { Network, type Activation } from '../../model/classifier/network.ts';
import { trainAdam, trainLogisticNewton, type TrainInfo } from './train.ts';
import { ExactClassifier, PerLevelClassifier, type TrainedClassifier } from '../../model/classifier/classifier.ts';
import { evaluateClassifier, type Estimate, type LevelMetrics } from './evaluate.ts';
import { sampleWithClassifier } from './sample.ts';
import { exactOnesDistribution, histogramMean, isBinaryVertexModel, onesHistogram } from './k-of-n.ts';
import { STREAMS } from '../../model/classifier/rng.ts';

export type ModelKind = 'logistic' | 'mlp';

export interface ExperimentOptions {
  /** Increasing times > 0 (default: defaultTimeGrid). */
  tGrid?: number[];
  models: ModelKind[];
  /** Features of the logistic model (default: 'sum' for a binary-vertex mixture, else 'linear'). */
  features?: FeatureKind;
  /** Features of the MLP's input (default 'linear'). */
  mlpFeatures?: FeatureKind;
  hidden?: number[];
  activation?: Activation;
  epochs?: number;
  batch?: number;
  lr?: number;
  /** Ridge of the logistic model (Newton), default 1e-4. */
  logisticL2?: number;
  /** Ridge of the MLP weights (Adam), default 1e-5. */
  mlpL2?: number;
  train?: number;
  test?: number;
  /** Seed of the training data, initialisation and batch order (default: the spec's seed). */
  dataSeed?: number;
  /** Guidance strengths to sample at; [] skips sampling. */
  w: number[];
  /** Particles per sampling run (default: the spec's). */
  particles?: number;
  /** Where the sampling part runs (default: cpuSampler, sampleWithClassifier in f64). */
  sampler?: GuidedSampler;
  /** Also evaluate the interpolated classifiers halfway between levels (default true). */
  between?: boolean;
  onProgress?: (message: string) => void;
}

/** The sampling part's backend: draws `particles` classifier-guided particles (row-major). */
export interface GuidedSampler {
  backend: 'cpu' | 'webgpu';
  adapter: string | null;
  sample(
    spec: ExperimentSpec,
    clf: TrainedClassifier,
    w: number,
    particles: number,
  ): Promise<Float64Array | Float32Array>;
}

/** The CPU backend: sampleWithClassifier (f64). */
export const cpuSampler: GuidedSampler = {
  backend: 'cpu',
  adapter: null,
  sample: async (spec, clf, w, particles) => sampleWithClassifier(spec, clf, w, { particles }),
};

export const DEFAULTS = {
  levels: 10,
  hidden: [32, 32],
  activation: 'silu' as Activation,
  epochs: 20,
  batch: 128,
  lr: 1e-2,
  train: 20000,
  test: 20000,
};

/** log SNR = log(alpha^2 / sigma^2) at t (-Infinity where alpha = 0). */
export function logSnr(spec: ExperimentSpec, t: number): number {
  const p = processAt(spec.process, t);
  return Math.log((p.alpha * p.alpha) / p.sigma2);
}

/** The time in [lo, hi] where log SNR = target (log SNR decreases in t), by bisection. */
function timeAtLogSnr(spec: ExperimentSpec, target: number, lo: number, hi: number): number {
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (logSnr(spec, mid) > target) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** The lowest log SNR the default grid spaces levels down to; the start time is added below it. */
export const GRID_MIN_LOG_SNR = -10;

/**
 * The default levels: 10 times uniform in log SNR from the spec's tMin down to the start time,
 * or down to log SNR = -10 (SNR 4.5e-5) with the start time added as an 11th level when the
 * process goes further than -10.5 (between the last two the logits are interpolated linearly
 * in alpha/sigma, which is first-order exact there).
 */
export function defaultTimeGrid(spec: ExperimentSpec, levels = DEFAULTS.levels): number[] {
  const a = spec.solver.tMin;
  const b = startTime(spec.process);
  const la = logSnr(spec, a);
  const lb = Math.max(logSnr(spec, b), GRID_MIN_LOG_SNR);
  const grid = Array.from({ length: levels }, (_, i) =>
    i === 0 ? a : timeAtLogSnr(spec, la + ((lb - la) * i) / (levels - 1), a, b),
  );
  if (logSnr(spec, b) < GRID_MIN_LOG_SNR - 0.5) grid.push(b);
  else grid[levels - 1] = b;
  return grid.filter((t, i) => i === 0 || t > grid[i - 1]);
}

const round = (v: number, digits = 6) => (Number.isFinite(v) ? Number(v.toPrecision(digits)) : v);
const est = (e: Estimate) => ({ value: round(e.value), se: round(e.se, 2) });

export interface ModelLevelReport {
  crossEntropy: Estimate;
  klDifference: Estimate;
  klDirect: Estimate;
  guidanceError: Estimate;
  guidanceErrorTarget: Estimate;
  relativeGuidanceError: number;
  relativeGuidanceErrorTarget: number;
  /** Absent on 'between' rows. */
  train?: { method: string; iterations: number; trainCrossEntropy: number; seconds: number };
}

export interface LevelReport {
  /** 'level': a trained level; 'between': halfway (in log SNR) between two levels, where the
   * classifiers are the interpolation of their neighbours (what the sampler uses there). */
  kind: 'level' | 'between';
  t: number;
  alpha: number;
  sigma2: number;
  exactCrossEntropy: Estimate;
  priorEntropy: number;
  mutualInformation: Estimate;
  exactGradientSquare: Estimate;
  exactGradientSquareTarget: Estimate;
  models: Partial<Record<ModelKind, ModelLevelReport>>;
}

export interface SampleSummary {
  nonFinite: number;
  mean: number[];
  sd: number[];
  /** Share of finite particles the exact classifier at tMin puts in the target class (p > 1/2). */
  shareTarget: number;
  /** Largest over coordinates of the two-sample KS distance to the exact-guided particles. */
  ksToExact?: number;
  /** Binary-vertex mixtures: histogram of the number of coordinates > 1/2, its frequencies and mean. */
  ones?: { counts: number[]; freq: number[]; mean: number };
}

export interface SamplingReport {
  /** Where the particles were sampled ('webgpu': f32, src/studies/classifiers/sample-gpu.ts), and on which adapter. */
  backend: 'cpu' | 'webgpu';
  adapter: string | null;
  particles: number;
  solver: string;
  steps: number;
  tMin: number;
  /** Binary-vertex mixtures: the exact law of the number of ones under the target class. */
  targetOnes?: { freq: number[]; mean: number };
  runs: { w: number; exact: SampleSummary; models: Partial<Record<ModelKind, SampleSummary>> }[];
}

export interface ExperimentReport {
  target: string;
  classes: string[];
  dim: number;
  process: string;
  settings: Record<string, unknown>;
  levels: LevelReport[];
  /**
   * For the logistic model on linear or sum features: the levels (times) where some
   * target-vs-rest weight is negative, i.e. where it is not monotone increasing toward the
   * target (at very low SNR the fitted slope is estimation noise and can have either sign).
   */
  logisticNonMonotone?: number[];
  sampling: SamplingReport | null;
  elapsedSeconds: number;
  classifiers: Partial<Record<ModelKind, PerLevelClassifier>>;
}

/** One row of the per-t table: the time, the exact classifier's figures (from `base`), and the models'. */
function levelRow(
  kind: LevelReport['kind'],
  t: number,
  p: { alpha: number; sigma2: number },
  base: LevelMetrics,
  models: Partial<Record<ModelKind, ModelLevelReport>>,
): LevelReport {
  return {
    kind,
    t: round(t),
    alpha: round(p.alpha),
    sigma2: round(p.sigma2),
    exactCrossEntropy: est(base.exactCrossEntropy),
    priorEntropy: round(base.priorEntropy),
    mutualInformation: est(base.mutualInformation),
    exactGradientSquare: est(base.exactGradientSquare),
    exactGradientSquareTarget: est(base.exactGradientSquareTarget),
    models,
  };
}

function modelRow(m: LevelMetrics): ModelLevelReport {
  return {
    crossEntropy: est(m.crossEntropy),
    klDifference: est(m.klDifference),
    klDirect: est(m.klDirect),
    guidanceError: est(m.guidanceError),
    guidanceErrorTarget: est(m.guidanceErrorTarget),
    relativeGuidanceError: round(m.relativeGuidanceError, 4),
    relativeGuidanceErrorTarget: round(m.relativeGuidanceErrorTarget, 4),
  };
}

function summarise(
  x: Float64Array,
  count: number,
  d: number,
  exact: ExactClassifier,
  t: number,
  target: number,
  binary: boolean,
): SampleSummary {
  const mean = new Array(d).fill(0);
  const m2 = new Array(d).fill(0);
  let finite = 0;
  let inTarget = 0;
  for (let p = 0; p < count; p++) {
    const xp = x.subarray(p * d, (p + 1) * d);
    if (!xp.every(Number.isFinite)) continue;
    finite++;
    for (let i = 0; i < d; i++) {
      const delta = xp[i] - mean[i];
      mean[i] += delta / finite;
      m2[i] += delta * (xp[i] - mean[i]);
    }
    if (exact.logProb(xp, t)[target] > Math.log(0.5)) inTarget++;
  }
  const s: SampleSummary = {
    nonFinite: count - finite,
    mean: mean.map((v) => round(v)),
    sd: m2.map((v) => round(Math.sqrt(v / Math.max(1, finite - 1)))),
    shareTarget: round(inTarget / Math.max(1, finite)),
  };
  if (binary) {
    const h = onesHistogram(x, count, d);
    const total = h.counts.reduce((a, b) => a + b, 0);
    s.ones = {
      counts: h.counts,
      freq: h.counts.map((c) => round(c / Math.max(1, total), 4)),
      mean: round(histogramMean(h.counts), 4),
    };
  }
  return s;
}

/** Two-sample KS distance of coordinate i between two particle sets (finite values only). */
function ks2(a: Float64Array, b: Float64Array, count: number, d: number, i: number): number {
  const col = (x: Float64Array) => {
    const v: number[] = [];
    for (let p = 0; p < count; p++) if (Number.isFinite(x[p * d + i])) v.push(x[p * d + i]);
    return Float64Array.from(v).sort();
  };
  const u = col(a);
  const v = col(b);
  let iu = 0;
  let iv = 0;
  let dmax = 0;
  while (iu < u.length && iv < v.length) {
    const x = Math.min(u[iu], v[iv]);
    while (iu < u.length && u[iu] <= x) iu++;
    while (iv < v.length && v[iv] <= x) iv++;
    dmax = Math.max(dmax, Math.abs(iu / u.length - iv / v.length));
  }
  return dmax;
}

/** Target-vs-rest weights of a logistic network on 'linear' or 'sum' features, in x units, per coordinate or the sum. */
function logisticTargetWeights(net: Network, target: number): number[] {
  const F = net.features.size;
  const K = net.classes;
  const W = net.wOffset[0];
  const w: number[] = [];
  for (let j = 0; j < F; j++) {
    // d/dphi_j of logit_target - mean of the other logits
    let other = 0;
    for (let k = 0; k < K; k++) if (k !== target) other += net.params[W + k * F + j];
    w.push((net.params[W + target * F + j] - other / (K - 1)) * net.featInvStd[j]);
  }
  return w;
}

export async function runClassifierExperiment(
  spec: ExperimentSpec,
  opts: ExperimentOptions,
): Promise<ExperimentReport> {
  const started = performance.now();
  const model: MixtureModel = buildModel(spec);
  const classes = model.classes.map((c) => c.name);
  const target = classes.indexOf(spec.target);
  const logPrior = model.classes.map((c) => c.logPrior);
  const exact = new ExactClassifier(model, spec.process);
  const binary = isBinaryVertexModel(model);
  const tGrid = opts.tGrid ?? defaultTimeGrid(spec);
  const features: FeatureKind = opts.features ?? (binary ? 'sum' : 'linear');
  const mlpFeatures: FeatureKind = opts.mlpFeatures ?? 'linear';
  const hidden = opts.hidden ?? DEFAULTS.hidden;
  const activation = opts.activation ?? DEFAULTS.activation;
  const nTrain = opts.train ?? DEFAULTS.train;
  const nTest = opts.test ?? DEFAULTS.test;
  const seed = opts.dataSeed ?? spec.seed;
  const epochs = opts.epochs ?? DEFAULTS.epochs;
  const batch = opts.batch ?? DEFAULTS.batch;
  const lr = opts.lr ?? DEFAULTS.lr;
  const progress = opts.onProgress ?? (() => {});

  const nets: Record<ModelKind, Network[]> = { logistic: [], mlp: [] };
  const levels: LevelReport[] = [];
  const nonMonotone: number[] = [];
  tGrid.forEach((t, level) => {
    const p = processAt(spec.process, t);
    const train = sampleNoisedData(model, spec.process, t, nTrain, seed, STREAMS.train(level));
    const test = sampleNoisedData(model, spec.process, t, nTest, seed, STREAMS.test(level));
    const report: Partial<Record<ModelKind, ModelLevelReport>> = {};
    let base: LevelMetrics | null = null;
    for (const kind of opts.models) {
      let net: Network;
      let info: TrainInfo;
      if (kind === 'logistic') {
        net = new Network({ dim: spec.dim, classes: classes.length, features, hidden: [], activation });
        info = trainLogisticNewton(net, train, { l2: opts.logisticL2 });
        if (features !== 'quadratic' && logisticTargetWeights(net, target).some((w) => w < 0))
          nonMonotone.push(round(t));
      } else {
        net = new Network({ dim: spec.dim, classes: classes.length, features: mlpFeatures, hidden, activation });
        info = trainAdam(net, train, {
          seed,
          level,
          initStream: STREAMS.init(level),
          shuffleStream: STREAMS.shuffle(level),
          epochs,
          batch,
          lr,
          l2: opts.mlpL2,
        });
      }
      nets[kind].push(net);
      const m = evaluateClassifier(
        new PerLevelClassifier(classes, [t], [net], spec.process),
        exact,
        logPrior,
        test,
        target,
      );
      base = m;
      report[kind] = {
        ...modelRow(m),
        train: {
          method: info.method,
          iterations: info.iterations,
          trainCrossEntropy: round(info.trainCrossEntropy),
          seconds: round(info.seconds, 3),
        },
      };
      progress(
        `t = ${round(t, 4)}: ${kind} CE ${m.crossEntropy.value.toFixed(4)} (exact ${m.exactCrossEntropy.value.toFixed(4)}), KL ${m.klDirect.value.toExponential(2)}, guidance error ${m.guidanceError.value.toExponential(2)}`,
      );
    }
    if (!base) {
      // No trained model: still report the exact classifier's numbers.
      base = evaluateClassifier(exact, exact, logPrior, test, target);
    }
    levels.push(levelRow('level', t, p, base, report));
  });

  const classifiers: Partial<Record<ModelKind, PerLevelClassifier>> = {};
  for (const kind of opts.models) classifiers[kind] = new PerLevelClassifier(classes, tGrid, nets[kind], spec.process);

  // Between the levels: the interpolated classifiers at the log-SNR midpoint (the time midpoint
  // where alpha = 0 at one end), on fresh test sets.
  const rows: LevelReport[] = [];
  for (let level = 0; level < tGrid.length; level++) {
    rows.push(levels[level]);
    if (level === tGrid.length - 1 || opts.between === false) continue;
    const [ta, tb] = [tGrid[level], tGrid[level + 1]];
    const [la, lb] = [logSnr(spec, ta), logSnr(spec, tb)];
    const t = Number.isFinite(lb) ? timeAtLogSnr(spec, 0.5 * (la + lb), ta, tb) : 0.5 * (ta + tb);
    const p = processAt(spec.process, t);
    const test = sampleNoisedData(model, spec.process, t, nTest, seed, STREAMS.between(level));
    const report: Partial<Record<ModelKind, ModelLevelReport>> = {};
    let base: LevelMetrics | null = null;
    for (const kind of opts.models) {
      const m = evaluateClassifier(classifiers[kind]!, exact, logPrior, test, target);
      base = m;
      report[kind] = modelRow(m);
    }
    base ??= evaluateClassifier(exact, exact, logPrior, test, target);
    rows.push(levelRow('between', t, p, base, report));
  }

  let sampling: SamplingReport | null = null;
  if (opts.w.length > 0) {
    const particles = opts.particles ?? spec.particles;
    const d = spec.dim;
    const tMin = spec.solver.tMin;
    const sampler = opts.sampler ?? cpuSampler;
    sampling = {
      backend: sampler.backend,
      adapter: sampler.adapter,
      particles,
      solver: spec.solver.kind,
      steps: spec.solver.steps,
      tMin,
      runs: [],
    };
    if (binary) {
      const dist = exactOnesDistribution(model, target);
      sampling.targetOnes = {
        freq: dist.map((v) => round(v, 4)),
        mean: round(
          dist.reduce((a, v, i) => a + i * v, 0),
          4,
        ),
      };
    }
    for (const w of opts.w) {
      const xExact = Float64Array.from(await sampler.sample(spec, exact, w, particles));
      const run = {
        w,
        exact: summarise(xExact, particles, d, exact, tMin, target, binary),
        models: {} as Partial<Record<ModelKind, SampleSummary>>,
      };
      for (const kind of opts.models) {
        const x = Float64Array.from(await sampler.sample(spec, classifiers[kind]!, w, particles));
        const s = summarise(x, particles, d, exact, tMin, target, binary);
        let ks = 0;
        for (let i = 0; i < d; i++) ks = Math.max(ks, ks2(x, xExact, particles, d, i));
        s.ksToExact = round(ks, 4);
        run.models[kind] = s;
      }
      sampling.runs.push(run);
      progress(
        `w = ${w}: sampled ${particles} particles (${sampler.backend}) with the exact classifier and ${opts.models.join(', ') || 'no trained model'}`,
      );
    }
  }

  return {
    target: spec.target,
    classes,
    dim: spec.dim,
    process: spec.process.kind,
    settings: {
      tGrid: tGrid.map((t) => round(t)),
      perLevel:
        'one model per t (no t input); between levels the logits are interpolated linearly in alpha/sigma, outside the grid the nearest level is used',
      models: opts.models,
      logistic: opts.models.includes('logistic')
        ? { features, optimiser: 'newton', l2: opts.logisticL2 ?? 1e-4 }
        : undefined,
      mlp: opts.models.includes('mlp')
        ? { features: mlpFeatures, hidden, activation, optimiser: 'adam', epochs, batch, lr, l2: opts.mlpL2 ?? 1e-5 }
        : undefined,
      train: nTrain,
      test: nTest,
      dataSeed: seed,
      binaryVertexModel: binary,
    },
    levels: rows,
    logisticNonMonotone: opts.models.includes('logistic') && features !== 'quadratic' ? nonMonotone : undefined,
    sampling,
    elapsedSeconds: round((performance.now() - started) / 1000, 4),
    classifiers,
  };
}
