// The unguided samplers transport the prior to the target diffused to tMin, p_tMin(x | c):
// a Kolmogorov-Smirnov test of CPU samples against the exact CDF (src/targets/law1d.ts), and for
// each a mutation twin, the same test on a deliberately wrong target, which must fail.
//
// Threshold = DKW epsilon at the check's share of the family-wise alpha (test/support/stats.ts)
// + the exact KS distance between the prior N(0, 1) and the target diffused to the start time
//   (in 1-D the ODE flow is increasing, and the KS distance is invariant under increasing maps,
//   so this is exactly what the prior's mismatch costs at tMin)
// + the solver's discretisation term: its largest particle shift (N vs 2N steps, Richardson)
//   times a bound on the target's density.
// A twin's mutation is the smallest (bisection) whose exact KS distance from the target is at
// least threshold + the twin's own epsilon + its own bias terms: then the twin detects it with
// probability at least 1 - its alpha share (DKW on the mutant's own law), so it cannot flake.
import { describe, expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import {
  cdfOf,
  ksDistanceBounds,
  lawMaxDensity,
  priorLaw,
  sampledTargetLaw,
  targetLawAtStart,
  type Law1d,
} from '../../src/targets/law1d.ts';
import { alphaShare, dkwEpsilon, ksStatistic, solverShiftBound, type FoundationCheck } from '../support/stats.ts';

type Raw = Record<string, any>;

const VERBOSE = !!process.env.FOUNDATION_VERBOSE;
const ORDER: Record<string, number> = { euler: 1, heun: 2, rk4: 4 };

interface KsBudget {
  n: number;
  eps: number;
  /** KS(prior, target at the start time): what starting from N(0, 1) instead of p_T costs. */
  prior: number;
  /** Largest particle shift of the solver times the target's density bound. */
  solver: number;
}

/** The terms of a deterministic-solver spec's KS threshold against its own target at tMin. */
function ksBudget(spec: ExperimentSpec, check: FoundationCheck): KsBudget {
  const n = spec.particles;
  const eps = dkwEpsilon(n, alphaShare(check));
  const prior = ksDistanceBounds(priorLaw(spec), targetLawAtStart(spec)).upper;
  const shift = solverShiftBound(spec, ORDER[spec.solver.kind]);
  const solver = shift * lawMaxDensity(sampledTargetLaw(spec));
  return { n, eps, prior, solver };
}

/** A value computed on first use, so that each test can run alone (vitest -t). */
function lazy<T>(f: () => T): () => T {
  let done = false;
  let v: T;
  return () => {
    if (!done) {
      v = f();
      done = true;
    }
    return v;
  };
}

/** Smallest parameter in [lo, hi] with f(p) >= need, f increasing (bisection to 1e-4 relative). */
function smallestDetectable(f: (p: number) => number, need: number, lo: number, hi: number): number {
  expect(f(hi), 'the bisection bracket must contain a detectable mutation').toBeGreaterThanOrEqual(need);
  while (hi - lo > 1e-4 * Math.abs(hi)) {
    const mid = 0.5 * (lo + hi);
    if (f(mid) >= need) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Rounds up to 3 significant digits, so that the stated mutation is a readable number. */
function roundUp3(v: number): number {
  const p = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 2);
  return Math.ceil(v / p) * p;
}

function samples(spec: ExperimentSpec): Float64Array {
  return sampleCpu(spec).particles;
}

/**
 * One transport test: the KS check of `make(null)` against its own target, then its twin,
 * `make(p)` with the smallest detectable p on the mutation's side of `identity`.
 */
function transportPair(opts: {
  name: string;
  make: (mutation: number | null) => ExperimentSpec;
  check: FoundationCheck;
  twin: FoundationCheck;
  /** The mutation's parameter range for the bisection: [identity, far]. */
  identity: number;
  far: number;
  what: string;
}) {
  const base = opts.make(null);
  const target = sampledTargetLaw(base);
  const budgetOf = lazy(() => ksBudget(base, opts.check));
  const thresholdOf = () => budgetOf().eps + budgetOf().prior + budgetOf().solver;

  it(`${opts.name}: KS against the exact p_tMin`, () => {
    const budget = budgetOf();
    const threshold = thresholdOf();
    // The solver's bias must be negligible against the statistical resolution.
    expect(budget.solver).toBeLessThan(0.01 * budget.eps);
    const d = ksStatistic(samples(base), cdfOf(target));
    if (VERBOSE) console.info(opts.name, { ...budget, threshold, D: d });
    expect(d).toBeLessThanOrEqual(threshold);
  });

  it(`${opts.name}: mutation twin (${opts.what}) fails the same test`, () => {
    const budget = budgetOf();
    const threshold = thresholdOf();
    const epsTwin = dkwEpsilon(base.particles, alphaShare(opts.twin));
    // Bisection on the exact distance, allowing the twin twice the base's bias terms (checked below).
    const distance = (p: number, points?: number) =>
      ksDistanceBounds(sampledTargetLaw(opts.make(p)), target, points).lower;
    const need = threshold + epsTwin + 2 * (budget.prior + budget.solver);
    const sign = Math.sign(opts.far - opts.identity);
    const size = smallestDetectable(
      (s) => distance(opts.identity + sign * s, 20001),
      need,
      0,
      Math.abs(opts.far - opts.identity),
    );
    const p = opts.identity + sign * roundUp3(size);
    const mutant = opts.make(p);
    const own = ksBudget(mutant, opts.twin);
    // Power: the mutant's law is farther from the target than the threshold plus its own deviation.
    const gap = distance(p);
    expect(gap).toBeGreaterThanOrEqual(threshold + own.eps + own.prior + own.solver);
    const d = ksStatistic(samples(mutant), cdfOf(target));
    if (VERBOSE) console.info(`${opts.name} twin`, { mutation: p, exactDistance: gap, threshold, D: d });
    expect(d).toBeGreaterThan(threshold);
  });
}

function specOf(raw: Raw): ExperimentSpec {
  return parseSpec({ process: { kind: 'ou', T: 10 }, guidance: { kind: 'none' }, ...raw });
}

const RAW_TWO_GAUSSIANS: Raw = {
  dim: 1,
  classes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
  ],
  target: 'pos',
  guidance: { kind: 'none' },
};

/** SPEC.md's example classes, N(1, 1) vs N(-1, 1), targeting pos: the variance of pos scaled by k. */
function twoGaussians(
  k: number | null,
  meanShift = 0,
  solver: Raw = { kind: 'rk4', steps: 100, tMin: 1e-3 },
  particles = 50000,
): ExperimentSpec {
  return specOf({
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1 + meanShift], cov: k ?? 1 }] },
      { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
    ],
    target: 'pos',
    solver,
    particles,
    seed: 11,
  });
}

