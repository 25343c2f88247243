// Exact noised densities, scores and classifier (src/model), and the process coefficients
// (src/processes), against independent evaluations: finite differences of the log-density,
// Bayes' rule, and high-precision values (mpmath) far outside a box.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec, ProcessSpec } from '../../src/experiment/types.ts';
import {
  buildModel,
  classGroup,
  classPosterior,
  logDensityAt,
  scoreAt,
  type Group,
  type MixtureModel,
} from '../../src/model/mixture.ts';
import { logDiffPhi, logPhi } from '../../src/model/special.ts';
import { priorScale, processAt, startTime } from '../../src/processes/process.ts';

type Raw = Record<string, any>;

const EPS = Number.EPSILON;

/** A validated spec with the given classes (the rest is filler the model does not read). */
function specOf(dim: number, classes: Raw[], process: Raw = { kind: 'ou' }): ExperimentSpec {
  return parseSpec({ dim, classes, target: classes[0].name, process, solver: { kind: 'euler', steps: 1 } });
}

/** Deterministic uniform [0, 1) stream (mulberry32), so the evaluation points are fixed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// One class per component kind and dimension.
const GAUSSIANS: { name: string; dim: number; component: Raw }[] = [
  { name: 'iso-1d', dim: 1, component: { kind: 'gaussian', mean: [0.7], cov: 0.6 } },
  { name: 'diag-1d', dim: 1, component: { kind: 'gaussian', mean: [-1.2], cov: [0.3] } },
  { name: 'full-1d', dim: 1, component: { kind: 'gaussian', mean: [2], cov: [[1.7]] } },
  { name: 'iso-2d', dim: 2, component: { kind: 'gaussian', mean: [0.5, -1], cov: 0.4 } },
  { name: 'diag-2d', dim: 2, component: { kind: 'gaussian', mean: [-1, 2], cov: [0.3, 1.5] } },
  {
    name: 'full-2d',
    dim: 2,
    component: {
      kind: 'gaussian',
      mean: [1, 1],
      cov: [
        [1, 0.6],
        [0.6, 0.8],
      ],
    },
  },
  { name: 'iso-3d', dim: 3, component: { kind: 'gaussian', mean: [0, 1, -1], cov: 0.9 } },
  { name: 'diag-3d', dim: 3, component: { kind: 'gaussian', mean: [1, 0, 2], cov: [0.2, 1, 3] } },
  {
    name: 'full-3d',
    dim: 3,
    component: {
      kind: 'gaussian',
      mean: [-1, 0.5, 1],
      cov: [
        [1, 0.3, 0.1],
        [0.3, 0.5, -0.2],
        [0.1, -0.2, 0.7],
      ],
    },
  },
];
const BOXES: { name: string; dim: number; component: Raw }[] = [
  { name: 'box-1d', dim: 1, component: { kind: 'uniform', low: [-0.5], high: [2] } },
  { name: 'box-2d', dim: 2, component: { kind: 'uniform', low: [-1, 0], high: [1, 0.5] } },
];

interface Case {
  name: string;
  model: MixtureModel;
  group: Group;
}

/** Single-component classes, plus a 2-D mixture of every kind (responsibilities at work). */
function cases(): Case[] {
  const single = [...GAUSSIANS, ...BOXES].map(({ name, dim, component }) => {
    const model = buildModel(specOf(dim, [{ name, components: [component] }]));
    return { name, model, group: classGroup(model, name) };
  });
  const mixed = specOf(2, [
    {
      name: 'mixture-2d',
      components: [
        ...[...GAUSSIANS, ...BOXES].filter((c) => c.dim === 2).map((c, i) => ({ ...c.component, weight: 1 + i })),
        { kind: 'gaussian', weight: 0.5, mean: [3, -2], cov: 0.05 },
      ],
    },
  ]);
  const model = buildModel(mixed);
  return [...single, { name: 'mixture-2d', model, group: classGroup(model, 'mixture-2d') }];
}

