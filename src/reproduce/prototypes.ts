// Claim 6 (Sajjadi et al. 2018 for precision and recall of distributions, PRD): coverage against
// fidelity and the two KL directions; linear classifiers pull to prototypes. On the "k of n
// features" toy (src/studies/classifiers/k-of-n.ts: the vertices of {0,1}^n as N(v, 1e-3 I), class
// pos = at least k ones, k > n/2) most members are marginal (exactly k ones: C(n, k) vertices) and
// the prototype 1...1 is one vertex. Classifier guidance over w with the exact classifier and with
// a trained logistic regression on the n coordinates (one per level, interpolated between them):
// the claim is that the linear classifier's guidance moves mass to the prototype, raising fidelity
// (KL(Q||P) falls, precision rises) and lowering coverage (KL(P||Q) rises, recall falls), more than
// the exact classifier's does.
//
// Read-out: each particle is a vertex (every coordinate thresholded at 1/2). Q is the particles'
// law over the 2^n vertices, P the exact read-out law of the target p_tMin(x | pos) (closed form:
// each pos component N(alpha v, (alpha^2 var + sigma^2) I) read coordinate-wise; uniform 1/C over
// the C pos vertices up to a flip probability ~1e-12 per coordinate, which keeps every vertex's
// P-mass positive, so KL(Q||P) is finite and exact in its definition: the KL of the read-outs,
// a lower bound of the continuous KL by data processing).
//  - prototype share: Q(1...1); precision: Q-mass on pos vertices (1 - outside share);
//  - KL(Q||P): plug-in over the vertices minus the Miller-Madow term (m - 1) / (2N) (m vertices
//    visited), whose size is also the estimator allowance;
//  - KL(P||Q): sum_v P(v) log(P(v) / Q~(v)), Q~(v) = (c_v + 1/2) / (N + 2^n / 2) (add-1/2): it
//    under-states the loss where Q visits a vertex rarely (each term is capped at
//    log(2 P(v) (N + 2^(n-1)))); allowance: |estimate on N - estimate on the first N / 2|;
//  - recall: share of pos vertices Q visits at rate >= RECALL_FRACTION P(v).
import type { ExperimentSpec } from '../experiment/types.ts';
import { buildModel } from '../model/mixture.ts';
import { ExactClassifier, type TrainedClassifier } from '../model/classifier/classifier.ts';
import { processAt } from '../processes/process.ts';
import { kOfNSpec } from '../studies/classifiers/k-of-n.ts';
import { cpuSampler, runClassifierExperiment, type GuidedSampler } from '../studies/classifiers/experiment.ts';
import { gpuSampler } from '../studies/classifiers/sample-gpu.ts';
import { normalCdf } from '../targets/law1d.ts';
import type { TopLevelSpec } from 'vega-lite';
import {
  greaterThanZero,
  lineChart,
  overallVerdict,
  share,
  spec,
  type ClaimResult,
  type ClaimTest,
  type Figure,
  type ReproContext,
} from './runner.ts';

export const PROTO_WS = [0, 1, 3, 7, 15];
export interface KOfN {
  k: number;
  n: number;
}
/** n = 7 (128 components) runs about 10 min on its own on the 2-core machine: left out of the default. */
export const CONFIGS: KOfN[] = [
  { k: 2, n: 3 },
  { k: 3, n: 5 },
  { k: 4, n: 6 },
];
export const QUICK_CONFIGS: KOfN[] = [
  { k: 3, n: 5 },
  { k: 4, n: 6 },
];
/** A pos vertex is "recalled" when Q visits it at rate >= this fraction of P's. */
export const RECALL_FRACTION = 0.5;
export const VARIANCE = 1e-3;
export const T_MIN = 2e-3;
/** Training points per level of the logistic regression (linear features, Newton). */
export const TRAIN = 20_000;
/** The fidelity and coverage trends are tested from the conditional sampler's w = 1 to the largest w. */
const W_FROM = 1;

export function prototypesSpec(c: KOfN, particles: number, steps: number, seed: number): ExperimentSpec {
  return spec(
    kOfNSpec({
      n: c.n,
      k: c.k,
      variance: VARIANCE,
      solver: { kind: 'rk4', steps, tMin: T_MIN, grid: { kind: 'edm', rho: 7 } },
      particles,
      seed,
    }),
  );
}

