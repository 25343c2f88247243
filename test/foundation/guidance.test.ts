// Guidance (src/guidance, through the CPU sampler): the identities of SPEC.md particle by
// particle, the w(t) schedules, and a closed-form law for CFG between two equal-variance Gaussians.
import { describe, expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec, WSchedule } from '../../src/experiment/types.ts';
import { scheduleAt } from '../../src/guidance/schedule.ts';
import { planGuidance } from '../../src/guidance/guidance.ts';
import { buildStepTable } from '../../src/solvers/table.ts';
import { processAt, startTime } from '../../src/processes/process.ts';
import { cdfOf, ksDistanceBounds, lawMaxDensity, type Law1d } from '../../src/targets/law1d.ts';
import { alphaShare, dkwEpsilon, ksStatistic, meanVarianceZ, solverShiftBound, zBand } from '../support/stats.ts';

type Raw = Record<string, any>;

const VERBOSE = !!process.env.FOUNDATION_VERBOSE;

const TWO_GAUSSIANS: Raw[] = [
  { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
  { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
];
// examples/boxes-2d.json's classes, with unequal priors: 2-D, boxes only, two modes per class.
const BOXES_2D: Raw[] = [
  {
    name: 'diagonal',
    weight: 1,
    components: [
      { kind: 'uniform', low: [-2, -2], high: [-0.5, -0.5] },
      { kind: 'uniform', low: [0.5, 0.5], high: [2, 2] },
    ],
  },
  {
    name: 'antidiagonal',
    weight: 2,
    components: [
      { kind: 'uniform', low: [-2, 0.5], high: [-0.5, 2] },
      { kind: 'uniform', weight: 3, low: [0.5, -2], high: [2, -0.5] },
    ],
  },
];

const MODELS = [
  { name: 'two Gaussians (1-D)', dim: 1, classes: TWO_GAUSSIANS, target: 'pos' },
  { name: 'two box classes (2-D)', dim: 2, classes: BOXES_2D, target: 'diagonal' },
];

function specOf(m: (typeof MODELS)[number], guidance: Raw, solver: Raw = { kind: 'rk4', steps: 40 }): ExperimentSpec {
  return parseSpec({
    dim: m.dim,
    classes: m.classes,
    target: m.target,
    process: { kind: 'ou', T: 8 },
    guidance,
    solver: { tMin: 1e-2, ...solver },
    particles: 256,
    seed: 5,
  });
}

const run = (spec: ExperimentSpec) => sampleCpu(spec).particles;

/** Largest |a - b| relative to max(1, |b|), and whether every value is finite. */
function maxRelDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    expect(Number.isFinite(a[i]) && Number.isFinite(b[i])).toBe(true);
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  }
  return worst;
}

