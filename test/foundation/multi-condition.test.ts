// Multi-condition guidance (guidance.terms: s = s_target + w (s_target - s_negative) +
// sum_k w_k (s_condition_k - s_negative_k)) on the CPU reference:
//   1. validation: each bad field at its path, the refused combinations;
//   2. identities: a term on the target class is cfg with the weights added; a term whose
//      condition is its negative changes nothing, bit for bit;
//   3. accuracy against a closed form: for single Gaussians with one covariance v I, the guided
//      score s_a + w (s_b - s_c) is the exact noised score of N(m, v I), m = mu_a + w (mu_b - mu_c),
//      at every t, so the probability-flow map is x_t = alpha_t m + sqrt(tau_t / tau_T) (x_T -
//      alpha_T m), tau = alpha^2 v + sigma^2. heun converges to it at order 2 (slope within 0.3);
//      twin: w x 1.01 against the same map does not;
//   4. the exact KLs (src/checks/exact-density.ts) against their closed form: Q = N(alpha m, tau),
//      P = N(alpha mu_a, tau) at tMin, KL(Q||P) = KL(P||Q) = alpha^2 |m - mu_a|^2 / (2 tau).
import { describe, expect, it } from 'vitest';
import { CpuStepper, sampleCpu } from '../../src/cpu/reference.ts';
import { cpuLogDensityBackend } from '../../src/cpu/log-density.ts';
import { exactCoverageFidelity } from '../../src/checks/exact-density.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { prepareExperiment } from '../../src/experiment/plan.ts';
import { processAt } from '../../src/processes/process.ts';
import { targetDef } from '../../src/targets/from-spec.ts';
import { maxAbsDiff, specIssues } from '../support/compare.ts';

type Raw = Record<string, any>;
const V = 0.5;
const MU = { a: 0, b: 2, c: -1 };

function raw(guidance: Raw, solver: Raw = { kind: 'heun', steps: 60 }, extra: Raw = {}): Raw {
  return {
    dim: 1,
    classes: (['a', 'b', 'c'] as const).map((name) => ({
      name,
      components: [{ kind: 'gaussian', mean: [MU[name]], cov: V }],
    })),
    target: 'a',
    process: { kind: 'ou', T: 8 },
    guidance,
    solver: { tMin: 0.01, grid: { kind: 'edm', rho: 7 }, ...solver },
    particles: 64,
    seed: 3,
    ...extra,
  };
}

const composed = (w: number): Raw => ({ kind: 'cfg', w: 0, terms: [{ condition: 'b', w, negative: 'c' }] });

function expectIssue(r: Raw, path: string, phrase: RegExp): void {
  const issues = specIssues(r);
  expect(
    issues.some((i) => i.path === path && phrase.test(i.message)),
    JSON.stringify(issues),
  ).toBe(true);
}