const ones = (v: number) => {
  let o = 0;
  for (; v; v &= v - 1) o++;
  return o;
};

/** Vertex index of each particle (bit n-1-i is coordinate i > 1/2, as kOfNSpec numbers them); -1 if non-finite. */
export function readVertices(x: Float64Array | Float32Array, count: number, n: number): Int32Array {
  const out = new Int32Array(count);
  for (let p = 0; p < count; p++) {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const c = x[p * n + i];
      if (!Number.isFinite(c)) {
        v = -1;
        break;
      }
      if (c > 0.5) v |= 1 << (n - 1 - i);
    }
    out[p] = v;
  }
  return out;
}

/**
 * The exact read-out law of p_tMin(x | pos) over the 2^n vertices: uniform over the pos components
 * N(alpha v, (alpha^2 var + sigma^2) I), each coordinate read 1 above 1/2.
 */
export function exactReadoutLaw(c: KOfN, alpha: number, variance: number, sigma2: number): Float64Array {
  const s = Math.sqrt(alpha * alpha * variance + sigma2);
  const read1 = [normalCdf((0 - 0.5) / s), normalCdf((alpha - 0.5) / s)]; // P(read 1 | v_i = 0, 1)
  const size = 1 << c.n;
  const law = new Float64Array(size);
  const pos: number[] = [];
  for (let v = 0; v < size; v++) if (ones(v) >= c.k) pos.push(v);
  for (let u = 0; u < size; u++) {
    let sum = 0;
    for (const v of pos) {
      let pr = 1;
      for (let i = 0; i < c.n; i++) {
        const r = read1[(v >> i) & 1];
        pr *= (u >> i) & 1 ? r : 1 - r;
      }
      sum += pr;
    }
    law[u] = sum / pos.length;
  }
  return law;
}

export interface VertexStats {
  n: number;
  prototype: number;
  precision: number;
  klQP: number;
  klQPSe: number;
  /** Miller-Madow term subtracted from the plug-in KL(Q||P). */
  klQPCorrection: number;
  klPQ: number;
  klPQSe: number;
  recall: number;
  recallSe: number;
  /** Law of the number of ones (length n + 1). */
  onesFreq: number[];
  nonFinite: number;
}

/** The read-out statistics of the first `count` vertices of `v` against the exact law P. */
export function vertexStats(v: Int32Array, count: number, c: KOfN, P: Float64Array): VertexStats {
  const size = 1 << c.n;
  const counts = new Float64Array(size);
  let nonFinite = 0;
  for (let p = 0; p < count; p++)
    if (v[p] < 0) nonFinite++;
    else counts[v[p]]++;
  const N = count - nonFinite;
  const onesFreq = new Array(c.n + 1).fill(0);
  let precision = 0;
  let visited = 0;
  let m1 = 0;
  let m2 = 0;
  for (let u = 0; u < size; u++) {
    const q = counts[u] / N;
    onesFreq[ones(u)] += q;
    if (ones(u) >= c.k) precision += q;
    if (counts[u] > 0) {
      visited++;
      const l = Math.log(q / P[u]);
      m1 += q * l;
      m2 += q * l * l;
    }
  }
  const klQPCorrection = (visited - 1) / (2 * N);
  // KL(P||Q) with add-1/2 counts, its delta-method SE under the multinomial.
  const denom = N + size / 2;
  let klPQ = 0;
  let a2 = 0;
  let a1 = 0;
  let recall = 0;
  let recallVar = 0;
  let nPos = 0;
  for (let u = 0; u < size; u++) {
    const qt = (counts[u] + 0.5) / denom;
    klPQ += P[u] * Math.log(P[u] / qt);
    const a = P[u] / (counts[u] + 0.5);
    a2 += a * a * (counts[u] / N);
    a1 += a * (counts[u] / N);
    if (ones(u) >= c.k) {
      nPos++;
      // Visited at >= RECALL_FRACTION P(u): count >= thr; its probability by the normal
      // approximation of the binomial count at the plug-in rate.
      const thr = RECALL_FRACTION * P[u] * N;
      if (counts[u] >= thr) recall++;
      const q = counts[u] / N;
      const sd = Math.sqrt(Math.max(N * q * (1 - q), 0.25));
      const pr = normalCdf((counts[u] - thr) / sd);
      recallVar += pr * (1 - pr);
    }
  }
  return {
    n: N,
    prototype: counts[size - 1] / N,
    precision,
    klQP: m1 - klQPCorrection,
    klQPSe: Math.sqrt(Math.max(m2 - m1 * m1, 0) / N),
    klQPCorrection,
    klPQ,
    klPQSe: Math.sqrt(Math.max(N * (a2 - a1 * a1), 0)),
    recall: recall / nPos,
    recallSe: Math.sqrt(recallVar) / nPos,
    onesFreq,
    nonFinite,
  };
}