describe('guidance identities, particle by particle (same seed)', () => {
  for (const m of MODELS) {
    for (const w of [0, 1, 2.5, 4]) {
      it(`${m.name}: classifier at w = ${w} equals cfg (unconditional negative) at w - 1`, () => {
        // The coefficients are (w, 1 - w) and (1 + (w - 1), -(w - 1)): equal in binary for these w,
        // so the particles must agree to the last bit.
        const a = run(specOf(m, { kind: 'classifier', w }));
        const b = run(specOf(m, { kind: 'cfg', w: w - 1, negative: 'unconditional' }));
        expect(maxRelDiff(a, b)).toBe(0);
      });
    }

    it(`${m.name}: classifier with a schedule equals cfg with the schedule minus 1 (rk4 and em)`, () => {
      // Piecewise-linear w(t) with a negative window. Interpolating the shifted points rounds
      // differently from shifting the interpolated value (an ulp of w per evaluation); over 40
      // steps of a stable flow that stays far below 1e-12.
      const points = [
        [0, 3],
        [1, 3],
        [2, -0.5],
        [4, -0.5],
        [6, 2],
      ];
      for (const solver of [
        { kind: 'rk4', steps: 40 },
        { kind: 'em', steps: 60 },
      ]) {
        const a = run(specOf(m, { kind: 'classifier', w: { kind: 'piecewise', points } }, solver));
        const shifted = points.map(([t, w]) => [t, w - 1]);
        const b = run(specOf(m, { kind: 'cfg', w: { kind: 'piecewise', points: shifted } }, solver));
        expect(maxRelDiff(a, b), solver.kind).toBeLessThan(1e-12);
      }
      // An interval schedule shifts exactly (w and outside both move by 1).
      const a = run(specOf(m, { kind: 'classifier', w: { kind: 'interval', w: 3, tLow: 0.5, tHigh: 3, outside: 1 } }));
      const b = run(specOf(m, { kind: 'cfg', w: { kind: 'interval', w: 2, tLow: 0.5, tHigh: 3, outside: 0 } }));
      expect(maxRelDiff(a, b)).toBe(0);
    });

    it(`${m.name}: cfg with w = 0 equals unguided sampling`, () => {
      const none = run(specOf(m, { kind: 'none' }));
      for (const negative of ['unconditional', m.classes[1].name]) {
        expect(maxRelDiff(run(specOf(m, { kind: 'cfg', w: 0, negative })), none)).toBe(0);
      }
      // Also on the reverse SDE, where the noise draws must line up too.
      const emNone = run(specOf(m, { kind: 'none' }, { kind: 'em', steps: 60 }));
      expect(maxRelDiff(run(specOf(m, { kind: 'cfg', w: 0 }, { kind: 'em', steps: 60 })), emNone)).toBe(0);
    });

    it(`${m.name}: cfg against a class name equals cfg against an inline copy of its components`, () => {
      const other = m.classes[1];
      for (const w of [1.5, { kind: 'interval', w: 3, tLow: 0.5, tHigh: 4 }]) {
        const named = run(specOf(m, { kind: 'cfg', w, negative: other.name }));
        const inline = run(specOf(m, { kind: 'cfg', w, negative: { components: other.components } }));
        expect(maxRelDiff(named, inline)).toBe(0);
      }
    });
  }

  it('cfg against the other class is not cfg against the unconditional law (the checks can tell them apart)', () => {
    const m = MODELS[0];
    const a = run(specOf(m, { kind: 'cfg', w: 2, negative: 'neg' }));
    const b = run(specOf(m, { kind: 'cfg', w: 2, negative: 'unconditional' }));
    expect(maxRelDiff(a, b)).toBeGreaterThan(0.1);
  });
});

describe('w(t) schedules evaluate as SPEC.md says', () => {
  const parsed = (w: unknown): WSchedule => {
    const s = parseSpec({
      dim: 1,
      classes: TWO_GAUSSIANS,
      target: 'pos',
      process: { kind: 'ou' },
      guidance: { kind: 'cfg', w },
      solver: { kind: 'euler', steps: 1 },
    });
    if (s.guidance.kind !== 'cfg') throw new Error('expected cfg');
    return s.guidance.w;
  };

  it('a number and { kind: constant } are constant in t', () => {
    for (const sch of [parsed(2.5), parsed({ kind: 'constant', w: 2.5 })]) {
      for (const t of [0, 1e-3, 0.5, 10, 80]) expect(scheduleAt(sch, t)).toBe(2.5);
    }
  });

  it('interval: w inside tLow < t <= tHigh, outside (default 0) elsewhere', () => {
    const s = parsed({ kind: 'interval', w: 4, tLow: 0.2, tHigh: 0.7 });
    const cases: [number, number][] = [
      [0, 0],
      [0.2, 0], // tLow itself is outside
      [0.2000001, 4],
      [0.5, 4],
      [0.7, 4], // tHigh itself is inside
      [0.7000001, 0],
      [5, 0],
    ];
    for (const [t, w] of cases) expect(scheduleAt(s, t), `t = ${t}`).toBe(w);
    const o = parsed({ kind: 'interval', w: 4, tLow: 0.2, tHigh: 0.7, outside: -1 });
    expect(scheduleAt(o, 0.1)).toBe(-1);
    expect(scheduleAt(o, 0.3)).toBe(4);
  });

  it('piecewise: linear between points, constant beyond the ends, negative windows allowed', () => {
    // Ramp up from 0 to 3, a negative window at -1, back to 2.
    const s = parsed({
      kind: 'piecewise',
      points: [
        [0.1, 0],
        [0.2, 3],
        [0.3, -1],
        [0.5, -1],
        [0.9, 2],
      ],
    });
    const cases: [number, number][] = [
      [0, 0],
      [0.1, 0],
      [0.15, 1.5],
      [0.2, 3],
      [0.25, 1],
      [0.3, -1],
      [0.4, -1],
      [0.5, -1],
      [0.7, 0.5],
      [0.9, 2],
      [3, 2],
    ];
    for (const [t, w] of cases) expect(Math.abs(scheduleAt(s, t) - w), `t = ${t}`).toBeLessThanOrEqual(1e-14);
    // One point: constant.
    const one = parsed({ kind: 'piecewise', points: [[0.4, 1.5]] });
    for (const t of [0, 0.4, 2]) expect(scheduleAt(one, t)).toBe(1.5);
  });

  it('the step table applies w at each stage time: cfg (1 + w, -w), classifier (w, 1 - w), none (1, 0)', () => {
    const w = {
      kind: 'piecewise',
      points: [
        [0, 2],
        [1, -1],
        [3, 4],
      ],
    };
    for (const kind of ['cfg', 'classifier', 'none']) {
      const spec = parseSpec({
        dim: 1,
        classes: TWO_GAUSSIANS,
        target: 'pos',
        process: { kind: 'ou', T: 4 },
        guidance: kind === 'none' ? { kind } : { kind, w },
        solver: { kind: 'rk4', steps: 10 },
      });
      const table = buildStepTable(spec, planGuidance(spec));
      for (const row of table.rows) {
        const wt = spec.guidance.kind === 'none' ? 0 : scheduleAt(spec.guidance.w, row.t);
        const expected = kind === 'cfg' ? [1 + wt, -wt] : kind === 'classifier' ? [wt, 1 - wt] : [1, 0];
        expect(Math.abs(row.gammaTarget - expected[0])).toBeLessThanOrEqual(1e-15);
        expect(Math.abs(row.gammaNegative - expected[1])).toBeLessThanOrEqual(1e-15);
      }
    }
  });
});