describe('the probability-flow ODE (rk4) transports the prior to p_tMin', () => {
  // Uniform grid, 100 steps: the N-vs-2N shift is ~3e-8 (rk4's h^4 on a smooth linear flow).
  transportPair({
    name: 'two Gaussians (n = 50000)',
    make: (k) => twoGaussians(k),
    check: 'transport: two Gaussians, rk4, KS',
    twin: 'transport: two Gaussians, rk4, variance-scaled twin',
    identity: 1,
    far: 2,
    what: 'variance scaled by the smallest detectable factor',
  });

  // A box's noised edges are sigma(tMin) ~ 0.045 wide: the EDM grid puts the steps there; 64
  // steps shift particles by ~1e-5 at most.
  transportPair({
    name: 'uniform box [-0.5, 2] (n = 20000)',
    make: (shift) =>
      specOf({
        dim: 1,
        classes: [
          {
            name: 'box',
            weight: 1,
            components: [{ kind: 'uniform', low: [-0.5 + (shift ?? 0)], high: [2 + (shift ?? 0)] }],
          },
        ],
        target: 'box',
        solver: { kind: 'rk4', steps: 64, tMin: 1e-3, grid: { kind: 'edm', rho: 7 } },
        particles: 20000,
        seed: 12,
      }),
    check: 'transport: uniform box, rk4, KS',
    twin: 'transport: uniform box, rk4, shifted twin',
    identity: 0,
    far: 0.5,
    what: 'box shifted by the smallest detectable amount',
  });

  // Three modes; the twin drops the smallest (weight 0.05), the mode a sampler is likeliest to miss.
  const modes = (drop: boolean): Raw[] => {
    const all = [
      { kind: 'gaussian', weight: 0.5, mean: [-2], cov: 0.1 },
      { kind: 'gaussian', weight: 0.45, mean: [0.5], cov: 0.2 },
      { kind: 'gaussian', weight: 0.05, mean: [3], cov: 0.3 },
    ];
    return drop ? all.slice(0, 2) : all;
  };
  const threeModes = (drop: boolean) =>
    specOf({
      dim: 1,
      classes: [{ name: 'modes', weight: 1, components: modes(drop) }],
      target: 'modes',
      solver: { kind: 'rk4', steps: 64, tMin: 1e-3, grid: { kind: 'edm', rho: 7 } },
      particles: 50000,
      seed: 13,
    });
  const base = threeModes(false);
  const target = sampledTargetLaw(base);
  const budgetOf = lazy(() => ksBudget(base, 'transport: three modes, rk4, KS'));
  const thresholdOf = () => budgetOf().eps + budgetOf().prior + budgetOf().solver;

  it('three-mode mixture (n = 50000): KS against the exact p_tMin', () => {
    const b = budgetOf();
    const threshold = thresholdOf();
    expect(b.solver).toBeLessThan(0.01 * b.eps);
    const d = ksStatistic(samples(base), cdfOf(target));
    if (VERBOSE) console.info('three modes', { ...b, threshold, D: d });
    expect(d).toBeLessThanOrEqual(threshold);
  });

  it('three-mode mixture: mutation twin (the weight-0.05 mode dropped) fails the same test', () => {
    const threshold = thresholdOf();
    const mutant = threeModes(true);
    const own = ksBudget(mutant, 'transport: three modes, rk4, dropped-mode twin');
    const gap = ksDistanceBounds(sampledTargetLaw(mutant), target).lower; // ~0.05: the dropped weight
    expect(gap).toBeGreaterThanOrEqual(threshold + own.eps + own.prior + own.solver);
    const d = ksStatistic(samples(mutant), cdfOf(target));
    if (VERBOSE) console.info('three modes twin', { exactDistance: gap, threshold, D: d });
    expect(d).toBeGreaterThan(threshold);
  });
});