/** 3-sigma upper bound on the rate of changed read-outs between two paired runs. */
function changedBound(a: Int32Array, b: Int32Array, count: number): { changed: number; bound: number } {
  let changed = 0;
  for (let p = 0; p < count; p++) if (a[p] !== b[p]) changed++;
  return { changed, bound: (changed + 3 * Math.sqrt(changed) + 3) / count };
}

interface Setting {
  w: number;
  classifier: 'exact' | 'linear';
  stats: VertexStats;
  /** Vertices of every particle (paired across classifiers: same seed). */
  vertices: Int32Array;
  /** Allowances: shares (prototype, precision) and each vertex-law statistic. */
  shareBias: number;
  klQPBias: number;
  klPQBias: number;
  recallBias: number;
  discretisation: { paired: number; changed: number };
  route: { paired: number; changed: number } | null;
}

/** Number-of-ones histogram per w (facets), guided particles against the exact target. */
function onesHistogramChart(rows: Record<string, number | string>[], title: string, order: string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    facet: { field: 'setting', type: 'nominal', title: null, sort: order },
    columns: 3,
    spec: {
      width: 220,
      height: 150,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'ones', type: 'quantitative', title: 'number of features (ones)' },
        y: { field: 'freq', type: 'quantitative', title: 'share' },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
  } as TopLevelSpec;
}

