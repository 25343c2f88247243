// Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself",
// arXiv 2406.02507; its 2-D toy, NVlabs/edm2 toy_example.py): guiding a learned model with a
// smaller, less-trained version of itself, s = (1 + w) s_good - w s_bad, improves fidelity (fewer
// samples off the data's support) without the loss of coverage that CFG (the bad model trained on
// every class, the unconditional law) brings.
//
// Here on examples/grid-5x5.json (target "right": 10 tight Gaussians at x in {1, 2}, next to the
// 15 of "left"), with learned denoisers (src/studies/denoisers/) trained as the toy's: the main
// model 3 x 64 SiLU, 3000 Adam iterations, on p(x | right); the guides 3 x 32, 375 iterations
// (the toy's 1/8 of the main model's), on p(x | right) (autoguidance) and on p(x) (CFG). The
// sampler is the toy's: heun, 32 EDM steps (rho 7), VE from sigma 10 to 0.002.
//
// Metrics of each setting's particles against the exact target p_tMin(x | right) (the mixture
// makes it exact):
//   outliers    share of particles outside the exact 99.9 % highest-density region (fidelity;
//               0.001 for exact samples), binomial SE
//   modeTv      total variation between the particles' mode occupancy (nearest mode by exact
//               responsibility) and the modes' weights (coverage; 0 for exact samples up to
//               sampling noise), SE from 10 batches
//   klPQ        binned KL(P || Q) on a 64 x 64 grid (coverage loss; Jeffreys-smoothed Q)
//   precision, recall   the binned PRD summaries F_1/8 and F_8 (src/metrics/statistics.ts)
//   exact KL(Q||P), KL(P||Q)  by the log-density path on the CPU (docs/coverage-fidelity.md; a
//               learned score's divergence is its network's Jacobian trace), with SEs
//
// Tests at w = 2 (the toy's guidance 3): autoguidance has fewer outliers and a smaller exact
// KL(Q||P) than the unguided main model (fidelity); its mode occupancy is closer to the target's
// and its exact KL(P||Q) smaller than CFG's (coverage). The exact tests carry a bias term: the
// exact sampler's own KLs at the same steps. Mutation twin: the main model
// guides itself (s = s_good at every w): the fidelity test must FAIL.
import { fileURLToPath } from 'node:url';
import type { TopLevelSpec } from 'vega-lite';
import { loadSpecFile } from '../experiment/parse.ts';
import { prepareExperiment } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import type { DenoiserFile } from '../model/denoiser/denoiser.ts';
import { buildModel, classGroup } from '../model/mixture.ts';
import { sampleGroupExact } from '../model/sample-exact.ts';
import { binnedKl, prd } from '../metrics/statistics.ts';
import { exactCoverageFidelity } from '../checks/exact-density.ts';
import { cpuLogDensityBackend } from '../cpu/log-density.ts';
import { processAt } from '../processes/process.ts';
import { TargetEvaluator } from '../targets/definition.ts';
import { targetDef } from '../targets/from-spec.ts';
import { targetGrid, type Grid } from '../targets/grid.ts';
import { DEFAULT_TRAIN, trainDenoiser, trainingGroup } from '../studies/denoisers/train.ts';
import { scoreErrorReport } from '../studies/denoisers/score-error.ts';
import {
  greaterThanZero,
  lineChart,
  overallVerdict,
  sampleParticles,
  share,
  spec,
  type ClaimResult,
  type ReproContext,
} from './runner.ts';

/** The data a run is on: the example, its target class, the sampler's process, the scatter's window. */
export interface Dataset {
  claim: string;
  file: string;
  target: string;
  process: object;
  label: string;
  window: { x: [number, number]; y: [number, number] };
}

/** The default: examples/grid-5x5.json, target "right" (VE from sigma 10). */
export const GRID: Dataset = {
  claim: 'autoguidance',
  file: fileURLToPath(new URL('../../examples/grid-5x5.json', import.meta.url)),
  target: 'right',
  process: { kind: 've', sigmaMax: 10 },
  label: 'examples/grid-5x5.json, target "right"',
  window: { x: [0, 3], y: [-3, 3] },
};

/**
 * edm2's own toy: its 2-D tree (examples/tree-2d.json, 1016 full-covariance Gaussians per class),
 * class "A", with the example's sampler (VE from sigma 5, as toy_example.py).
 */
export const TREE: Dataset = {
  claim: 'autoguidance-tree',
  file: fileURLToPath(new URL('../../examples/tree-2d.json', import.meta.url)),
  target: 'A',
  process: { kind: 've', sigmaMax: 5 },
  label: 'examples/tree-2d.json (edm2 toy tree), target "A"',
  window: { x: [-0.6, 1.4], y: [-0.7, 1.5] },
};
/** The tests' guidance weight (the toy's guidance 3 = 1 + w). */
export const TEST_W = 2;