describe('the other processes: the same KS check (two Gaussians, rk4, n = 20000)', () => {
  // ve starts from N(0, 80^2) on its default EDM grid and tMin; vp's prior misses p_1 by
  // alpha(1) ~ 6.6e-3 (exactly accounted for in the prior term); flow starts at alpha = 0.
  const cases: { process: Raw; solver: Raw; check: FoundationCheck }[] = [
    {
      process: { kind: 've' },
      solver: { kind: 'rk4', steps: 64 },
      check: 'transport: two Gaussians (ve, edm), rk4, KS',
    },
    {
      process: { kind: 'vp' },
      solver: { kind: 'rk4', steps: 100, tMin: 1e-3 },
      check: 'transport: two Gaussians (vp), rk4, KS',
    },
    {
      process: { kind: 'flow' },
      solver: { kind: 'rk4', steps: 100, tMin: 1e-3 },
      check: 'transport: two Gaussians (flow), rk4, KS',
    },
  ];
  for (const c of cases) {
    it(`${c.process.kind}: KS against the exact p_tMin`, () => {
      const spec = parseSpec({
        ...JSON.parse(JSON.stringify(RAW_TWO_GAUSSIANS)),
        process: c.process,
        solver: c.solver,
        particles: 20000,
        seed: 14,
      });
      const b = ksBudget(spec, c.check);
      const threshold = b.eps + b.prior + b.solver;
      expect(b.solver).toBeLessThan(0.01 * b.eps);
      const d = ksStatistic(samples(spec), cdfOf(sampledTargetLaw(spec)));
      if (VERBOSE) console.info(c.process.kind, { ...b, threshold, D: d });
      expect(d).toBeLessThanOrEqual(threshold);
    });
  }
});

