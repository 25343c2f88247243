// Claim 5 (Sahu, Banerjee, Wu 2026, "Provably Reliable Classifier Guidance via Cross-Entropy
// Control", arXiv 2601.21200): a classifier whose conditional KL to the exact noised classifier is
// eps^2 at a noise level has a guidance vector grad log p_hat_t(c|x) with mean squared error
// O~(d eps) there (an upper bound, for smooth classifiers), and the sampler's KL to the target is
// bounded by the time integral of the guidance MSE.
//
// Setting: two Gaussians N(+-1, 1) in 1-D (examples/two-gaussians.json), OU T = 10, target "pos",
// classifier guidance w = 1 (so the exact target is p(x|pos)), Euler-Maruyama (the bound is a
// Girsanov one, for the SDE). Classifiers of increasing quality: the `classifiers` study's logistic
// regression (one per level of its default grid, Newton, interpolated between levels) trained on n
// in TRAIN_SIZES points per level, several seeds each. The exact log-odds is linear in x at every t,
// so the model is well specified and its KL falls to 0 as n grows.
//
//  1. Per level and classifier: KL and MSE by quadrature (cross-entropy-stats.ts), and by Monte Carlo
//     on a held-out set (the study's evaluateClassifier), the two routes compared. The rate: the
//     common-slope log-log fit log MSE = a_t + b log KL (loglog-fit.ts). "MSE = O(d eps) at KL = eps^2"
//     is b >= 1/2 as KL -> 0 (MSE / sqrt(KL) stays bounded); tests: b > 0 and b >= 1/2.
//  2. Per classifier (the first `sampledSeeds` seeds): N guided samples (webgpu when there is an adapter,
//     through prepareExperiment and the SamplerBackend; else the f64 CPU sampler), the binned
//     KL(p(x|pos) || Q) at tMin against the integrated EM bound; tests: below the bound (allowance:
//     the exact classifier's own binned KL at the same steps, the discretisation, and the route
//     difference); "tracks": the worst n's mean KL above the best's, and no rise of the mean KL from
//     one n to the next where the mean bound falls. The log-log slope of the final KL on the bound
//     is reported (few points: not tested).
import { collectParticles } from '../backend/sampler.ts';
import { prepareExperiment } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { webGpuBackend } from '../gpu/backend.ts';
import type { GpuContext } from '../gpu/device.ts';
import { ExactClassifier, PerLevelClassifier, type TrainedClassifier } from '../model/classifier/classifier.ts';
import { STREAMS } from '../model/classifier/rng.ts';
import { buildModel, type MixtureModel } from '../model/mixture.ts';
import { processAt } from '../processes/process.ts';
import { sampleNoisedData } from '../studies/classifiers/data.ts';
import { evaluateClassifier } from '../studies/classifiers/evaluate.ts';
import { defaultTimeGrid, runClassifierExperiment } from '../studies/classifiers/experiment.ts';
import { sampleWithClassifier } from '../studies/classifiers/sample.ts';
import { normalCdf } from '../targets/law1d.ts';
import {
  binnedKlNormal,
  integratedBound,
  levelQuadrature,
  RippledClassifier,
  type BinnedKl,
} from './cross-entropy-stats.ts';
import { fitLogLog, type LogLogFit } from './loglog-fit.ts';
import {
  atMostZero,
  greaterThanZero,
  overallVerdict,
  sampleParticles,
  spec,
  withinTolerance,
  type ClaimResult,
  type ClaimTest,
  type Figure,
  type ReproContext,
} from './runner.ts';
import type { TopLevelSpec } from 'vega-lite';

export const TRAIN_SIZES = [64, 256, 1024, 4096, 16384];
export const W = 1;
export const T_MIN = 1e-3;
/** Equal-mass bins of the binned KL. */
export const BINS = 40;
/** Held-out points per level for the Monte Carlo route. */
export const TEST_POINTS = 20_000;
/** Seed of the held-out sets (the training sets use the classifier's seed). */
const TEST_SEED = 1000;
/** The twin's ripple amplitude at the smallest n; it falls like 1/sqrt(n), as a trained model's error. */
const RIPPLE = 0.4;

export interface Settings {
  N: number;
  steps: number;
  seeds: number;
  sampledSeeds: number;
  testPoints: number;
  routeParticles: number;
}