export async function runPrototypes(ctx: ReproContext): Promise<ClaimResult> {
  const started = performance.now();
  const N = ctx.quick ? 5_000 : 40_000;
  const steps = ctx.quick ? 50 : 100;
  // Paired re-runs at 2 steps (every particle in --quick: the twin's zero effects must be decidable).
  const nB = ctx.quick ? N : 10_000;
  // Paired f64 CPU re-runs of the first particles beside the GPU's (the second route).
  const nRoute = ctx.gpu ? Math.min(N, ctx.quick ? 500 : 2_000) : 0;
  const configs = ctx.quick ? QUICK_CONFIGS : CONFIGS;
  const wMax = PROTO_WS[PROTO_WS.length - 1];
  const sampler: GuidedSampler = ctx.gpu ? gpuSampler(ctx.gpu) : cpuSampler;
  // Tests per config: 5 trends of the linear classifier, 2 comparisons with the exact one.
  const m = 7 * configs.length;
  const tests: ClaimTest[] = [];
  const rows: Record<string, number | string>[] = [];
  const shareRows: Record<string, number | string>[] = [];
  const tradeRows: Record<string, number | string>[] = [];
  const prRows: Record<string, number | string>[] = [];
  const figures: Figure[] = [];
  const perConfig: Record<string, unknown> = {};
  for (const [ci, c] of configs.entries()) {
    const seed = 1 + ci;
    const label = `k=${c.k} n=${c.n}`;
    const s = prototypesSpec(c, N, steps, seed);
    const model = buildModel(s);
    const exact = new ExactClassifier(model, s.process);
    const trainStart = performance.now();
    const report = await runClassifierExperiment(s, {
      models: ['logistic'],
      features: 'linear',
      w: [],
      train: TRAIN,
      test: 500,
      between: false,
    });
    const trained = report.classifiers.logistic;
    if (!trained) throw new Error('prototypes: the logistic classifier was not trained');
    const trainSeconds = (performance.now() - trainStart) / 1000;
    // The mutation twin: the exact classifier in place of the linear one.
    const linear: TrainedClassifier = ctx.mutation ? exact : trained;
    const pt = processAt(s.process, T_MIN);
    const P = exactReadoutLaw(c, pt.alpha, VARIANCE, pt.sigma2);
    const targetOnes = new Array(c.n + 1).fill(0);
    P.forEach((p, u) => {
      targetOnes[ones(u)] += p;
    });
    ctx.log(
      `prototypes ${label}: logistic trained in ${trainSeconds.toFixed(1)} s (non-monotone levels: ${JSON.stringify(report.logisticNonMonotone)})`,
    );
    const settings: Setting[] = [];
    const runOne = async (w: number, kind: 'exact' | 'linear'): Promise<Setting> => {
      const clf = kind === 'exact' ? exact : linear;
      const x = await sampler.sample(s, clf, w, N);
      const v = readVertices(x, N, c.n);
      const st = vertexStats(v, N, c, P);
      // Discretisation: the first nB again at 2 steps (paired: same seed, same starts).
      const fine = prototypesSpec(c, nB, 2 * steps, seed);
      const vf = readVertices(await sampler.sample(fine, clf, w, nB), nB, c.n);
      const disc = changedBound(v, vf, nB);
      const coarseB = vertexStats(v, nB, c, P);
      const fineB = vertexStats(vf, nB, c, P);
      let shareBias = disc.bound;
      let route: { paired: number; changed: number } | null = null;
      if (ctx.gpu && nRoute > 0) {
        const vr = readVertices(await cpuSampler.sample(s, clf, w, nRoute), nRoute, c.n);
        const rb = changedBound(v, vr, nRoute);
        shareBias += rb.bound;
        route = { paired: nRoute, changed: rb.changed };
        ctx.log(`  f32 GPU vs f64 CPU: ${rb.changed} of ${nRoute} paired particles read out a different vertex`);
      }
      const half = vertexStats(v, Math.floor(N / 2), c, P);
      return {
        w,
        classifier: kind,
        stats: st,
        vertices: v,
        shareBias,
        klQPBias: st.klQPCorrection + Math.abs(fineB.klQP - coarseB.klQP),
        klPQBias: Math.abs(st.klPQ - half.klPQ) + Math.abs(fineB.klPQ - coarseB.klPQ),
        recallBias: Math.abs(fineB.recall - coarseB.recall),
        discretisation: { paired: nB, changed: disc.changed },
        route,
      };
    };
    for (const w of PROTO_WS) {
      const e = await runOne(w, 'exact');
      // At w = 0 the classifier's term vanishes: one unguided run serves both.
      const l = w === 0 ? { ...e, classifier: 'linear' as const } : await runOne(w, 'linear');
      settings.push(e, l);
      for (const r of [e, l]) {
        const st = r.stats;
        const series = `${label}: ${r.classifier}${r.classifier === 'linear' && ctx.mutation ? ' (twin: exact)' : ''}`;
        rows.push({
          config: label,
          k: c.k,
          n: c.n,
          classifier: r.classifier,
          w,
          prototype: st.prototype,
          precision: st.precision,
          outside: 1 - st.precision,
          klQP: st.klQP,
          klQPSe: st.klQPSe,
          klPQ: st.klPQ,
          klPQSe: st.klPQSe,
          recall: st.recall,
          recallSe: st.recallSe,
          shareBias: r.shareBias,
          klQPBias: r.klQPBias,
          klPQBias: r.klPQBias,
          recallBias: r.recallBias,
          discretisationChanged: r.discretisation.changed,
          routeChanged: r.route?.changed ?? 'n/a',
          nonFinite: st.nonFinite,
          onesFreq: st.onesFreq.map((f) => f.toFixed(5)).join(' '),
        });
        shareRows.push({ w, prototype: st.prototype, series });
        tradeRows.push({ w, klQP: st.klQP, klPQ: st.klPQ, series });
        prRows.push({ w, precision: st.precision, recall: st.recall, series });
      }
      ctx.log(
        `prototypes ${label} w=${w}: prototype share exact ${e.stats.prototype.toFixed(4)} linear ${l.stats.prototype.toFixed(4)}; KL(Q||P) ${e.stats.klQP.toFixed(3)} / ${l.stats.klQP.toFixed(3)}; KL(P||Q) ${e.stats.klPQ.toFixed(3)} / ${l.stats.klPQ.toFixed(3)}; precision ${e.stats.precision.toFixed(4)} / ${l.stats.precision.toFixed(4)}`,
      );
    }
    const at = (w: number, kind: 'exact' | 'linear'): Setting => {
      const r = settings.find((x) => x.w === w && x.classifier === kind);
      if (!r) throw new Error(`prototypes: no run at w = ${w} (${kind})`);
      return r;
    };
    const L0 = at(0, 'linear');
    const L1 = at(W_FROM, 'linear');
    const Lm = at(wMax, 'linear');
    const Em = at(wMax, 'exact');
    const sh = (r: Setting, p: number) => share(Math.round(p * r.stats.n), r.stats.n).se;
    tests.push(
      greaterThanZero(
        `${label}: linear prototype share(w=${wMax}) > at w=0`,
        Lm.stats.prototype - L0.stats.prototype,
        Math.hypot(sh(Lm, Lm.stats.prototype), sh(L0, L0.stats.prototype)),
        m,
        Lm.shareBias + L0.shareBias,
      ),
      greaterThanZero(
        `${label}: linear precision(w=${wMax}) > at w=${W_FROM} (fidelity rises)`,
        Lm.stats.precision - L1.stats.precision,
        Math.hypot(sh(Lm, Lm.stats.precision), sh(L1, L1.stats.precision)),
        m,
        Lm.shareBias + L1.shareBias,
      ),
      greaterThanZero(
        `${label}: linear KL(Q||P)(w=${W_FROM}) > at w=${wMax} (fidelity rises)`,
        L1.stats.klQP - Lm.stats.klQP,
        Math.hypot(L1.stats.klQPSe, Lm.stats.klQPSe),
        m,
        L1.klQPBias + Lm.klQPBias,
      ),
      greaterThanZero(
        `${label}: linear KL(P||Q)(w=${wMax}) > at w=${W_FROM} (coverage falls)`,
        Lm.stats.klPQ - L1.stats.klPQ,
        Math.hypot(L1.stats.klPQSe, Lm.stats.klPQSe),
        m,
        L1.klPQBias + Lm.klPQBias,
      ),
      greaterThanZero(
        `${label}: linear recall(w=${W_FROM}) > at w=${wMax} (coverage falls)`,
        L1.stats.recall - Lm.stats.recall,
        Math.hypot(L1.stats.recallSe, Lm.stats.recallSe),
        m,
        L1.recallBias + Lm.recallBias,
      ),
    );
    // Paired (same starts): the SE of the difference from the per-particle differences.
    let d1 = 0;
    let d2 = 0;
    for (let p = 0; p < N; p++) {
      const d = (Lm.vertices[p] === (1 << c.n) - 1 ? 1 : 0) - (Em.vertices[p] === (1 << c.n) - 1 ? 1 : 0);
      d1 += d;
      d2 += d * d;
    }
    const dMean = d1 / N;
    const dSe = Math.sqrt(Math.max(d2 / N - dMean * dMean, 1 / N) / N);
    tests.push(
      greaterThanZero(
        `${label}: prototype share(w=${wMax}) linear > exact (paired)`,
        dMean,
        dSe,
        m,
        Lm.shareBias + Em.shareBias,
      ),
      greaterThanZero(
        `${label}: KL(P||Q)(w=${wMax}) linear > exact (coverage falls more)`,
        Lm.stats.klPQ - Em.stats.klPQ,
        Math.hypot(Lm.stats.klPQSe, Em.stats.klPQSe),
        m,
        Lm.klPQBias + Em.klPQBias,
      ),
    );
    perConfig[label] = {
      k: c.k,
      n: c.n,
      posVertices: P.filter((_, u) => ones(u) >= c.k).length,
      marginalVertices: binomial(c.n, c.k),
      targetOnes,
      exactReadoutOutsideMass: 1 - [...P].reduce((a, p, u) => (ones(u) >= c.k ? a + p : a), 0),
      trainSeconds,
      logisticNonMonotone: report.logisticNonMonotone,
      pairedPrototypeDifference: { mean: dMean, se: dSe },
    };
    const order = PROTO_WS.map((w) => `w=${w}`);
    const hist: Record<string, number | string>[] = [];
    for (const w of PROTO_WS) {
      for (const kind of ['exact', 'linear'] as const)
        at(w, kind).stats.onesFreq.forEach((f, o) => {
          hist.push({ setting: `w=${w}`, ones: o, freq: f, series: `${kind} classifier` });
        });
      targetOnes.forEach((f, o) => {
        hist.push({ setting: `w=${w}`, ones: o, freq: f, series: 'target p(x|pos)' });
      });
    }
    figures.push({
      name: `prototypes-histogram-k${c.k}-n${c.n}`,
      spec: onesHistogramChart(hist, `number of features of the guided samples, ${label}`, order),
    });
  }
  figures.unshift(
    {
      name: 'prototypes-share',
      spec: lineChart(shareRows, 'w', 'prototype', 'series', 'share of samples on the prototype 1...1 against w', {
        logX: true,
        yTitle: 'prototype share',
      }),
    },
    {
      name: 'prototypes-kl',
      spec: lineChart(
        tradeRows,
        'klQP',
        'klPQ',
        'series',
        'fidelity loss KL(Q||P) against coverage loss KL(P||Q), over w = 0, 1, 3, 7, 15',
        { logX: true, xTitle: 'KL(Q||P) (read-out, nats)', yTitle: 'KL(P||Q) (read-out, nats)', orderBy: 'w' },
      ),
    },
    {
      name: 'prototypes-pr',
      spec: lineChart(prRows, 'recall', 'precision', 'series', 'precision against recall over w = 0, 1, 3, 7, 15', {
        xTitle: `recall (pos vertices visited at >= ${RECALL_FRACTION} P)`,
        yTitle: 'precision (mass on pos vertices)',
        orderBy: 'w',
      }),
    },
  );
  return {
    claim: 'prototypes',
    reference:
      'Sajjadi et al. 2018, "Assessing generative models via precision and recall", NeurIPS (arXiv 1806.00035); the k-of-n toy of issue 20',
    setup: {
      particlesPerSetting: N,
      backend: ctx.gpu ? ctx.gpu.adapterInfo.label : 'cpu',
      configs: configs.map((c) => `k=${c.k} n=${c.n}`),
      ws: PROTO_WS,
      solver: `rk4, ${steps} steps, edm grid (rho 7), OU T 6, tMin ${T_MIN}; vertices N(v, ${VARIANCE} I)`,
      classifiers: `exact p_t(pos|x); logistic regression on the n coordinates ('linear' features), one per level of the default grid (Newton, ${TRAIN} training points per level), interpolated between levels`,
      readOut: 'each coordinate thresholded at 1/2; P = the exact read-out law of p_tMin(x|pos) (closed form)',
      estimators: `KL(Q||P) plug-in minus Miller-Madow (m - 1)/(2N); KL(P||Q) with add-1/2 counts (under-states the loss on rarely visited vertices); recall: pos vertices visited at >= ${RECALL_FRACTION} P(v)`,
      discretisationBias: `shares: the 3-sigma bound on the share of ${nB} paired particles whose vertex changes between ${steps} and ${2 * steps} steps${nRoute > 0 ? `, plus that of ${nRoute} paired particles between the f32 GPU and the f64 CPU reference` : ''}; KLs and recall: |statistic on the ${nB} paired particles at ${2 * steps} steps - at ${steps}|, plus the estimator allowance (KL(Q||P): the Miller-Madow term; KL(P||Q): |estimate on N - on N/2|)`,
      alpha: `family-wise 1e-3, Bonferroni over ${m} one-sided z-tests (normal approximations; delta-method SEs for the KLs)`,
      mutation: ctx.mutation ? 'the exact classifier in place of the linear one (must FAIL)' : null,
    },
    tests,
    verdict: overallVerdict(tests),
    data: { rows, configs: perConfig, elapsedSeconds: (performance.now() - started) / 1000 },
    figures,
  };
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}