describe('guidance.terms: validation', () => {
  it('parses terms, defaulting negative to the unconditional law; no terms key without terms', () => {
    const g = parseSpec(raw({ kind: 'cfg', w: 1, terms: [{ condition: 'b', w: 2 }] })).guidance;
    expect(g).toMatchObject({
      terms: [
        { condition: { kind: 'class', name: 'b' }, w: { kind: 'constant', w: 2 }, negative: { kind: 'unconditional' } },
      ],
    });
    expect('terms' in parseSpec(raw({ kind: 'cfg', w: 1, terms: [] })).guidance).toBe(false);
    expect('terms' in parseSpec(raw({ kind: 'cfg', w: 1 })).guidance).toBe(false);
  });

  it('rejects each bad field at its path', () => {
    expectIssue(raw({ kind: 'cfg', w: 1, terms: { condition: 'b' } }), 'guidance.terms', /a list of/);
    expectIssue(raw({ kind: 'cfg', w: 1, terms: [{ w: 1 }] }), 'guidance.terms[0].condition', /missing/);
    expectIssue(raw({ kind: 'cfg', w: 1, terms: [{ condition: 'b' }] }), 'guidance.terms[0].w', /missing/);
    expectIssue(
      raw({
        kind: 'cfg',
        w: 1,
        terms: [
          { condition: 'b', w: 1 },
          { condition: 'x', w: 1 },
        ],
      }),
      'guidance.terms[1].condition',
      /unknown class "x"/,
    );
    expectIssue(
      raw({ kind: 'cfg', w: 1, terms: [{ condition: 'b', w: 1, negative: 'nope' }] }),
      'guidance.terms[0].negative',
      /unknown class "nope"/,
    );
    expectIssue(
      raw({ kind: 'cfg', w: 1, terms: [{ condition: 'b', w: 1, weight: 2 }] }),
      'guidance.terms[0].weight',
      /unknown field/,
    );
    expectIssue(
      raw({
        kind: 'cfg',
        w: 1,
        terms: [{ condition: { components: [{ kind: 'gaussian', mean: [0, 1], cov: 1 }] }, w: 1 }],
      }),
      'guidance.terms[0].condition.components[0].mean',
      /length 1|1 number/,
    );
    expectIssue(
      raw({ kind: 'cfg', w: 1, terms: [{ condition: { kind: 'learned', file: 'm.json' }, w: 1 }] }),
      'guidance.terms[0].condition',
      /exact laws only/,
    );
    expectIssue(
      raw({ kind: 'classifier', w: 1, terms: [{ condition: 'b', w: 1 }] }),
      'guidance.terms',
      /unknown field/,
    );
  });

  it('refuses the combinations it has no definition for', () => {
    const terms = [{ condition: 'b', w: 1 }];
    expectIssue(raw({ kind: 'cfg', w: 1, terms, variant: { kind: 'apg' } }), 'guidance.terms', /"linear", got "apg"/);
    expectIssue(
      raw({ kind: 'cfg', w: 1, terms }, undefined, { scoreError: { kind: 'bias', value: [0.1] } }),
      'guidance.terms',
      /scoreError.kind must be "none"/,
    );
    expectIssue(
      raw({ kind: 'cfg', w: 1, terms }, { kind: 'em', steps: 20 }, { corrector: { kind: 'fk' } }),
      'guidance.terms',
      /not with a corrector/,
    );
    expect(() => targetDef(parseSpec(raw({ kind: 'cfg', w: 1, terms })), 'tilted')).toThrow(/no tilted target/);
  });
});

describe('guidance.terms: identities', () => {
  it('a term on the target class is cfg with the weights added', () => {
    const multi = sampleCpu(
      parseSpec(raw({ kind: 'cfg', w: 1, negative: 'c', terms: [{ condition: 'a', w: 2, negative: 'c' }] })),
    );
    const cfg = sampleCpu(parseSpec(raw({ kind: 'cfg', w: 3, negative: 'c' })));
    expect(maxAbsDiff(multi.particles, cfg.particles)).toBeLessThan(1e-9);
  });

  it("a term's laws that are the target's or the negative's own groups fold into their coefficients", () => {
    const spec = parseSpec(
      raw({
        kind: 'cfg',
        w: 1,
        terms: [
          { condition: 'a', w: 2 },
          { condition: 'b', w: 0.5, negative: 'c' },
        ],
      }),
    );
    const g = prepareExperiment(spec).guidance;
    // 'a' is the target, 'unconditional' the negative: folded; 'b' and 'c' stay extra groups.
    expect(g.extraGroups.map((x) => x.name)).toEqual(['b', 'c']);
    expect(g.coefficients(0.5)).toEqual([1 + 1 + 2, -1 - 2]);
    expect(g.extraCoefficients(0.5)).toEqual([0.5, -0.5]);
    const folded = prepareExperiment(parseSpec(raw({ kind: 'cfg', w: 1, terms: [{ condition: 'a', w: 2 }] }))).guidance;
    expect(folded.extraGroups).toEqual([]);
  });

  it('a term whose condition is its own negative changes nothing, bit for bit', () => {
    const multi = sampleCpu(parseSpec(raw({ kind: 'cfg', w: 2, terms: [{ condition: 'b', w: 5, negative: 'b' }] })));
    const cfg = sampleCpu(parseSpec(raw({ kind: 'cfg', w: 2 })));
    expect(Array.from(multi.particles)).toEqual(Array.from(cfg.particles));
  });
});