/** Each process at times near its data end (t -> 0), in the middle and at its start. */
const PROCESS_TIMES: { process: ProcessSpec; times: number[] }[] = [
  { process: { kind: 'ou', T: 10 }, times: [1e-4, 0.05, 1, 10] },
  { process: { kind: 'vp', betaMin: 0.1, betaMax: 20 }, times: [1e-4, 0.1, 0.5, 1] },
  { process: { kind: 've', sigmaMax: 80 }, times: [1e-3, 0.1, 2, 80] },
  // t = 1 is alpha = 0: every component collapses onto N(0, I).
  { process: { kind: 'flow' }, times: [1e-4, 0.3, 0.9, 1] },
];

/** The smallest length scale over which the noised log-density bends: a noised sd, or a box edge's sigma. */
function lengthScale(model: MixtureModel, alpha: number, sigma2: number): number {
  let l = Infinity;
  for (const c of model.components) {
    if (c.kind === 'gaussian') for (const lam of c.lambda) l = Math.min(l, Math.sqrt(alpha * alpha * lam + sigma2));
    else l = Math.min(l, Math.sqrt(sigma2));
  }
  return l;
}

/** Evaluation points: around each component's noised centre (a few local scales), and farther out. */
function points(model: MixtureModel, alpha: number, sigma2: number, seed: number): number[][] {
  const u = rng(seed);
  const d = model.dim;
  const out: number[][] = [];
  for (const c of model.components) {
    const centre =
      c.kind === 'gaussian'
        ? Array.from(c.mean, (m) => alpha * m)
        : Array.from(c.low, (l, i) => 0.5 * alpha * (l + c.high[i]));
    const spread =
      c.kind === 'gaussian'
        ? Math.sqrt(alpha * alpha * Math.max(...c.lambda) + sigma2)
        : Math.max(...Array.from(c.low, (l, i) => 0.5 * alpha * (c.high[i] - l))) + Math.sqrt(sigma2);
    for (let k = 0; k < 4; k++) out.push(Array.from({ length: d }, (_, i) => centre[i] + spread * (6 * u() - 3)));
    out.push(Array.from({ length: d }, (_, i) => centre[i] + spread * (40 * u() - 20)));
  }
  return out;
}

/**
 * Central difference of log p along axis i at step h, with the step taken as the exact
 * difference of the two rounded abscissae (so that rounding of x +- h adds no error).
 */
function centralDifference(f: (x: number[]) => number, x: number[], i: number, h: number): { d: number; fx: number } {
  const xp = x.slice();
  const xm = x.slice();
  xp[i] = x[i] + h;
  xm[i] = x[i] - h;
  const fp = f(xp);
  const fm = f(xm);
  return { d: (fp - fm) / (xp[i] - xm[i]), fx: Math.max(Math.abs(fp), Math.abs(fm)) };
}

/**
 * FD tolerance. Truncation: D(h) = f' + f''' h^2 / 6 + ..., so D(h) - D(h/2) = (3/4) f''' h^2 / 6
 * and |D(h/2) - f'| is about |D(h) - D(h/2)| / 3: we allow the full |D(h) - D(h/2)| (3x the
 * estimate, which adapts to the local curvature, e.g. where responsibilities switch).
 * Rounding: log p is computed with an absolute error of at most K eps (|log p| + 1), K = 64
 * (a few logs, exps and a log-sum-exp, each a few ulp of the largest term), so the difference
 * quotient errs by at most 2 K eps (|log p| + 1) / (2 h) on each of the two evaluations.
 */
function fdCheck(
  f: (x: number[]) => number,
  score: ArrayLike<number>,
  x: number[],
  h: number,
): { worst: number; detail: string } {
  let worst = 0;
  let detail = '';
  for (let i = 0; i < x.length; i++) {
    const coarse = centralDifference(f, x, i, h);
    const fine = centralDifference(f, x, i, h / 2);
    const truncation = Math.abs(coarse.d - fine.d);
    const rounding = (2 * 64 * EPS * (fine.fx + 1)) / h;
    const tol = truncation + rounding;
    const err = Math.abs(fine.d - score[i]);
    if (err / tol > worst) {
      worst = err / tol;
      detail = `x=${JSON.stringify(x)} axis ${i}: score ${score[i]}, FD ${fine.d}, err ${err}, tol ${tol}`;
    }
  }
  return { worst, detail };
}