interface Sizes {
  main: { hidden: number[]; iterations: number };
  guide: { hidden: number[]; iterations: number };
  particles: number;
  /** Particles (and P-samples) of each setting's exact KLs (the CPU log-density path). */
  exactParticles: number;
  steps: number;
  ws: number[];
}

export function sizes(quick: boolean): Sizes {
  return quick
    ? {
        main: { hidden: [32, 32], iterations: 600 },
        guide: { hidden: [16, 16], iterations: 75 },
        particles: 2000,
        exactParticles: 500,
        steps: 16,
        ws: [1, 2],
      }
    : {
        main: { hidden: [64, 64, 64], iterations: 3000 },
        guide: { hidden: [32, 32, 32], iterations: 375 },
        particles: 10000,
        exactParticles: 2000,
        steps: 32,
        ws: [0.5, 1, 2, 3],
      };
}

type Method = 'exact' | 'exact cfg' | 'learned' | 'cfg' | 'autoguidance';

interface Setting {
  method: Method;
  w: number;
  spec: ExperimentSpec;
}

export function samplingSpec(
  data: ExperimentSpec,
  guidance: object,
  n: number,
  steps: number,
  set: Dataset = GRID,
): ExperimentSpec {
  return spec({
    dim: data.dim,
    classes: data.classes.map((c) => ({ name: c.name, weight: c.weight, components: c.components.map(rawComponent) })),
    target: set.target,
    process: set.process,
    guidance,
    solver: { kind: 'heun', steps, tMin: 0.002, grid: { kind: 'edm', rho: 7 } },
    particles: n,
    seed: 1,
  });
}

function rawComponent(c: ExperimentSpec['classes'][number]['components'][number]): object {
  if (c.kind === 'uniform') return { kind: 'uniform', weight: c.weight, low: c.low, high: c.high };
  const cov = c.cov.kind === 'isotropic' ? c.cov.variance : c.cov.kind === 'diagonal' ? c.cov.variances : c.cov.matrix;
  return { kind: 'gaussian', weight: c.weight, mean: c.mean, cov };
}

const learned = (model: DenoiserFile) => ({ kind: 'learned', model });

export interface SettingMetrics {
  method: Method;
  w: number;
  outliers: number;
  outliersSe: number;
  modeTv: number;
  modeTvSe: number;
  klPQ: number;
  precision: number;
  recall: number;
  nonFinite: number;
  /**
   * The exact KLs against p_tMin(x | target) by the log-density path (src/checks/exact-density.ts;
   * a learned score's divergence is its network's Jacobian trace): KL(Q||P) (fidelity) and
   * KL(P||Q) (coverage), with SEs; absent until measured.
   */
  exact?: { klQP: number; klQPSe: number; klPQ: number; klPQSe: number; nonFinite: number };
}

/** The measuring apparatus: the exact target at tMin, its grid, HDR level and modes. */
export class Measure {
  readonly grid: Grid;
  readonly level: number;
  private readonly ev: TargetEvaluator;
  private readonly weights: number[];
  private readonly probs: Float64Array;

  constructor(exact: ExperimentSpec, target = GRID.target) {
    const def = targetDef(prepareExperiment(exact), 'conditional');
    this.ev = new TargetEvaluator(def);
    this.grid = targetGrid(def, [64, 64]);
    this.probs = Float64Array.from([...this.grid.mass, Math.max(0, 1 - this.grid.mass.reduce((a, b) => a + b, 0))]);
    this.weights = def.groupA.entries.map((e) => Math.exp(e.logWeight));
    // The 99.9 % HDR's level from exact draws of p_tMin(x | target).
    const model = buildModel(exact);
    const p = processAt(exact.process, exact.solver.tMin);
    const m = 100_000;
    const draw = sampleGroupExact(model, classGroup(model, target), p.alpha, p.sigma2, {
      seed: 77,
      first: 0,
      count: m,
    });
    const lp = Array.from({ length: m }, (_, i) => this.ev.logDensity(draw.x.subarray(2 * i, 2 * i + 2)));
    lp.sort((a, b) => a - b);
    this.level = lp[Math.floor(m * 0.001)];
  }