/** The closed-form probability-flow map of N(m, V) from x_T to tMin, per particle. */
function exactMap(spec: ReturnType<typeof parseSpec>, m: number): number[] {
  const x0 = new Float64Array(spec.particles);
  new CpuStepper(spec).initParticles(0, spec.particles, x0);
  const pT = processAt(spec.process, 8);
  const p0 = processAt(spec.process, spec.solver.tMin);
  const tau = (p: { alpha: number; sigma2: number }) => p.alpha * p.alpha * V + p.sigma2;
  return Array.from(x0, (x) => p0.alpha * m + Math.sqrt(tau(p0) / tau(pT)) * (x - pT.alpha * m));
}

describe('guidance.terms: accuracy against the closed form', () => {
  it('heun converges to the composed Gaussian map at order 2; the w x 1.01 twin does not', () => {
    const w = 0.5;
    const m = MU.a + w * (MU.b - MU.c);
    const error = (steps: number, wRun: number): number => {
      const spec = parseSpec(raw(composed(wRun), { kind: 'heun', steps }));
      return maxAbsDiff(sampleCpu(spec).particles, exactMap(spec, m));
    };
    const e1 = error(60, w);
    const e2 = error(240, w);
    const slope = Math.log(e1 / e2) / Math.log(4);
    const twin = error(240, 1.01 * w);
    console.log(
      `composed Gaussian map: error ${e1.toExponential(2)} (60 steps), ${e2.toExponential(2)} (240), slope ${slope.toFixed(2)}; twin ${twin.toExponential(2)}`,
    );
    expect(Math.abs(slope - 2)).toBeLessThan(0.3);
    expect(e2).toBeLessThan(3e-4);
    expect(twin).toBeGreaterThan(10 * e2);
  });

  it('the exact KLs match their closed form; the w x 1.1 twin falls outside', async () => {
    // Envelope: 5 standard errors (two-sided false-failure rate 6e-7 per estimate) plus a bias
    // budget of 1e-3 for rk4's discretisation of x and log q (heun's per-particle map error at 240
    // steps is ~1e-4, rk4 at 80 steps is below it; the KL moves by ~|dKL/dx| x that).
    const w = 0.5;
    const p = processAt({ kind: 'ou', T: 8 }, 0.01);
    const tau = p.alpha * p.alpha * V + p.sigma2;
    const closed = (wk: number) => (p.alpha * p.alpha * (wk * (MU.b - MU.c)) ** 2) / (2 * tau);
    const run = (wk: number) =>
      exactCoverageFidelity(
        parseSpec(raw(composed(wk), { kind: 'rk4', steps: 80 }, { particles: 4000 })),
        cpuLogDensityBackend,
        {
          particles: 4000,
          pSamples: 4000,
        },
      );
    const r = await run(w);
    const twin = await run(1.1 * w);
    console.log(
      `composed Gaussian KLs: closed ${closed(w).toFixed(4)}; KL(Q||P) ${r.klQP.value.toFixed(4)} +- ${r.klQP.se.toFixed(4)}, KL(P||Q) ${r.klPQ.value.toFixed(4)} +- ${r.klPQ.se.toFixed(4)}; twin KL(Q||P) ${twin.klQP.value.toFixed(4)}`,
    );
    for (const k of ['klQP', 'klPQ'] as const) {
      expect(Math.abs(r[k].value - closed(w))).toBeLessThan(5 * r[k].se + 1e-3);
      expect(Math.abs(twin[k].value - closed(w))).toBeGreaterThan(5 * twin[k].se + 1e-3);
    }
  });
});