describe('scores are gradients of the exact noised log-density', () => {
  for (const { process, times } of PROCESS_TIMES) {
    for (const t of times) {
      it(`${process.kind} at t = ${t}: every component kind in d = 1, 2, 3 and a mixture`, () => {
        const { alpha, sigma2 } = processAt(process, t);
        let seed = 1;
        for (const c of cases()) {
          const f = (x: number[]) => logDensityAt(c.model, c.group, x, alpha, sigma2);
          // h = 1e-4 of the local scale: truncation (h/l)^2 ~ 1e-8 relative, rounding ~ 1e-12 |log p| / l.
          const h = 1e-4 * lengthScale(c.model, alpha, sigma2);
          for (const x of points(c.model, alpha, sigma2, seed++)) {
            const s = scoreAt(c.model, c.group, x, alpha, sigma2);
            expect(Number.isFinite(f(x)), `${c.name} log p at ${x}`).toBe(true);
            expect(Array.from(s).every(Number.isFinite), `${c.name} score at ${x}`).toBe(true);
            const { worst, detail } = fdCheck(f, s, x, h);
            expect(worst, `${c.name}: ${detail}`).toBeLessThanOrEqual(1);
          }
        }
      });
    }
  }

  it('the FD check is sharp enough to see a score that is off by 1e-6 relative', () => {
    // The mutation twin of the check above: a slightly wrong score must fail it.
    const { alpha, sigma2 } = processAt({ kind: 'ou', T: 10 }, 0.5);
    const c = cases().find((k) => k.name === 'mixture-2d')!;
    const f = (x: number[]) => logDensityAt(c.model, c.group, x, alpha, sigma2);
    const h = 1e-4 * lengthScale(c.model, alpha, sigma2);
    const x = [0.3, -0.2];
    const s = scoreAt(c.model, c.group, x, alpha, sigma2);
    const wrong = Float64Array.from(s, (v) => v * (1 + 1e-6));
    expect(fdCheck(f, s, x, h).worst).toBeLessThanOrEqual(1);
    expect(fdCheck(f, wrong, x, h).worst).toBeGreaterThan(1);
  });
});

describe('the exact noised classifier', () => {
  // Three classes of mixed kinds in 2-D, with unequal priors.
  const spec = specOf(2, [
    {
      name: 'a',
      weight: 1,
      components: [
        {
          kind: 'gaussian',
          mean: [1, 0],
          cov: [
            [1, 0.5],
            [0.5, 1],
          ],
        },
      ],
    },
    {
      name: 'b',
      weight: 2,
      components: [
        { kind: 'uniform', low: [-2, -1], high: [0, 1] },
        { kind: 'gaussian', weight: 3, mean: [0, -2], cov: [0.2, 0.1] },
      ],
    },
    { name: 'c', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1, 2], cov: 0.05 }] },
  ]);
  const model = buildModel(spec);
  const u = rng(7);
  const xs: number[][] = [];
  for (let k = 0; k < 30; k++) xs.push([8 * u() - 4, 8 * u() - 4]);
  // Far away, every p(x | c) underflows in linear space: the posterior must still be exact.
  xs.push([300, -200], [-1e4, 3], [0, 5e3]);

  for (const t of [1e-3, 0.1, 1, 5]) {
    it(`equals Bayes' rule from the group log-densities and sums to 1 (ou, t = ${t})`, () => {
      const { alpha, sigma2 } = processAt({ kind: 'ou', T: 10 }, t);
      for (const x of xs) {
        const post = classPosterior(model, x, alpha, sigma2);
        const logJoint = model.classes.map((c) => c.logPrior + logDensityAt(model, c.group, x, alpha, sigma2));
        expect(logJoint.every(Number.isFinite)).toBe(true);
        let total = 0;
        model.classes.forEach((c, k) => {
          // Bayes: p(c | x) = 1 / sum_j exp(l_j - l_c), with no shared normaliser.
          let denom = 0;
          for (const l of logJoint) denom += Math.exp(l - logJoint[k]);
          const bayes = 1 / denom;
          expect(Math.abs(post[k] - bayes), `class ${c.name} at ${x}`).toBeLessThanOrEqual(1e-14 + 1e-13 * bayes);
          total += post[k];
        });
        expect(Math.abs(total - 1)).toBeLessThanOrEqual(4 * EPS);
        // The unconditional law is the prior-weighted sum of the classes.
        const lse =
          Math.max(...logJoint) + Math.log(logJoint.reduce((s, l) => s + Math.exp(l - Math.max(...logJoint)), 0));
        const lu = logDensityAt(model, model.unconditional, x, alpha, sigma2);
        expect(Math.abs(lu - lse)).toBeLessThanOrEqual(64 * EPS * (Math.abs(lse) + 1));
      }
    });
  }

  it('grad log p_t(c | x) = s_c - s_u (the identity classifier guidance relies on)', () => {
    const { alpha, sigma2 } = processAt({ kind: 'ou', T: 10 }, 0.3);
    const h = 1e-4 * lengthScale(model, alpha, sigma2);
    for (const x of xs.slice(0, 30)) {
      model.classes.forEach((c, k) => {
        const f = (y: number[]) => Math.log(classPosterior(model, y, alpha, sigma2)[k]);
        const sc = scoreAt(model, c.group, x, alpha, sigma2);
        const su = scoreAt(model, model.unconditional, x, alpha, sigma2);
        const diff = Float64Array.from(sc, (v, i) => v - su[i]);
        const { worst, detail } = fdCheck(f, diff, x, h);
        expect(worst, `class ${c.name}: ${detail}`).toBeLessThanOrEqual(1);
      });
    }
  });
});