/** The twin's rippled classifiers run on the f64 CPU sampler only (no GPU kernel for them): fewer particles. */
export const TWIN_PARTICLES = 5_000;

export function settings(quick: boolean, gpu: boolean, mutation = false): Settings {
  if (mutation) return { ...settings(quick, false), N: TWIN_PARTICLES };
  return quick
    ? { N: 40_000, steps: 100, seeds: 2, sampledSeeds: 2, testPoints: 4_000, routeParticles: gpu ? 1_000 : 0 }
    : { N: 200_000, steps: 200, seeds: 4, sampledSeeds: 4, testPoints: TEST_POINTS, routeParticles: gpu ? 5_000 : 0 };
}

export function crossEntropySpec(particles: number, steps: number): ExperimentSpec {
  return spec({
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [1], cov: 1 }] },
      { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [-1], cov: 1 }] },
    ],
    target: 'pos',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'classifier', w: W },
    solver: { kind: 'em', steps, tMin: T_MIN, grid: { kind: 'edm', rho: 7 } },
    particles,
    seed: 1,
  });
}

interface Quality {
  n: number;
  seed: number;
  clf: TrainedClassifier;
  label: string;
}

/** The classifiers of increasing quality: trained ones, or (twin) rippled exact ones. */
async function classifiers(
  s: ExperimentSpec,
  exact: ExactClassifier,
  seeds: number,
  mutation: boolean,
  log: (l: string) => void,
): Promise<Quality[]> {
  const out: Quality[] = [];
  for (const n of TRAIN_SIZES)
    for (let seed = 1; seed <= seeds; seed++) {
      if (mutation) {
        const a = RIPPLE * Math.sqrt(TRAIN_SIZES[0] / n);
        out.push({ n, seed, clf: new RippledClassifier(exact, a, seed, 0), label: `rippled A=${a}` });
        continue;
      }
      const r = await runClassifierExperiment(s, {
        models: ['logistic'],
        features: 'linear',
        w: [],
        train: n,
        test: 100,
        dataSeed: seed,
        between: false,
      });
      const clf = r.classifiers.logistic;
      if (!clf) throw new Error('cross-entropy: the logistic classifier was not trained');
      out.push({ n, seed, clf, label: `logistic n=${n}` });
    }
  log(`cross-entropy: ${out.length} classifiers (${TRAIN_SIZES.join(', ')} points per level x ${seeds} seeds)`);
  return out;
}

export interface LevelRow {
  n: number;
  seed: number;
  level: number;
  t: number;
  kl: number;
  mse: number;
  mseTarget: number;
  klMc: number;
  klMcSe: number;
  mseMc: number;
  mseMcSe: number;
  /** |quadrature at h - at h/2| (first classifier only; else NaN). */
  quadratureError: number;
}

/** Part 1: per level and classifier, the two routes of KL and MSE. */
function levelRows(s: ExperimentSpec, model: MixtureModel, exact: ExactClassifier, qs: Quality[], testPoints: number) {
  const times = defaultTimeGrid(s);
  const logPrior = model.classes.map((c) => c.logPrior);
  const tests = times.map((t, level) =>
    sampleNoisedData(model, s.process, t, testPoints, TEST_SEED, STREAMS.test(level)),
  );
  const rows: LevelRow[] = [];
  for (const [qi, q] of qs.entries())
    times.forEach((t, level) => {
      const e = levelQuadrature(model, s.process, exact, q.clf, t, 0);
      let quadratureError = NaN;
      if (qi === 0) {
        const f = levelQuadrature(model, s.process, exact, q.clf, t, 0, 2);
        quadratureError = Math.max(Math.abs(f.kl - e.kl), Math.abs(f.mse - e.mse));
      }
      const m = evaluateClassifier(q.clf, exact, logPrior, tests[level], 0);
      rows.push({
        n: q.n,
        seed: q.seed,
        level,
        t,
        kl: e.kl,
        mse: e.mse,
        mseTarget: e.mseTarget,
        klMc: m.klDirect.value,
        klMcSe: m.klDirect.se,
        mseMc: m.guidanceError.value,
        mseMcSe: m.guidanceError.se,
        quadratureError,
      });
    });
  return rows;
}

