// Closed key sets: an unknown field anywhere in the spec is an error at its own path, with a
// "did you mean" for a near miss (issue 14, item 1). Before the change every case below parsed.
// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { SpecError } from '../src/experiment/errors.ts';
import { parseSpec } from '../src/experiment/parse.ts';

type Raw = Record<string, any>;

function example(): Raw {
  return {
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [1], cov: 1 }] },
      { name: 'neg', weight: 0.5, components: [{ kind: 'uniform', weight: 1, low: [-2], high: [0] }] },
    ],
    target: 'pos',
    process: { kind: 'ou', T: 10 },
    guidance: {
      kind: 'cfg',
      w: { kind: 'interval', w: 2, tLow: 0.1, tHigh: 1 },
      negative: { components: [{ kind: 'gaussian', mean: [0], cov: 1 }] },
    },
    solver: { kind: 'rk4', steps: 10, tMin: 1e-3, grid: { kind: 'edm', rho: 7 } },
    particles: 100,
    seed: 1,
  };
}

function issuesOf(edit: (s: Raw) => void): { path: string; message: string }[] {
  const s = example();
  edit(s);
  try {
    parseSpec(s);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  return [];
}

describe('unknown fields are errors at their path', () => {
  const cases: [string, (s: Raw) => void, string, string | null][] = [
    ['a top-level typo', (s) => (s.particels = 50), 'particels', 'particles'],
    ['solver.tmin for tMin', (s) => (s.solver.tmin = 0.01), 'solver.tmin', 'tMin'],
    [
      'covariance in a component',
      (s) => (s.classes[0].components[0].covariance = 1),
      'classes[0].components[0].covariance',
      null,
    ],
    ['weight in guidance', (s) => (s.guidance.weight = 3), 'guidance.weight', null],
    ['a class field', (s) => (s.classes[1].nmae = 'x'), 'classes[1].nmae', 'name'],
    [
      'a uniform component field',
      (s) => (s.classes[1].components[0].hihg = [1]),
      'classes[1].components[0].hihg',
      'high',
    ],
    ['a process parameter of another kind', (s) => (s.process.sigmaMax = 80), 'process.sigmaMax', null],
    ['a schedule field', (s) => (s.guidance.w.tlow = 0.2), 'guidance.w.tlow', 'tLow'],
    ['an inline negative field', (s) => (s.guidance.negative.weight = 1), 'guidance.negative.weight', null],
    [
      'a negative component field',
      (s) => (s.guidance.negative.components[0].mena = [0]),
      'guidance.negative.components[0].mena',
      'mean',
    ],
    ['a grid field', (s) => (s.solver.grid.roh = 5), 'solver.grid.roh', 'rho'],
    [
      'a variant field',
      (s) => (s.guidance.variant = { kind: 'rescale', phi: 0.5, eta: 1 }),
      'guidance.variant.eta',
      null,
    ],
    [
      'a scoreError field',
      (s) => (s.scoreError = { kind: 'blur', delta: 0.1, aplyTo: 'both' }),
      'scoreError.aplyTo',
      'applyTo',
    ],
    [
      'a corrector field',
      (s) => {
        s.solver = { kind: 'em', steps: 10 };
        s.guidance = { kind: 'cfg', w: 1 };
        s.corrector = { kind: 'fk', essThreshhold: 0.3 };
      },
      'corrector.essThreshhold',
      'essThreshold',
    ],
    ['a key that is not an identifier', (s) => (s.solver['max steps'] = 1), 'solver["max steps"]', null],
  ];
  for (const [what, edit, path, suggestion] of cases) {
    it(what, () => {
      const issues = issuesOf(edit);
      const issue = issues.find((i) => i.path === path);
      expect(issue, JSON.stringify(issues)).toBeDefined();
      expect(issue!.message).toContain('unknown field');
      expect(issue!.message).toContain('known fields here:');
      if (suggestion) expect(issue!.message).toContain(`did you mean "${suggestion}"?`);
      else expect(issue!.message).not.toContain('did you mean');
    });
  }

  it('reports every unknown field at once, with the other issues', () => {
    const issues = issuesOf((s) => {
      s.particels = 5;
      s.solver.tmin = 1;
      s.dim = 0;
    });
    expect(issues.map((i) => i.path).sort()).toEqual(['dim', 'particels', 'solver.tmin'].sort());
  });

  it('admits start: "prior" | "exact" and rejects other values', () => {
    expect(issuesOf((s) => (s.start = 'prior'))).toEqual([]);
    expect(issuesOf((s) => (s.start = 'exact'))).toEqual([]);
    expect(issuesOf((s) => (s.start = 'posterior'))[0]).toMatchObject({ path: 'start' });
  });

  it('the base spec parses (so each case above fails only on its field)', () => {
    expect(issuesOf(() => {})).toEqual([]);
  });
});