describe('Euler-Maruyama on the reverse SDE transports the prior to p_tMin', () => {
  // For a Gaussian target under OU, each EM step is affine in x plus Gaussian noise, so the law of
  // the EM output is exactly Gaussian: its mean and variance follow a recursion over the grid,
  // written here from SPEC.md's OU coefficients (f = -x, g^2 = 2, alpha = e^-t, sigma^2 = 1 - e^-2t),
  // independently of src/solvers. The bias term is then the exact KS distance between that law
  // and p_tMin: weak order 1, about 2.7e-3 at 500 steps (O(h), h = 0.02).
  const N = 500;
  const n = 20000;
  const T = 10;
  const tMin = 1e-3;
  const em = (shift: number) => twoGaussians(null, shift, { kind: 'em', steps: N, tMin }, n);

  function emLaw(mean: number): Law1d {
    let mu = 0;
    let v = 1; // x_T ~ N(0, 1)
    const h = (tMin - T) / N;
    for (let k = 0; k < N; k++) {
      const t = T + k * h;
      const alpha = Math.exp(-t);
      const s2 = -Math.expm1(-2 * t);
      const vt = alpha * alpha + s2; // noised variance of N(mean, 1)
      // x' = x + h (-x - 2 s(x)) + sqrt(2 |h|) z,  s(x) = -(x - alpha mean) / vt
      const a = 1 + h * (-1 + 2 / vt);
      const b = (-2 * h * alpha * mean) / vt;
      mu = a * mu + b;
      v = a * a * v + 2 * -h;
    }
    return [{ kind: 'normal', weight: 1, mean: mu, variance: v }];
  }

  const target = sampledTargetLaw(em(0));
  const eps = dkwEpsilon(n, alphaShare('transport: two Gaussians, em, KS'));
  const bias = ksDistanceBounds(emLaw(1), target).upper;
  const threshold = eps + bias;

  it(`two Gaussians, ${N} steps (n = ${n}): KS against the exact p_tMin`, () => {
    expect(bias).toBeLessThan(0.2 * eps);
    const d = ksStatistic(samples(em(0)), cdfOf(target));
    if (VERBOSE) console.info('em', { n, eps, bias, threshold, D: d });
    expect(d).toBeLessThanOrEqual(threshold);
  });

  it('two Gaussians, em: mutation twin (mean shifted by the smallest detectable amount) fails the same test', () => {
    const epsTwin = dkwEpsilon(n, alphaShare('transport: two Gaussians, em, mean-shifted twin'));
    // The twin's own law is exactly emLaw(1 + shift): no bias term beyond the exact distance.
    const distance = (s: number, points?: number) => ksDistanceBounds(emLaw(1 + s), target, points).lower;
    const need = threshold + epsTwin;
    const shift = roundUp3(smallestDetectable((s) => distance(s, 20001), need, 0, 1));
    const gap = distance(shift);
    expect(gap).toBeGreaterThanOrEqual(threshold + epsTwin);
    const d = ksStatistic(samples(em(shift)), cdfOf(target));
    if (VERBOSE) console.info('em twin', { shift, exactDistance: gap, threshold, D: d });
    expect(d).toBeGreaterThan(threshold);
  });
});