/** The classifier-guided particles of `s` (f64 CPU sampler, or webgpu for a trained classifier). */
async function sampleGuided(
  s: ExperimentSpec,
  clf: TrainedClassifier,
  count: number,
  gpu: GpuContext | null,
): Promise<Float64Array> {
  if (clf instanceof ExactClassifier)
    return sampleParticles(
      { ...s, particles: count, guidance: { kind: 'classifier', w: { kind: 'constant', w: W } } },
      gpu,
    );
  if (gpu && clf instanceof PerLevelClassifier) {
    const plan = prepareExperiment({ ...s, particles: count }, { classifier: { model: clf, w: W } });
    return (await collectParticles(webGpuBackend(gpu), plan)).particles;
  }
  return sampleWithClassifier(s, clf, W, { particles: count });
}

export interface SampledRow {
  label: string;
  n: number;
  seed: number;
  bound: number;
  kl: BinnedKl;
  /** The first routeParticles again on the f64 CPU sampler, paired (null without a GPU). */
  route: Route | null;
}

export interface Route {
  paired: number;
  /** Largest |x_gpu - x_cpu| over the paired particles. */
  maxAbs: number;
  /** Paired particles whose equal-mass bin differs. */
  changedBins: number;
  /** |binned KL of the GPU's first `paired` - the CPU's|: the route's allowance. */
  klDifference: number;
}

/** The paired comparison of the GPU's first particles with the f64 CPU sampler's. */
function compareRoutes(x: Float64Array, xc: Float64Array, mean: number, sd: number): Route {
  const n = xc.length;
  const bin = (v: number) => Math.min(BINS - 1, Math.floor(normalCdf((v - mean) / sd) * BINS));
  let maxAbs = 0;
  let changedBins = 0;
  for (let i = 0; i < n; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(x[i] - xc[i]));
    if (bin(x[i]) !== bin(xc[i])) changedBins++;
  }
  const klDifference = Math.abs(binnedKlNormal(x, n, mean, sd, BINS).kl - binnedKlNormal(xc, n, mean, sd, BINS).kl);
  return { paired: n, maxAbs, changedBins, klDifference };
}

/** Part 2: the binned KL of the final samples against the exact target, and the integrated bound. */
async function sampledRows(
  s: ExperimentSpec,
  model: MixtureModel,
  exact: ExactClassifier,
  qs: Quality[],
  st: Settings,
  gpu: GpuContext | null,
  log: (l: string) => void,
): Promise<{ floor: SampledRow; rows: SampledRow[] }> {
  const table = prepareExperiment(s).table;
  const p = processAt(s.process, T_MIN);
  const mean = p.alpha;
  const sd = Math.sqrt(p.alpha * p.alpha + p.sigma2);
  const one = async (label: string, n: number, seed: number, clf: TrainedClassifier): Promise<SampledRow> => {
    const x = await sampleGuided(s, clf, st.N, gpu);
    const kl = binnedKlNormal(x, st.N, mean, sd, BINS);
    const route =
      gpu && st.routeParticles > 0
        ? compareRoutes(x, await sampleGuided(s, clf, st.routeParticles, null), mean, sd)
        : null;
    const bound = clf instanceof ExactClassifier ? 0 : integratedBound(table, model, s.process, exact, clf, W, 0);
    log(
      `  ${label} seed ${seed}: binned KL ${kl.kl.toExponential(3)} (se ${kl.se.toExponential(2)}), bound ${bound.toExponential(3)}`,
    );
    return { label, n, seed, bound, kl, route };
  };
  const floor = await one('exact classifier', Infinity, 0, exact);
  const rows: SampledRow[] = [];
  for (const q of qs) if (q.seed <= st.sampledSeeds) rows.push(await one(q.label, q.n, q.seed, q.clf));
  return { floor, rows };
}