describe('uniform boxes far outside the box', () => {
  // Independent values from mpmath at 60 digits (log of the exact Phi difference and the ratio
  // of density differences), e.g. for (a, b):
  //   d = ncdf(a) - ncdf(b)  (or ncdf(-b) - ncdf(-a) when b >= 0)
  //   log d,  (npdf(a) - npdf(b)) / d
  // [a, b, log(Phi(a) - Phi(b)), d/dc of it]: both tails, 40 and 1000 sd out, a straddling pair,
  // and narrow intervals (w max(1, |c|) < 1e-3, the series branch) far out.
  const LOG_DIFF_PHI: [number, number, number, number][] = [
    [-40, -62.5, -804.6084420137538, 40.02496884720726],
    [-1000, -1022.5, -500007.82669481216, 1000.000999998],
    [62.5, 40, -804.6084420137538, -40.02496884720726],
    [1022.5, 1000, -500007.82669481216, -1000.000999998],
    [1.5, -2.0, -0.09382435073398997, 0.08295594210185253],
    [-29.999995, -30.000005, -462.43186399411167, 29.99999999975],
    [-999.99999995, -1000.00000005, -500017.0370333905, 999.9999999999992],
    [40.00001, 39.99999, -811.7387167906476, -39.99999999866667],
    [-8.0, -8.25, -35.14960875387032, 8.085406311788583],
    [-5.0, -40.0, -15.064998393988725, 5.186503967125842],
  ];
  const LOG_PHI: [number, number][] = [
    [-1000, -500007.82669481216],
    [-40, -804.6084420137538],
    [-5, -15.064998393988725],
    [-0.5, -1.1759117615936185],
    [0, -0.6931471805599453],
    [3, -0.0013508099647481938],
    [10, -7.619853024160525e-24],
  ];

  // Error budget. log(Phi(a) - Phi(b)) is a sum of terms of size about a^2/2 (a few ulp each),
  // so 16 eps (|log| + 1) absolute. The score is exp(log phi(a) - log): that exponent is a
  // difference of two numbers of size a^2/2 computed to 16 eps each, so the score carries a
  // relative error of about 16 eps (a^2 + 1). logPhi(z) for z > 0 is about -Q(z), whose
  // relative condition number is about z^2 (rounding z / sqrt 2 alone costs z^2 eps): 16 eps (z^2 + 1).
  it('logPhi and logDiffPhi match mpmath', () => {
    for (const [z, ref] of LOG_PHI) {
      expect(Math.abs(logPhi(z) - ref), `logPhi(${z})`).toBeLessThanOrEqual(16 * EPS * (z * z + 1) * Math.abs(ref));
    }
    for (const [a, b, log, dlog] of LOG_DIFF_PHI) {
      const r = logDiffPhi(a, b);
      const m = Math.max(Math.abs(a), Math.abs(b));
      expect(Math.abs(r.log - log), `log at (${a}, ${b})`).toBeLessThanOrEqual(16 * EPS * (Math.abs(log) + 1));
      expect(Math.abs(r.dlog - dlog), `dlog at (${a}, ${b})`).toBeLessThanOrEqual(
        16 * EPS * (m * m + 1) * Math.abs(dlog),
      );
    }
  });

  it('logPhi agrees with the asymptotic series for large negative z (a second, independent reference)', () => {
    // log Phi(z) = -z^2/2 - log(-z) - log sqrt(2 pi) + log(1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8 - 945/z^10 ...),
    // truncated after z^-10: the remainder of this alternating asymptotic series is at most the
    // first omitted term, 10395/z^12 (6e-16 at z = -40), which is added to the tolerance.
    for (const z of [-40, -100, -1000, -1e4]) {
      const y = 1 / (z * z);
      const series = 1 - y + 3 * y ** 2 - 15 * y ** 3 + 105 * y ** 4 - 945 * y ** 5;
      const ref = -0.5 * z * z - Math.log(-z) - 0.5 * Math.log(2 * Math.PI) + Math.log(series);
      expect(Math.abs(logPhi(z) - ref), `z = ${z}`).toBeLessThanOrEqual(16 * EPS * Math.abs(ref) + 10395 * y ** 6);
    }
  });

  // Box densities at alpha = 0.75, sigma = 0.25 (binary-exact), 40 and 1000 sigma outside the
  // noised box: 1-D box [-0.5, 2] (noised edges -0.375 and 1.5) and 2-D box [-1, 1] x [0, 0.5].
  // mpmath: log p = sum_i log(Phi(a_i) - Phi(b_i)) - log(alpha (h_i - l_i)), score_i = dlog_i / sigma.
  const BOX_1D = [
    { x: [-10.375], log: -805.2370506731762, score: [160.09987538882905] },
    { x: [-250.375], log: -500008.4553034716, score: [4000.003999992] },
    { x: [11.5], log: -805.2370506731762, score: [-160.09987538882905] },
    { x: [251.5], log: -500008.4553034716, score: [-4000.003999992] },
    { x: [0.25], log: -0.6348379733509802, score: [0.07054533825902956] },
  ];
  const BOX_2D = [
    { x: [0.25, -250.0], log: -500007.27437598567, score: [-0.22045081216552606, 4000.003999992] },
    { x: [10.75, 0.1], log: -804.6874742915456, score: [-160.09987538882905, 1.1576051507787446] },
    { x: [-250.75, 10.375], log: -500811.859772681, score: [4000.003999992, -160.09987538882905] },
  ];

  it('box log-density and score are finite and match mpmath at 40 and 1000 sigma', () => {
    const alpha = 0.75;
    const sigma2 = 0.0625;
    for (const [box, refs] of [
      [BOXES[0], BOX_1D],
      [BOXES[1], BOX_2D],
    ] as const) {
      const model = buildModel(specOf(box.dim, [{ name: box.name, components: [box.component] }]));
      const group = classGroup(model, box.name);
      for (const r of refs) {
        const log = logDensityAt(model, group, r.x, alpha, sigma2);
        const s = scoreAt(model, group, r.x, alpha, sigma2);
        expect(Number.isFinite(log)).toBe(true);
        expect(Math.abs(log - r.log), `log p at ${r.x}`).toBeLessThanOrEqual(16 * EPS * (Math.abs(r.log) + 1));
        r.score.forEach((ref, i) => {
          // (x - edge) / sigma is at most 1000: relative 16 eps (1000^2 + 1), as above.
          const z = Math.abs(ref) * Math.sqrt(sigma2); // ~ the standardised distance to the near edge
          expect(Math.abs(s[i] - ref), `score[${i}] at ${r.x}`).toBeLessThanOrEqual(
            16 * EPS * (z * z + 1) * Math.abs(ref) + 1e-15,
          );
        });
      }
    }
  });
});