  of(method: Method, w: number, x: Float64Array): SettingMetrics {
    const n = x.length / 2;
    const K = this.weights.length;
    const resp = new Float64Array(K);
    const { low, high, cells } = this.grid;
    const counts = new Float64Array(cells[0] * cells[1] + 1);
    const batches = 10;
    const occupancy = Array.from({ length: batches }, () => new Float64Array(K));
    let outliers = 0;
    let nonFinite = 0;
    for (let i = 0; i < n; i++) {
      const xi = x.subarray(2 * i, 2 * i + 2);
      if (!Number.isFinite(xi[0]) || !Number.isFinite(xi[1])) {
        nonFinite++;
        outliers++;
        counts[counts.length - 1]++;
        continue;
      }
      const lp = this.ev.logDensityAndResponsibilities(xi, resp);
      if (!(lp >= this.level)) outliers++;
      let best = 0;
      for (let k = 1; k < K; k++) if (resp[k] > resp[best]) best = k;
      occupancy[i % batches][best]++;
      const c0 = Math.floor(((xi[0] - low[0]) / (high[0] - low[0])) * cells[0]);
      const c1 = Math.floor(((xi[1] - low[1]) / (high[1] - low[1])) * cells[1]);
      const inside = c0 >= 0 && c0 < cells[0] && c1 >= 0 && c1 < cells[1];
      counts[inside ? c1 * cells[0] + c0 : counts.length - 1]++;
    }
    const tv = (occ: Float64Array) => {
      const total = occ.reduce((a, b) => a + b, 0);
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.abs(occ[k] / total - this.weights[k]);
      return s / 2;
    };
    const all = new Float64Array(K);
    for (const o of occupancy) for (let k = 0; k < K; k++) all[k] += o[k];
    const perBatch = occupancy.map(tv);
    const mean = perBatch.reduce((a, b) => a + b, 0) / batches;
    const sd = Math.sqrt(perBatch.reduce((a, b) => a + (b - mean) ** 2, 0) / (batches - 1));
    const o = share(outliers, n);
    const pr = prd(counts, this.probs);
    return {
      method,
      w,
      outliers: o.p,
      outliersSe: o.se,
      modeTv: tv(all),
      // The full sample's TV from batches of n / 10: sd / sqrt(10) (batch TVs are biased up by noise).
      modeTvSe: sd / Math.sqrt(batches),
      klPQ: binnedKl(counts, this.probs).reverse,
      precision: pr.f1over8,
      recall: pr.f8,
      nonFinite,
    };
  }
}

function scatter(
  rows: { method: string; x: number; y: number }[],
  title: string,
  window: Dataset['window'],
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    facet: { field: 'method', type: 'nominal', title: null, sort: null },
    columns: 3,
    spec: {
      width: 220,
      height: 260,
      mark: { type: 'circle', size: 4, opacity: 0.35 },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: { domain: window.x } },
        y: { field: 'y', type: 'quantitative', scale: { domain: window.y } },
      },
    },
  } as TopLevelSpec;
}

/** The fidelity-coverage plane: exact KL(Q||P) against exact KL(P||Q) (both log), one path per method over w. */
function klPlane(rows: { method: string; w: number; klQP: number; klPQ: number }[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 300,
    data: { values: rows.filter((r) => r.klQP > 0 && r.klPQ > 0) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'klQP', type: 'quantitative', title: 'exact KL(Q‖P) (fidelity loss)', scale: { type: 'log' } },
      y: { field: 'klPQ', type: 'quantitative', title: 'exact KL(P‖Q) (coverage loss)', scale: { type: 'log' } },
      order: { field: 'w', type: 'quantitative' },
      color: { field: 'method', type: 'nominal', title: null },
      tooltip: [{ field: 'w' }, { field: 'klQP' }, { field: 'klPQ' }],
    },
  } as TopLevelSpec;
}

export const runAutoguidance = (ctx: ReproContext): Promise<ClaimResult> => runAutoguidanceOn(GRID, ctx);
export const runAutoguidanceTree = (ctx: ReproContext): Promise<ClaimResult> => runAutoguidanceOn(TREE, ctx);