/** log-log scatter of y against x, coloured by `series`, with an optional line layer (same fields). */
function logLogChart(
  points: Record<string, number | string>[],
  lines: Record<string, number | string>[],
  x: string,
  y: string,
  series: string,
  title: string,
  xTitle: string,
  yTitle: string,
): TopLevelSpec {
  const enc = {
    x: { field: x, type: 'quantitative', title: xTitle, scale: { type: 'log' } },
    y: { field: y, type: 'quantitative', title: yTitle, scale: { type: 'log' } },
    color: { field: series, type: 'nominal', title: null, scale: { scheme: 'tableau20' }, legend: { labelLimit: 400 } },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 460,
    height: 340,
    layer: [
      { data: { values: points }, mark: { type: 'point', filled: true, size: 30, opacity: 0.7 }, encoding: enc },
      { data: { values: lines }, mark: { type: 'line' }, encoding: { ...enc, detail: { field: 'line' } } },
    ],
  } as TopLevelSpec;
}

export function rateFigure(rows: LevelRow[], fit: LogLogFit): Figure {
  const tLabel = (t: number) => `t = ${t.toPrecision(2)}`;
  const points = rows.map((r) => ({ kl: r.kl, mse: r.mse, series: tLabel(r.t) }));
  const lines: Record<string, number | string>[] = [];
  for (const level of new Set(rows.map((r) => r.level))) {
    const at = rows.filter((r) => r.level === level);
    const a = fit.intercepts[level];
    for (const kl of [Math.min(...at.map((r) => r.kl)), Math.max(...at.map((r) => r.kl))])
      lines.push({ kl, mse: Math.exp(a) * kl ** fit.slope, series: tLabel(at[0].t), line: `fit ${level}` });
  }
  // The bound's rate, slope 1/2, through the fit's line at the largest KL of the first level.
  const first = rows.filter((r) => r.level === rows[0].level);
  const top = Math.max(...first.map((r) => r.kl));
  const yTop = Math.exp(fit.intercepts[rows[0].level]) * top ** fit.slope;
  for (const kl of [top * 1e-4, top])
    lines.push({ kl, mse: yTop * Math.sqrt(kl / top), series: "slope 1/2 (the bound's rate)", line: 'half' });
  return {
    name: 'cross-entropy-rate',
    spec: logLogChart(
      points,
      lines,
      'kl',
      'mse',
      'series',
      `guidance MSE against conditional KL per noise level: slope ${fit.slope.toFixed(3)}, 95% CI [${fit.ci[0].toFixed(3)}, ${fit.ci[1].toFixed(3)}]`,
      'E_x KL(p_t(.|x) || p_hat_t(.|x)) (nats)',
      'E_x |grad log p_hat_t(pos|x) - grad log p_t(pos|x)|^2',
    ),
  };
}

export function trackingFigure(sampled: SampledRow[]): Figure {
  const points = sampled.map((r) => ({ bound: r.bound, kl: Math.max(r.kl.kl, 1e-7), series: `n = ${r.n} per level` }));
  const b = sampled.map((r) => r.bound);
  const lines = [Math.min(...b), Math.max(...b)].map((v) => ({ bound: v, kl: v, series: 'KL = bound', line: 'y=x' }));
  return {
    name: 'cross-entropy-tracking',
    spec: logLogChart(
      points,
      lines,
      'bound',
      'kl',
      'series',
      'final samples: binned KL(p(x|pos) || Q) against the integrated EM (Girsanov) bound',
      'sum_n |h| g^2 w^2 E_{p_t(x|pos)} |Delta|^2 / 2 (nats)',
      'binned KL(p_tMin(x|pos) || Q) (nats, floored at 1e-7)',
    ),
  };
}

/** The worst route disagreement (Monte Carlo - quadrature) of one quantity over every row. */
function worstRoute(rows: LevelRow[], pick: (r: LevelRow) => [number, number, number]) {
  let worst = { d: 0, se: Infinity, z: 0, row: rows[0] };
  for (const r of rows) {
    const [mc, se, quad] = pick(r);
    const z = Math.abs(mc - quad) / se;
    if (z > worst.z) worst = { d: mc - quad, se, z, row: r };
  }
  return worst;
}

/** The final KL's log-log slope on the bound, over the sampled classifiers with a KL > 0 (null if < 3). */
export function trackingFit(sampled: SampledRow[]): LogLogFit | null {
  const positive = sampled.filter((r) => r.kl.kl > 0 && r.bound > 0);
  return positive.length >= 3 ? fitLogLog(positive.map((r) => ({ group: 0, x: r.bound, y: r.kl.kl }))) : null;
}