describe('cfg between equal-variance Gaussians has a closed-form law', () => {
  // Target N(m1, s), negative N(m2, s), constant w. Noised, both have variance v_t = alpha_t^2 s + sigma_t^2,
  // so the guided score (1 + w) s_1 - w s_2 = -(x - alpha_t m~) / v_t, m~ = (1 + w) m1 - w m2, is exactly
  // the score of N(m~, s) diffused. The probability-flow ODE then is that path's ODE: linear in x,
  // so its flow is increasing and affine, x_t = alpha_t m~ + sqrt(v_t / v_T) (x_T - alpha_T m~) (the one
  // affine increasing map between the path's marginals). From x_T ~ N(0, 1):
  //   x_tMin ~ N(alpha_tMin m~ - sqrt(v_tMin / v_T) alpha_T m~,  v_tMin / v_T)
  // exactly, the prior's mismatch included.
  const m1 = 0.5;
  const m2 = -1;
  const s = 0.7;
  const n = 20000;
  const tMin = 1e-3;
  const processes = [
    { process: { kind: 'ou', T: 6 }, w: 3 },
    // Flow starts at alpha = 0, the velocity's special case (the guided data mean): m~ enters there.
    { process: { kind: 'flow' }, w: 2 },
  ];

  function spec(p: (typeof processes)[number], w: number): ExperimentSpec {
    return parseSpec({
      dim: 1,
      classes: [
        { name: 'target', weight: 0.5, components: [{ kind: 'gaussian', mean: [m1], cov: s }] },
        { name: 'other', weight: 0.5, components: [{ kind: 'gaussian', mean: [m2], cov: s }] },
      ],
      target: 'target',
      process: p.process,
      guidance: { kind: 'cfg', w, negative: 'other' },
      solver: { kind: 'rk4', steps: 100, tMin },
      particles: n,
      seed: 21,
    });
  }

  function exactLaw(sp: ExperimentSpec, w: number): Law1d {
    const mt = (1 + w) * m1 - w * m2;
    const end = processAt(sp.process, tMin);
    const start = processAt(sp.process, startTime(sp.process));
    const v = (q: { alpha: number; sigma2: number }) => q.alpha * q.alpha * s + q.sigma2;
    const r = Math.sqrt(v(end) / v(start));
    return [{ kind: 'normal', weight: 1, mean: end.alpha * mt - r * start.alpha * mt, variance: r * r }];
  }

  const ou = processes[0];
  const ouSpec = spec(ou, ou.w);
  const ouLaw = exactLaw(ouSpec, ou.w);
  const x = () => sampleCpu(ouSpec).particles;
  let cached: Float64Array | null = null;
  const samplesOu = () => (cached ??= x());
  // rk4's shift (N vs 2N) bounds the only bias: it enters the KS threshold times sup f, and is
  // required to be below 1e-3 of the mean's standard error, so that the z-tests can ignore it.
  let shift = NaN;
  const solverShift = () => {
    if (Number.isNaN(shift)) shift = solverShiftBound(ouSpec, 4);
    return shift;
  };

  it(`ou, w = ${ou.w} (n = ${n}): KS against N(mean, variance) of the closed form`, () => {
    const eps = dkwEpsilon(n, alphaShare('guidance: cfg closed form, KS'));
    const bias = solverShift() * lawMaxDensity(ouLaw);
    expect(solverShift()).toBeLessThan(1e-3 * Math.sqrt(ouLaw[0].kind === 'normal' ? ouLaw[0].variance / n : NaN));
    const d = ksStatistic(samplesOu(), cdfOf(ouLaw));
    if (VERBOSE) console.info('cfg closed form ou', { law: ouLaw[0], eps, bias, D: d });
    expect(d).toBeLessThanOrEqual(eps + bias);
  });

  it(`ou, w = ${ou.w}: sample mean and variance within their Monte Carlo error`, () => {
    const law = ouLaw[0] as Extract<Law1d[number], { kind: 'normal' }>;
    const z = meanVarianceZ(samplesOu(), { mean: law.mean, variance: law.variance, mu4: 3 * law.variance ** 2 });
    const meanBand = zBand(alphaShare('guidance: cfg closed form, mean z'));
    // s^2 of normal data is a scaled chi-square with n - 1 degrees of freedom: skewness sqrt(8 / (n - 1)).
    const varBand = zBand(alphaShare('guidance: cfg closed form, variance z'), Math.sqrt(8 / (n - 1)));
    if (VERBOSE) console.info('cfg closed form z', { z, meanBand, varBand });
    expect(z.zMean).toBeGreaterThanOrEqual(meanBand.lower);
    expect(z.zMean).toBeLessThanOrEqual(meanBand.upper);
    expect(z.zVariance).toBeGreaterThanOrEqual(varBand.lower);
    expect(z.zVariance).toBeLessThanOrEqual(varBand.upper);
  });

  it('ou: mutation twin (w off by the smallest detectable amount) fails the KS test', () => {
    const eps = dkwEpsilon(n, alphaShare('guidance: cfg closed form, KS'));
    const epsTwin = dkwEpsilon(n, alphaShare('guidance: cfg closed form, wrong-w twin'));
    const threshold = eps + solverShift() * lawMaxDensity(ouLaw);
    // The twin's own law is exact too (same closed form at w + dw); its solver shift is the same order.
    const need = threshold + epsTwin + 2 * solverShift() * lawMaxDensity(ouLaw);
    let lo = 0;
    let hi = 1;
    const dist = (dw: number) => ksDistanceBounds(exactLaw(ouSpec, ou.w + dw), ouLaw, 20001).lower;
    expect(dist(hi)).toBeGreaterThanOrEqual(need);
    while (hi - lo > 1e-5) {
      const mid = 0.5 * (lo + hi);
      if (dist(mid) >= need) hi = mid;
      else lo = mid;
    }
    const dw = Math.ceil(hi * 1000) / 1000;
    const twinSpec = spec(ou, ou.w + dw);
    const twinLaw = exactLaw(twinSpec, ou.w + dw);
    const gap = ksDistanceBounds(twinLaw, ouLaw).lower;
    expect(gap).toBeGreaterThanOrEqual(threshold + epsTwin + solverShiftBound(twinSpec, 4) * lawMaxDensity(twinLaw));
    const d = ksStatistic(sampleCpu(twinSpec).particles, cdfOf(ouLaw));
    if (VERBOSE) console.info('cfg closed form twin', { dw, gap, threshold, D: d });
    expect(d).toBeGreaterThan(threshold);
  });

  it(`flow, w = ${processes[1].w} (n = ${n}): KS against the closed form (starts at alpha = 0)`, () => {
    const p = processes[1];
    const sp = spec(p, p.w);
    const law = exactLaw(sp, p.w);
    const eps = dkwEpsilon(n, alphaShare('guidance: cfg closed form (flow), KS'));
    const shiftFlow = solverShiftBound(sp, 4);
    const bias = shiftFlow * lawMaxDensity(law);
    expect(bias).toBeLessThan(0.01 * eps);
    const d = ksStatistic(sampleCpu(sp).particles, cdfOf(law));
    if (VERBOSE) console.info('cfg closed form flow', { law: law[0], eps, bias, D: d });
    expect(d).toBeLessThanOrEqual(eps + bias);
  });
});