describe('process coefficients', () => {
  // SPEC.md's table, written out independently: alpha(t) and sigma(t) of each process.
  const EXACT: {
    process: ProcessSpec;
    alpha: (t: number) => number;
    sigma: (t: number) => number;
    start: number;
    prior: number;
  }[] = [
    {
      process: { kind: 'ou', T: 7 },
      alpha: (t) => Math.exp(-t),
      sigma: (t) => Math.sqrt(1 - Math.exp(-2 * t)),
      start: 7,
      prior: 1,
    },
    {
      process: { kind: 'vp', betaMin: 0.1, betaMax: 20 },
      alpha: (t) => Math.exp(-(0.1 * t + ((20 - 0.1) * t * t) / 2) / 2),
      sigma: (t) => Math.sqrt(1 - Math.exp(-(0.1 * t + ((20 - 0.1) * t * t) / 2))),
      start: 1,
      prior: 1,
    },
    { process: { kind: 've', sigmaMax: 80 }, alpha: () => 1, sigma: (t) => t, start: 80, prior: 80 },
    { process: { kind: 'flow' }, alpha: (t) => 1 - t, sigma: (t) => t, start: 1, prior: 1 },
  ];

  for (const e of EXACT) {
    it(`${e.process.kind}: alpha, sigma^2, their derivatives and g^2 = (sigma^2)' - 2 (log alpha)' sigma^2`, () => {
      expect(startTime(e.process)).toBe(e.start);
      expect(priorScale(e.process)).toBe(e.prior);
      for (const f of [1e-4, 0.01, 0.2, 0.5, 0.9, 0.999]) {
        const t = f * e.start;
        const p = processAt(e.process, t);
        const a = e.alpha(t);
        const s2 = e.sigma(t) ** 2;
        expect(Math.abs(p.alpha - a)).toBeLessThanOrEqual(1e-14 * a);
        expect(Math.abs(p.sigma2 - s2)).toBeLessThanOrEqual(1e-12 * s2);
        // Derivatives by 5-point central differences: truncation ~ h^4 g^(5) / 30 (below 1e-8
        // relative at h = 1e-3 of the distance to either end), rounding 1.5 eps max|g| / h.
        const h = 1e-3 * Math.min(t, e.start - t);
        const d = (g: (t: number) => number) => {
          const v = [g(t - 2 * h), g(t - h), g(t + h), g(t + 2 * h)];
          const value = (v[0] - 8 * v[1] + 8 * v[2] - v[3]) / (12 * h);
          return { value, err: 1e-8 * Math.abs(value) + (4 * EPS * Math.max(...v.map(Math.abs))) / h };
        };
        const dAlpha = d(e.alpha);
        const dSigma2 = d((u) => e.sigma(u) ** 2);
        expect(Math.abs(p.dAlpha - dAlpha.value)).toBeLessThanOrEqual(dAlpha.err);
        expect(Math.abs(p.dLogAlpha - dAlpha.value / a)).toBeLessThanOrEqual(dAlpha.err / a);
        expect(Math.abs(p.sigmaDSigma - dSigma2.value / 2)).toBeLessThanOrEqual(dSigma2.err / 2);
        const g2 = dSigma2.value - 2 * (dAlpha.value / a) * s2;
        expect(Math.abs(p.g2 - g2)).toBeLessThanOrEqual(dSigma2.err + (2 * dAlpha.err * s2) / a);
      }
    });
  }

  it('flow at t = 1 (alpha = 0): the prior N(0, 1) exactly', () => {
    const p = processAt({ kind: 'flow' }, 1);
    expect(p.alpha).toBe(0);
    expect(p.sigma2).toBe(1);
    expect(p.dAlpha).toBe(-1);
    expect(p.sigmaDSigma).toBe(1);
  });
});