/** Per n: the mean final KL over the sampled seeds (its se from theirs), mean bound and route allowance. */
function perSize(sampled: SampledRow[], n: number) {
  const at = sampled.filter((r) => r.n === n);
  const mean = (f: (r: SampledRow) => number) => at.reduce((a, r) => a + f(r), 0) / at.length;
  return {
    n,
    kl: mean((r) => r.kl.kl),
    se: Math.sqrt(mean((r) => r.kl.se ** 2) / at.length),
    bound: mean((r) => r.bound),
    bias: mean((r) => r.route?.klDifference ?? 0),
  };
}

/**
 * "The final KL tracks the bound": it falls from the worst n to the best, and it does not rise
 * from one n to the next wherever the mean bound falls (the claim's monotone reading).
 */
function trackingTests(sampled: SampledRow[], m: number): ClaimTest[] {
  const sizes = TRAIN_SIZES.map((n) => perSize(sampled, n));
  const worst = sizes[0];
  const best = sizes[sizes.length - 1];
  const tests = [
    greaterThanZero(
      `tracks: final KL(n=${worst.n}) - final KL(n=${best.n}) > 0 (falls with the bound)`,
      worst.kl - best.kl,
      Math.hypot(worst.se, best.se),
      m,
      worst.bias + best.bias,
    ),
  ];
  for (let i = 1; i < sizes.length; i++) {
    const [a, b] = [sizes[i - 1], sizes[i]];
    if (!(b.bound < a.bound)) continue;
    tests.push(
      atMostZero(
        `tracks: final KL(n=${b.n}) - final KL(n=${a.n}) <= 0 (bound ${a.bound.toExponential(2)} -> ${b.bound.toExponential(2)})`,
        b.kl - a.kl,
        Math.hypot(a.se, b.se),
        m,
        a.bias + b.bias,
      ),
    );
  }
  return tests;
}

/** The Bonferroni family: 2 rate tests, every point of the 2 route tests, the bound tests, 5 tracking tests. */
const familySize = (rows: LevelRow[], sampled: SampledRow[]) =>
  2 + 2 * rows.length + sampled.length + TRAIN_SIZES.length;

/** Every test of the claim (Bonferroni over all of them, route points included). */
function claimTests(rows: LevelRow[], fit: LogLogFit, floor: SampledRow, sampled: SampledRow[]): ClaimTest[] {
  const m = familySize(rows, sampled);
  const quadErr = Math.max(0, ...rows.map((r) => r.quadratureError).filter(Number.isFinite));
  const kl = worstRoute(rows, (r) => [r.klMc, r.klMcSe, r.kl]);
  const mse = worstRoute(rows, (r) => [r.mseMc, r.mseMcSe, r.mse]);
  const tests: ClaimTest[] = [
    greaterThanZero('rate: log-log slope of MSE on KL > 0 (guidance error falls with the KL)', fit.slope, fit.se, m),
    atMostZero(
      'rate: 1/2 - slope <= 0 (MSE = O(sqrt(KL)), the bound O(d eps) at KL = eps^2)',
      0.5 - fit.slope,
      fit.se,
      m,
    ),
    withinTolerance(
      `route: KL, Monte Carlo - quadrature, worst of ${rows.length} (n=${kl.row.n} seed ${kl.row.seed} t=${kl.row.t.toPrecision(3)})`,
      kl.d,
      kl.se,
      m,
      0,
      quadErr,
    ),
    withinTolerance(
      `route: MSE, Monte Carlo - quadrature, worst of ${rows.length} (n=${mse.row.n} seed ${mse.row.seed} t=${mse.row.t.toPrecision(3)})`,
      mse.d,
      mse.se,
      m,
      0,
      quadErr,
    ),
  ];
  const floorBias = Math.max(0, floor.kl.kl);
  for (const r of sampled)
    tests.push(
      atMostZero(
        `bound: final KL - integrated bound <= 0 (${r.label}, seed ${r.seed})`,
        r.kl.kl - r.bound,
        Math.hypot(r.kl.se, floor.kl.se),
        m,
        floorBias + (r.route?.klDifference ?? 0),
      ),
    );
  tests.push(...trackingTests(sampled, m));
  return tests;
}