async function runAutoguidanceOn(set: Dataset, ctx: ReproContext): Promise<ClaimResult> {
  const target = set.target;
  const z = sizes(ctx.quick);
  const data = loadSpecFile(set.file);
  const train = (group: string, s: { hidden: number[]; iterations: number }) => {
    const r = trainDenoiser(data, { ...DEFAULT_TRAIN, group, ...s });
    ctx.log(`trained ${group} ${JSON.stringify(s.hidden)} x ${s.iterations} in ${r.seconds.toFixed(1)} s`);
    return r;
  };
  const main = train(target, z.main);
  const guide = train(target, z.guide);
  const guideUncond = train('unconditional', z.guide);
  const mixture = buildModel(data);
  const errorOf = (r: typeof main, group: string) =>
    scoreErrorReport(r.model, mixture, trainingGroup(mixture, group), {
      sigmas: [0.01, 0.05, 0.2, 1, 5],
      n: 1000,
    }).map((l) => ({ sigma: l.sigma, mse: l.mse, relative: l.relative }));
  const negative = ctx.mutation ? main.file : guide.file;
  const settings: Setting[] = [
    { method: 'exact', w: 0, spec: samplingSpec(data, { kind: 'none' }, z.particles, z.steps, set) },
    {
      method: 'learned',
      w: 0,
      spec: samplingSpec(data, { kind: 'none', score: learned(main.file) }, z.particles, z.steps, set),
    },
  ];
  for (const w of z.ws) {
    settings.push({ method: 'exact cfg', w, spec: samplingSpec(data, { kind: 'cfg', w }, z.particles, z.steps, set) });
    settings.push({
      method: 'cfg',
      w,
      spec: samplingSpec(
        data,
        { kind: 'cfg', w, score: learned(main.file), negative: learned(guideUncond.file) },
        z.particles,
        z.steps,
        set,
      ),
    });
    settings.push({
      method: 'autoguidance',
      w,
      spec: samplingSpec(
        data,
        { kind: 'cfg', w, score: learned(main.file), negative: learned(negative) },
        z.particles,
        z.steps,
        set,
      ),
    });
  }
  const measure = new Measure(settings[0].spec, target);
  const metrics: SettingMetrics[] = [];
  const points: { method: string; x: number; y: number }[] = [];
  for (const s of settings) {
    const started = performance.now();
    const x = await sampleParticles(s.spec, ctx.gpu);
    const m = measure.of(s.method, s.w, x);
    const ex = await exactCoverageFidelity(s.spec, cpuLogDensityBackend, {
      particles: z.exactParticles,
      pSamples: z.exactParticles,
    });
    m.exact = {
      klQP: ex.klQP.value,
      klQPSe: ex.klQP.se,
      klPQ: ex.klPQ.value,
      klPQSe: ex.klPQ.se,
      nonFinite: ex.nonFinite.q + ex.nonFinite.p,
    };
    metrics.push(m);
    ctx.log(
      `${s.method} w=${s.w}: outliers ${m.outliers.toFixed(4)}, mode TV ${m.modeTv.toFixed(4)}, KL(P||Q) ${m.klPQ.toFixed(4)}, ` +
        `precision ${m.precision.toFixed(4)}, recall ${m.recall.toFixed(4)}, exact KL(Q||P) ${m.exact.klQP.toFixed(4)} +- ${m.exact.klQPSe.toFixed(4)}, ` +
        `KL(P||Q) ${m.exact.klPQ.toFixed(4)} +- ${m.exact.klPQSe.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    if (s.w === 0 || s.w === TEST_W) {
      const label = s.w === 0 ? s.method : `${s.method}, w = ${s.w}`;
      for (let i = 0; i < Math.min(3000, x.length / 2); i++)
        points.push({ method: label, x: x[2 * i], y: x[2 * i + 1] });
    }
  }
  const at = (method: Method, w: number) => metrics.find((m) => m.method === method && m.w === w)!;
  const base = at('learned', 0);
  const auto = at('autoguidance', TEST_W);
  const cfg = at('cfg', TEST_W);
  // The exact KLs' bias at this discretisation: what the exact sampler's own KLs show (0 in the
  // continuous limit; the forward carry's reversed grid is not the backward map's inverse).
  const ex = (m: SettingMetrics) => m.exact!;
  const exact0 = ex(at('exact', 0));
  const tests = [
    greaterThanZero(
      `fidelity: outliers (outside the exact 99.9 % HDR) of the unguided learned model minus autoguidance's at w = ${TEST_W}`,
      base.outliers - auto.outliers,
      Math.hypot(base.outliersSe, auto.outliersSe),
      4,
    ),
    greaterThanZero(
      `coverage: mode-occupancy TV of CFG minus autoguidance's at w = ${TEST_W}`,
      cfg.modeTv - auto.modeTv,
      Math.hypot(cfg.modeTvSe, auto.modeTvSe),
      4,
    ),
    greaterThanZero(
      `fidelity (exact): KL(Q||P) of the unguided learned model minus autoguidance's at w = ${TEST_W}; bias: the exact sampler's |KL(Q||P)|`,
      ex(base).klQP - ex(auto).klQP,
      Math.hypot(ex(base).klQPSe, ex(auto).klQPSe),
      4,
      Math.abs(exact0.klQP) + 2 * exact0.klQPSe,
    ),
    greaterThanZero(
      `coverage (exact): KL(P||Q) of CFG minus autoguidance's at w = ${TEST_W}; bias: the exact sampler's |KL(P||Q)|`,
      ex(cfg).klPQ - ex(auto).klPQ,
      Math.hypot(ex(cfg).klPQSe, ex(auto).klPQSe),
      4,
      Math.abs(exact0.klPQ) + 2 * exact0.klPQSe,
    ),
  ];
  const rows = metrics.map((m) => ({ ...m, setting: m.w === 0 ? m.method : `${m.method} w=${m.w}` }));
  const curves = metrics.filter((m) => m.method !== 'exact');
  const table = [
    '| method | w | outliers (99.9% HDR) | mode TV | KL(P‖Q) binned | precision F1/8 | recall F8 | exact KL(Q‖P) | exact KL(P‖Q) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...metrics.map(
      (m) =>
        `| ${m.method} | ${m.w} | ${m.outliers.toFixed(4)} ± ${m.outliersSe.toFixed(4)} | ${m.modeTv.toFixed(4)} ± ${m.modeTvSe.toFixed(4)} | ${m.klPQ.toFixed(4)} | ${m.precision.toFixed(4)} | ${m.recall.toFixed(4)} | ${m.exact!.klQP.toFixed(4)} ± ${m.exact!.klQPSe.toFixed(4)} | ${m.exact!.klPQ.toFixed(4)} ± ${m.exact!.klPQSe.toFixed(4)} |`,
    ),
  ];
  for (const line of table) ctx.log(line);
  return {
    claim: set.claim,
    reference:
      'Karras et al. 2024, Guiding a Diffusion Model with a Bad Version of Itself (arXiv 2406.02507), 2-D toy (NVlabs/edm2 toy_example.py)',
    setup: {
      data: set.label,
      sampler: `${JSON.stringify(set.process)}, heun ${z.steps} edm steps, tMin 0.002, ${z.particles} particles`,
      main: { ...z.main, group: target },
      guide: { ...z.guide, autoguidance: target, cfg: 'unconditional' },
      ws: z.ws,
      mutation: ctx.mutation ? 'the main model guides itself' : null,
      backend: ctx.gpu ? 'webgpu' : 'cpu',
      metrics: `binned (64 x 64), exact-HDR outliers, and the exact KLs of the log-density path on ${z.exactParticles} particles (CPU f64; a learned score's divergence is its network's Jacobian trace)`,
    },
    tests,
    verdict: overallVerdict(tests),
    data: {
      table: table.join('\n'),
      metrics: rows,
      hdrLevel: measure.level,
      training: {
        main: { seconds: main.seconds, loss: main.lossCurve.at(-1), scoreError: errorOf(main, target) },
        guide: { seconds: guide.seconds, loss: guide.lossCurve.at(-1), scoreError: errorOf(guide, target) },
        guideUnconditional: {
          seconds: guideUncond.seconds,
          loss: guideUncond.lossCurve.at(-1),
          scoreError: errorOf(guideUncond, 'unconditional'),
        },
      },
    },
    // The three models, usable as guidance.score / guidance.negative files (docs/learned-denoisers.md).
    extraFiles: [
      { name: `main-${target}.json`, text: `${JSON.stringify(main.file)}\n` },
      { name: `guide-${target}.json`, text: `${JSON.stringify(guide.file)}\n` },
      { name: 'guide-unconditional.json', text: `${JSON.stringify(guideUncond.file)}\n` },
    ],
    figures: [
      {
        name: 'autoguidance-samples',
        spec: scatter(
          points,
          `samples (first 3000) of p(x | ${target}), ${set.label}; guided at w = ${TEST_W}`,
          set.window,
        ),
      },
      {
        name: 'autoguidance-outliers',
        spec: lineChart(
          curves.map((m) => ({ method: m.method, w: m.w, outliers: m.outliers })),
          'w',
          'outliers',
          'method',
          'fidelity: share outside the exact 99.9 % HDR (exact samples: 0.001)',
        ),
      },
      {
        name: 'autoguidance-exact-kls',
        spec: klPlane(
          metrics.map((m) => ({ method: m.method, w: m.w, klQP: m.exact!.klQP, klPQ: m.exact!.klPQ })),
          `exact KLs against p(x | ${target}) over w (log scales; KLs <= 0, within the bias, left out)`,
        ),
      },
      {
        name: 'autoguidance-coverage',
        spec: lineChart(
          curves.map((m) => ({ method: m.method, w: m.w, modeTv: m.modeTv })),
          'w',
          'modeTv',
          'method',
          'coverage loss: TV of mode occupancy to the target weights',
        ),
      },
    ],
  };
}