export async function runCrossEntropy(ctx: ReproContext): Promise<ClaimResult> {
  const started = performance.now();
  const st = settings(ctx.quick, ctx.gpu !== null, ctx.mutation);
  const s = crossEntropySpec(st.N, st.steps);
  const model = buildModel(s);
  const exact = new ExactClassifier(model, s.process);
  const qs = await classifiers(s, exact, st.seeds, ctx.mutation, ctx.log);
  const rows = levelRows(s, model, exact, qs, st.testPoints);
  const fit = fitLogLog(rows.map((r) => ({ group: r.level, x: r.kl, y: r.mse })));
  ctx.log(
    `cross-entropy: log-log slope of MSE on KL ${fit.slope.toFixed(4)} (se ${fit.se.toFixed(4)}, 95% CI [${fit.ci[0].toFixed(4)}, ${fit.ci[1].toFixed(4)}], ${fit.n} points)`,
  );
  const gpu = ctx.mutation ? null : ctx.gpu;
  const { floor, rows: sampled } = await sampledRows(s, model, exact, qs, st, gpu, ctx.log);
  const tests = claimTests(rows, fit, floor, sampled);
  const perLevelSlopes = [...new Set(rows.map((r) => r.level))].map((level) => {
    const at = rows.filter((r) => r.level === level);
    const f = fitLogLog(at.map((r) => ({ group: 0, x: r.kl, y: r.mse })));
    return { level, t: at[0].t, slope: f.slope, se: f.se, ci: f.ci };
  });
  return {
    claim: 'cross-entropy',
    reference:
      'Sahu, Banerjee, Wu 2026, "Provably Reliable Classifier Guidance via Cross-Entropy Control", arXiv 2601.21200',
    setup: {
      particlesPerSetting: st.N,
      backend: gpu ? gpu.adapterInfo.label : 'cpu',
      mixture: 'two Gaussians N(+-1, 1), 1-D, equal weights; target pos; OU T 10',
      solver: `em (Euler-Maruyama), ${st.steps} steps, edm grid (rho 7), tMin ${T_MIN}; classifier guidance w = ${W}`,
      classifiers: ctx.mutation
        ? `twin: the exact log-odds plus A sin(x / A + seed), A = ${RIPPLE} sqrt(${TRAIN_SIZES[0]} / n) (smoothness broken)`
        : `logistic regression ('linear' features, Newton) per level of the default grid (${defaultTimeGrid(s).length} levels), interpolated in alpha/sigma; n = ${TRAIN_SIZES.join(', ')} training points per level x ${st.seeds} seeds`,
      perLevel: `quadrature (trapezoid, 40 points per sd, +-12 sd; error by halving) and Monte Carlo on ${st.testPoints} held-out points per level`,
      fit: 'log MSE = a_t + b log KL, OLS, one intercept per level; 95% CI with Student t',
      sampled: `${st.sampledSeeds} seed(s) per n: binned KL(p_tMin(x|pos) || Q) on ${BINS} equal-mass bins (add-1/2 counts, first-order bias subtracted)`,
      discretisationBias: `the exact classifier's binned KL at the same ${st.steps} steps and N (${floor.kl.kl.toExponential(3)}), the bound tests' allowance${st.routeParticles > 0 ? `, plus |binned KL on the first ${st.routeParticles} particles: webgpu f32 - CPU f64 (paired)|` : ''}`,
      alpha: `family-wise 1e-3, Bonferroni over m = ${familySize(rows, sampled)}: ${tests.length} tests, the two route tests (worst point) counting each of their ${rows.length} points`,
      mutation: ctx.mutation
        ? 'rippled exact classifiers, KL -> 0 with no fall of the gradient error (must FAIL)'
        : null,
    },
    tests,
    verdict: overallVerdict(tests),
    data: {
      fit,
      tightness: {
        slopeMinusHalf: fit.slope - 0.5,
        halfInCi: fit.ci[0] <= 0.5 && 0.5 <= fit.ci[1],
        note: 'the bound is an upper bound: slope 1/2 is its worst case; not a test',
      },
      perLevelSlopes,
      trackingFit: trackingFit(sampled),
      perSize: TRAIN_SIZES.map((n) => perSize(sampled, n)),
      floor,
      sampled,
      levels: rows,
      elapsedSeconds: (performance.now() - started) / 1000,
    },
    figures: [rateFigure(rows, fit), trackingFigure(sampled)],
  };
}
