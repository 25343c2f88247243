// @vitest-environment node
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../src/experiment/errors.ts';
import { loadSpecFile, parseSpec } from '../src/experiment/parse.ts';

type Raw = Record<string, any>;

/** The example of shared/SPEC.md. */
function example(): Raw {
  return {
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [1], cov: 1 }] },
      { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [-1], cov: 1 }] },
    ],
    target: 'pos',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 3 },
    solver: { kind: 'rk4', steps: 1000, tMin: 1e-4 },
    particles: 1000000,
    seed: 1,
  };
}

/** The example in 2-D, so covariance and vector shapes can be exercised. */
function example2d(): Raw {
  const s = example();
  s.dim = 2;
  s.classes[0].components = [
    {
      kind: 'gaussian',
      mean: [1, 0],
      cov: [
        [1, 0.5],
        [0.5, 1],
      ],
    },
  ];
  s.classes[1].components = [{ kind: 'uniform', low: [-2, -1], high: [0, 1] }];
  return s;
}

function specWith(edit: (s: Raw) => void, base = example): Raw {
  const s = base();
  edit(s);
  return s;
}

function specError(raw: unknown): SpecError {
  try {
    parseSpec(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return e as SpecError;
  }
  throw new Error('expected parseSpec to throw');
}

/** parseSpec rejects `raw` with an issue at exactly `path` whose message contains `phrase`. */
function expectIssue(raw: unknown, path: string, phrase: string): SpecError {
  const err = specError(raw);
  expect(err.message).toContain(`${path}: `);
  expect(
    err.issues
      .filter((i) => i.path === path)
      .map((i) => i.message)
      .join('\n'),
  ).toContain(phrase);
  return err;
}

describe('parseSpec: valid specs', () => {
  it('parses the SPEC.md example with defaults filled in', () => {
    const spec = parseSpec(example());
    expect(spec).toEqual({
      dim: 1,
      classes: [
        {
          name: 'pos',
          weight: 0.5,
          components: [{ kind: 'gaussian', weight: 1, mean: [1], cov: { kind: 'isotropic', variance: 1 } }],
        },
        {
          name: 'neg',
          weight: 0.5,
          components: [{ kind: 'gaussian', weight: 1, mean: [-1], cov: { kind: 'isotropic', variance: 1 } }],
        },
      ],
      target: 'pos',
      process: { kind: 'ou', T: 10 },
      guidance: {
        kind: 'cfg',
        w: { kind: 'constant', w: 3 },
        negative: { kind: 'unconditional' },
        variant: { kind: 'linear' },
      },
      solver: { kind: 'rk4', steps: 1000, tMin: 1e-4, grid: { kind: 'uniform' } },
      particles: 1000000,
      seed: 1,
      scoreError: { kind: 'none' },
      corrector: null,
      start: 'prior',
    });
  });

  it('reads start: "prior" (default) and "exact", and rejects anything else with its path', () => {
    expect(
      parseSpec(
        specWith((s) => {
          s.start = 'exact';
        }),
      ).start,
    ).toBe('exact');
    expect(
      parseSpec(
        specWith((s) => {
          s.start = 'prior';
        }),
      ).start,
    ).toBe('prior');
    for (const bad of ['Exact', 1, null]) {
      expect(() =>
        parseSpec(
          specWith((s) => {
            s.start = bad;
          }),
        ),
      ).toThrow(/start: /);
    }
  });

  it('fills in the fk corrector defaults, and reads kind "none" as no corrector', () => {
    const fk = parseSpec(
      specWith((s) => {
        s.solver.kind = 'em';
        s.corrector = { kind: 'fk' };
      }),
    );
    expect(fk.corrector).toEqual({ kind: 'fk', resample: 'systematic', essThreshold: 0.5 });
    const withBlur = parseSpec(
      specWith((s) => {
        s.solver.kind = 'em';
        s.scoreError = { kind: 'blur', delta: 0.1 };
        s.corrector = { kind: 'fk', essThreshold: 0 };
      }),
    );
    expect(withBlur.corrector?.essThreshold).toBe(0);
    expect(
      parseSpec(
        specWith((s) => {
          s.corrector = { kind: 'none' };
        }),
      ).corrector,
    ).toBeNull();
  });

  it('normalises class and component weights, defaulting them to 1', () => {
    const spec = parseSpec(
      specWith((s) => {
        s.classes[0].weight = 3;
        delete s.classes[1].weight;
        s.classes[0].components.push({ kind: 'gaussian', weight: 3, mean: [2], cov: 1 });
        delete s.classes[1].components[0].weight;
      }),
    );
    expect(spec.classes.map((c) => c.weight)).toEqual([0.75, 0.25]);
    expect(spec.classes[0].components.map((c) => c.weight)).toEqual([0.25, 0.75]);
    expect(spec.classes[1].components[0].weight).toBe(1);
  });

  it('normalises weights too large to sum', () => {
    const spec = parseSpec(
      specWith((s) => {
        s.classes[0].weight = 1e308;
        s.classes[1].weight = 1e308;
      }),
    );
    expect(spec.classes.map((c) => c.weight)).toEqual([0.5, 0.5]);
  });

  it('fills the run and solver defaults', () => {
    const spec = parseSpec(
      specWith((s) => {
        delete s.guidance;
        delete s.particles;
        delete s.seed;
        delete s.solver.tMin;
        s.process = { kind: 'vp' };
      }),
    );
    expect(spec.guidance).toEqual({ kind: 'none' });
    expect(spec.particles).toBe(100000);
    expect(spec.seed).toBe(0);
    expect(spec.solver.tMin).toBe(1e-3);
    expect(spec.process).toEqual({ kind: 'vp', betaMin: 0.1, betaMax: 20 });
  });

  it.each([
    [{ kind: 'ou' }, { kind: 'ou', T: 10 }],
    [
      { kind: 'vp', betaMax: 10 },
      { kind: 'vp', betaMin: 0.1, betaMax: 10 },
    ],
    [{ kind: 've' }, { kind: 've', sigmaMax: 80 }],
    [{ kind: 'flow' }, { kind: 'flow' }],
  ])('fills process defaults: %j', (process, expected) => {
    expect(
      parseSpec(
        specWith((s) => {
          s.process = process;
        }),
      ).process,
    ).toEqual(expected);
  });

  it('defaults ve to tMin 0.002 and an EDM grid with rho 7', () => {
    const spec = parseSpec(
      specWith((s) => {
        s.process = { kind: 've' };
        s.solver = { kind: 'heun', steps: 18 };
      }),
    );
    expect(spec.solver).toEqual({ kind: 'heun', steps: 18, tMin: 0.002, grid: { kind: 'edm', rho: 7 } });
  });

  it.each([
    ['uniform', { kind: 'uniform' }],
    [{ kind: 'uniform' }, { kind: 'uniform' }],
    [{ kind: 'edm' }, { kind: 'edm', rho: 7 }],
    [
      { kind: 'edm', rho: 3 },
      { kind: 'edm', rho: 3 },
    ],
  ])('accepts grid %j', (grid, expected) => {
    expect(
      parseSpec(
        specWith((s) => {
          s.solver.grid = grid;
        }),
      ).solver.grid,
    ).toEqual(expected);
  });

  it('canonicalises covariances: number, list and matrix', () => {
    const spec = parseSpec(
      specWith((s) => {
        s.classes[0].components = [
          { kind: 'gaussian', mean: [0, 0], cov: 2 },
          { kind: 'gaussian', mean: [0, 0], cov: [1, 3] },
          // asymmetric in the last digits only: accepted and symmetrised
          {
            kind: 'gaussian',
            mean: [0, 0],
            cov: [
              [2, 0.5],
              [0.5 + 1e-15, 1],
            ],
          },
        ];
      }, example2d),
    );
    const covs = spec.classes[0].components.map((c) => (c.kind === 'gaussian' ? c.cov : undefined));
    expect(covs[0]).toEqual({ kind: 'isotropic', variance: 2 });
    expect(covs[1]).toEqual({ kind: 'diagonal', variances: [1, 3] });
    expect(covs[2]?.kind).toBe('full');
    if (covs[2]?.kind === 'full') expect(covs[2].matrix[0][1]).toBe(covs[2].matrix[1][0]);
  });

  it('accepts a 1 x 1 covariance matrix in dimension 1', () => {
    const spec = parseSpec(
      specWith((s) => {
        s.classes[0].components[0].cov = [[2]];
      }),
    );
    expect(spec.classes[0].components[0]).toMatchObject({ cov: { kind: 'full', matrix: [[2]] } });
  });

  it.each([
    ['a class name', 'neg', { kind: 'class', name: 'neg' }],
    ['"unconditional"', 'unconditional', { kind: 'unconditional' }],
    [
      'an inline distribution',
      {
        components: [
          { kind: 'gaussian', weight: 2, mean: [0], cov: 4 },
          { kind: 'uniform', weight: 6, low: [0], high: [1] },
        ],
      },
      {
        kind: 'inline',
        distribution: {
          components: [
            { kind: 'gaussian', weight: 0.25, mean: [0], cov: { kind: 'isotropic', variance: 4 } },
            { kind: 'uniform', weight: 0.75, low: [0], high: [1] },
          ],
        },
      },
    ],
  ])('accepts a cfg negative given as %s', (_, negative, expected) => {
    const spec = parseSpec(
      specWith((s) => {
        s.guidance.negative = negative;
      }),
    );
    expect(spec.guidance).toMatchObject({ kind: 'cfg', negative: expected });
  });

  it.each([
    [2, { kind: 'constant', w: 2 }],
    [
      { kind: 'constant', w: -1 },
      { kind: 'constant', w: -1 },
    ],
    [
      { kind: 'interval', w: 2, tLow: 0.1, tHigh: 1 },
      { kind: 'interval', w: 2, tLow: 0.1, tHigh: 1, outside: 0 },
    ],
    [
      {
        kind: 'piecewise',
        points: [
          [0, 1],
          [1, 1],
          [2, 3],
        ],
      },
      {
        kind: 'piecewise',
        points: [
          [0, 1],
          [1, 1],
          [2, 3],
        ],
      },
    ],
  ])('accepts classifier w = %j', (w, expected) => {
    const spec = parseSpec(
      specWith((s) => {
        s.guidance = { kind: 'classifier', w };
      }),
    );
    expect(spec.guidance).toEqual({ kind: 'classifier', w: expected });
  });

  it('rejects unknown top-level and nested keys (closed key sets; more in test/spec-keys.test.ts)', () => {
    const err = specError(
      specWith((s) => {
        s.comment = 'made by another tool';
        s.process.note = 1;
      }),
    );
    expect(err.issues.map((i) => i.path)).toEqual(['comment', 'process.note']);
  });
});

describe('parseSpec: rejected specs', () => {
  it('rejects a top level that is not an object', () => {
    expectIssue([1, 2], '(spec)', 'expected a JSON object');
    expectIssue(null, '(spec)', 'expected a JSON object');
  });

  it.each<[string, (s: Raw) => void, string, string]>([
    // data distribution
    ['dim missing', (s) => delete s.dim, 'dim', 'missing; expected an integer >= 1'],
    [
      'dim 0',
      (s) => {
        s.dim = 0;
      },
      'dim',
      'must be >= 1',
    ],
    [
      'dim not an integer',
      (s) => {
        s.dim = 1.5;
      },
      'dim',
      'expected an integer',
    ],
    [
      'empty classes',
      (s) => {
        s.classes = [];
      },
      'classes',
      'non-empty list',
    ],
    ['class without name', (s) => delete s.classes[1].name, 'classes[1].name', 'expected a non-empty string'],
    [
      'duplicate class names',
      (s) => {
        s.classes[1].name = 'pos';
      },
      'classes[1].name',
      'duplicate class name "pos"',
    ],
    [
      'zero class weight',
      (s) => {
        s.classes[0].weight = 0;
      },
      'classes[0].weight',
      'must be > 0',
    ],
    [
      'empty components',
      (s) => {
        s.classes[0].components = [];
      },
      'classes[0].components',
      'non-empty list',
    ],
    [
      'negative component weight',
      (s) => {
        s.classes[1].components[0].weight = -1;
      },
      'classes[1].components[0].weight',
      'must be > 0',
    ],
    [
      'unknown component kind',
      (s) => {
        s.classes[0].components[0].kind = 'laplace';
      },
      'classes[0].components[0].kind',
      'known kinds: gaussian, uniform',
    ],
    [
      'mean dimension mismatch',
      (s) => {
        s.classes[0].components[0].mean = [1, 2];
      },
      'classes[0].components[0].mean',
      'expected a list of 1 numbers',
    ],
    [
      'mean not a list',
      (s) => {
        s.classes[0].components[0].mean = 1;
      },
      'classes[0].components[0].mean',
      'expected a list of 1 numbers',
    ],
    [
      'mean with a string',
      (s) => {
        s.classes[0].components[0].mean = ['1'];
      },
      'classes[0].components[0].mean[0]',
      'expected a number',
    ],
    [
      'zero isotropic variance',
      (s) => {
        s.classes[0].components[0].cov = 0;
      },
      'classes[0].components[0].cov',
      'must be > 0',
    ],
    [
      'cov of the wrong type',
      (s) => {
        s.classes[0].components[0].cov = 'I';
      },
      'classes[0].components[0].cov',
      'expected a variance > 0',
    ],
    [
      'uniform low >= high',
      (s) => {
        s.classes[1].components[0] = { kind: 'uniform', low: [1], high: [1] };
      },
      'classes[1].components[0].high[0]',
      'must be > low[0] = 1',
    ],
    [
      'uniform high missing',
      (s) => {
        s.classes[1].components[0] = { kind: 'uniform', low: [1] };
      },
      'classes[1].components[0].high',
      'missing',
    ],
    ['target missing', (s) => delete s.target, 'target', 'missing'],
    [
      'unknown target',
      (s) => {
        s.target = 'zero';
      },
      'target',
      'unknown class "zero"; classes are "pos", "neg"',
    ],
    // process
    ['process missing', (s) => delete s.process, 'process', 'missing; expected an object'],
    [
      'unknown process kind',
      (s) => {
        s.process = { kind: 'cld' };
      },
      'process.kind',
      'known kinds: ou, vp, ve, flow',
    ],
    [
      'T <= 0',
      (s) => {
        s.process = { kind: 'ou', T: 0 };
      },
      'process.T',
      'must be > 0',
    ],
    [
      'sigmaMax <= 0',
      (s) => {
        s.process = { kind: 've', sigmaMax: -1 };
      },
      'process.sigmaMax',
      'must be > 0',
    ],
    [
      'betaMin < 0',
      (s) => {
        s.process = { kind: 'vp', betaMin: -0.1 };
      },
      'process.betaMin',
      'must be >= 0',
    ],
    [
      'betaMax < betaMin',
      (s) => {
        s.process = { kind: 'vp', betaMin: 5, betaMax: 1 };
      },
      'process.betaMax',
      'must be >= betaMin = 5',
    ],
    [
      'betaMin = betaMax = 0',
      (s) => {
        s.process = { kind: 'vp', betaMin: 0, betaMax: 0 };
      },
      'process.betaMax',
      'must be > 0',
    ],
    // guidance
    [
      'unknown guidance kind',
      (s) => {
        s.guidance = { kind: 'autoguidance', w: 1 };
      },
      'guidance.kind',
      'known kinds: none, cfg, classifier',
    ],
    ['cfg without w', (s) => delete s.guidance.w, 'guidance.w', 'missing'],
    [
      'classifier without w',
      (s) => {
        s.guidance = { kind: 'classifier' };
      },
      'guidance.w',
      'missing',
    ],
    [
      'unknown schedule kind',
      (s) => {
        s.guidance.w = { kind: 'cosine' };
      },
      'guidance.w.kind',
      'known kinds: constant, interval, piecewise',
    ],
    [
      'tLow = tHigh',
      (s) => {
        s.guidance.w = { kind: 'interval', w: 2, tLow: 1, tHigh: 1 };
      },
      'guidance.w.tHigh',
      'must be > tLow = 1',
    ],
    [
      'tLow > tHigh',
      (s) => {
        s.guidance.w = { kind: 'interval', w: 2, tLow: 2, tHigh: 1 };
      },
      'guidance.w.tHigh',
      'must be > tLow = 2',
    ],
    [
      'unsorted piecewise points',
      (s) => {
        s.guidance.w = {
          kind: 'piecewise',
          points: [
            [0, 1],
            [2, 1],
            [1, 0],
            [0.5, 0],
          ],
        };
      },
      'guidance.w.points[2]',
      'sorted by t',
    ],
    [
      'empty piecewise points',
      (s) => {
        s.guidance.w = { kind: 'piecewise', points: [] };
      },
      'guidance.w.points',
      'non-empty list',
    ],
    [
      'piecewise point not a pair',
      (s) => {
        s.guidance.w = { kind: 'piecewise', points: [[0, 1], [1]] };
      },
      'guidance.w.points[1]',
      'a list of 2 numbers',
    ],
    [
      'unknown negative class',
      (s) => {
        s.guidance.negative = 'zero';
      },
      'guidance.negative',
      'unknown class "zero"',
    ],
    [
      'negative of the wrong type',
      (s) => {
        s.guidance.negative = 3;
      },
      'guidance.negative',
      'expected "unconditional", a class name',
    ],
    [
      'inline negative with a bad component',
      (s) => {
        s.guidance.negative = { components: [{ kind: 'uniform', low: [0], high: [-1] }] };
      },
      'guidance.negative.components[0].high[0]',
      'must be > low[0]',
    ],
    [
      'inline negative with a short mean',
      (s) => {
        s.guidance.negative = { components: [{ kind: 'gaussian', mean: [], cov: 1 }] };
      },
      'guidance.negative.components[0].mean',
      'expected a list of 1 numbers',
    ],
    // solver
    ['solver missing', (s) => delete s.solver, 'solver', 'missing'],
    [
      'unknown solver kind',
      (s) => {
        s.solver.kind = 'dpm';
      },
      'solver.kind',
      'known kinds: euler, heun, rk4, em',
    ],
    [
      'zero steps',
      (s) => {
        s.solver.steps = 0;
      },
      'solver.steps',
      'must be >= 1',
    ],
    [
      'non-integer steps',
      (s) => {
        s.solver.steps = 10.5;
      },
      'solver.steps',
      'expected an integer >= 1, got 10.5',
    ],
    [
      'unknown grid kind',
      (s) => {
        s.solver.grid = { kind: 'cosine' };
      },
      'solver.grid.kind',
      'known kinds: uniform, edm',
    ],
    [
      'unknown grid name',
      (s) => {
        s.solver.grid = 'log';
      },
      'solver.grid',
      'known kinds: uniform, edm',
    ],
    [
      'edm rho <= 0',
      (s) => {
        s.solver.grid = { kind: 'edm', rho: 0 };
      },
      'solver.grid.rho',
      'must be > 0',
    ],
    [
      'em with the flow process',
      (s) => {
        s.process = { kind: 'flow' };
        s.solver.kind = 'em';
      },
      'solver.kind',
      'em cannot start the flow process at t = 1',
    ],
    // run
    [
      'zero particles',
      (s) => {
        s.particles = 0;
      },
      'particles',
      'must be in [1, 4294967295]',
    ],
    [
      'too many particles',
      (s) => {
        s.particles = 2 ** 32;
      },
      'particles',
      'must be in [1, 4294967295]',
    ],
    [
      'fractional particles',
      (s) => {
        s.particles = 1.5;
      },
      'particles',
      'expected an integer',
    ],
    [
      'negative seed',
      (s) => {
        s.seed = -1;
      },
      'seed',
      'must be in [0, 4294967295]',
    ],
    [
      'seed 2^32',
      (s) => {
        s.seed = 2 ** 32;
      },
      'seed',
      'must be in [0, 4294967295]',
    ],
    [
      'fractional seed',
      (s) => {
        s.seed = 0.5;
      },
      'seed',
      'expected an integer',
    ],
    [
      'seed as a string',
      (s) => {
        s.seed = '1';
      },
      'seed',
      'expected an integer in [0, 4294967295], got a string "1"',
    ],
    // optional features
    [
      'corrector not an object',
      (s) => {
        s.corrector = 'fk';
      },
      'corrector',
      'expected an object',
    ],
    [
      'corrector unknown kind',
      (s) => {
        s.corrector = { kind: 'langevin' };
      },
      'corrector.kind',
      'known kinds: none, fk',
    ],
    [
      'fk with an ODE solver',
      (s) => {
        s.corrector = { kind: 'fk' };
      },
      'corrector.kind',
      'solver.kind must be "em", got "rk4"',
    ],
    [
      'fk resample unknown',
      (s) => {
        s.solver.kind = 'em';
        s.corrector = { kind: 'fk', resample: 'multinomial' };
      },
      'corrector.resample',
      'known kinds: systematic',
    ],
    [
      'fk essThreshold > 1',
      (s) => {
        s.solver.kind = 'em';
        s.corrector = { kind: 'fk', essThreshold: 1.5 };
      },
      'corrector.essThreshold',
      'in [0, 1]',
    ],
    [
      'fk essThreshold not a number',
      (s) => {
        s.solver.kind = 'em';
        s.corrector = { kind: 'fk', essThreshold: 'half' };
      },
      'corrector.essThreshold',
      'expected a number, got a string',
    ],
    [
      'fk with a non-linear variant',
      (s) => {
        s.solver.kind = 'em';
        s.guidance.variant = { kind: 'rescale', phi: 0.5 };
        s.corrector = { kind: 'fk' };
      },
      'corrector.kind',
      'guidance.variant.kind "rescale" has no such law',
    ],
    [
      'fk with a score-error field',
      (s) => {
        s.solver.kind = 'em';
        s.scoreError = { kind: 'field', amplitude: 0.1, lengthScale: 1, features: 4, seed: 1 };
        s.corrector = { kind: 'fk' };
      },
      'corrector.kind',
      'scoreError.kind "field" is not the gradient of one',
    ],
    [
      'scoreError not an object',
      (s) => {
        s.scoreError = 0.1;
      },
      'scoreError',
      'expected an object',
    ],
    [
      'scoreError unknown kind',
      (s) => {
        s.scoreError = { kind: 'noise' };
      },
      'scoreError.kind',
      'known kinds: none, bias, field, blur',
    ],
    [
      'scoreError bias of the wrong length',
      (s) => {
        s.scoreError = { kind: 'bias', value: [1, 2] };
      },
      'scoreError.value',
      'list of 1 numbers',
    ],
    [
      'scoreError field without lengthScale',
      (s) => {
        s.scoreError = { kind: 'field', amplitude: 0.1 };
      },
      'scoreError.lengthScale',
      'number',
    ],
    [
      'scoreError negative blur',
      (s) => {
        s.scoreError = { kind: 'blur', delta: -1 };
      },
      'scoreError.delta',
      '>= 0',
    ],
    [
      'scoreError unknown applyTo',
      (s) => {
        s.scoreError = { kind: 'blur', delta: 1, applyTo: 'all' };
      },
      'scoreError.applyTo',
      'target, negative, both',
    ],
    [
      'variant unknown kind',
      (s) => {
        s.guidance.variant = { kind: 'cfgxx' };
      },
      'guidance.variant.kind',
      'linear, rescale, apg, powerlaw, cfgpp',
    ],
    [
      'rescale phi out of range',
      (s) => {
        s.guidance.variant = { kind: 'rescale', phi: 2 };
      },
      'guidance.variant.phi',
      'in [0, 1]',
    ],
    [
      'apg r not positive',
      (s) => {
        s.guidance.variant = { kind: 'apg', r: 0 };
      },
      'guidance.variant.r',
      '> 0',
    ],
    [
      'apg beta out of range',
      (s) => {
        s.guidance.variant = { kind: 'apg', beta: 1 };
      },
      'guidance.variant.beta',
      'in (-1, 1)',
    ],
  ])('rejects %s', (_, edit, path, phrase) => {
    expectIssue(specWith(edit), path, phrase);
  });

  it.each<[string, (s: Raw) => void, string]>([
    [
      'non-PD covariance',
      (s) => {
        s.classes[0].components[0].cov = [
          [1, 2],
          [2, 1],
        ];
      },
      'classes[0].components[0].cov: not positive definite',
    ],
    [
      'singular covariance',
      (s) => {
        s.classes[0].components[0].cov = [
          [1, 1],
          [1, 1],
        ];
      },
      'classes[0].components[0].cov: not positive definite',
    ],
    [
      'asymmetric matrix',
      (s) => {
        s.classes[0].components[0].cov = [
          [1, 0.5],
          [0.4, 1],
        ];
      },
      'classes[0].components[0].cov: not symmetric: cov[0][1] = 0.5 but cov[1][0] = 0.4',
    ],
    [
      'negative diagonal variance',
      (s) => {
        s.classes[0].components[0].cov = [1, -2];
      },
      'classes[0].components[0].cov[1]: must be > 0',
    ],
    [
      'matrix with too few rows',
      (s) => {
        s.classes[0].components[0].cov = [[1, 0]];
      },
      'classes[0].components[0].cov: expected a 2 x 2 matrix',
    ],
    [
      'matrix row too short',
      (s) => {
        s.classes[0].components[0].cov = [[1, 0], [1]];
      },
      'classes[0].components[0].cov[1]: expected a list of 2 numbers',
    ],
    [
      '2-D uniform low >= high',
      (s) => {
        s.classes[1].components[0].high = [0, -1];
      },
      'classes[1].components[0].high[1]: must be > low[1] = -1',
    ],
  ])('rejects a 2-D spec with %s', (_, edit, line) => {
    expect(specError(specWith(edit, example2d)).message).toContain(line);
  });

  it.each<[string, string, unknown, string]>([
    ['ou', 'above T', { kind: 'ou', T: 5 }, '5'],
    ['vp', 'at 1', { kind: 'vp' }, '1'],
    ['ve', 'above sigmaMax', { kind: 've', sigmaMax: 2 }, '3'],
    ['flow', 'at 1', { kind: 'flow' }, '1'],
  ])('rejects tMin too large for %s (%s)', (kind, _, process, tMin) => {
    expectIssue(
      specWith((s) => {
        s.process = process;
        s.solver.tMin = Number(tMin);
      }),
      'solver.tMin',
      `the start time of the ${kind} process`,
    );
  });

  it.each([0, -1e-3])('rejects tMin = %s, which must be > 0', (tMin) => {
    expectIssue(
      specWith((s) => {
        s.solver.tMin = tMin;
      }),
      'solver.tMin',
      'must be > 0',
    );
  });

  it('rejects a default tMin that is not below a tiny ve sigmaMax', () => {
    const spec = specWith((s) => {
      s.process = { kind: 've', sigmaMax: 0.001 };
      delete s.solver.tMin;
    });
    expectIssue(spec, 'solver.tMin', 'must be < 0.001, the start time of the ve process');
  });

  it.each<[string, (s: Raw) => void, string]>([
    [
      'mean',
      (s) => {
        s.classes[0].components[0].mean = [Infinity];
      },
      'classes[0].components[0].mean[0]',
    ],
    [
      'variance',
      (s) => {
        s.classes[0].components[0].cov = NaN;
      },
      'classes[0].components[0].cov',
    ],
    [
      'w',
      (s) => {
        s.guidance.w = -Infinity;
      },
      'guidance.w',
    ],
    [
      'T',
      (s) => {
        s.process.T = Infinity;
      },
      'process.T',
    ],
    [
      'steps',
      (s) => {
        s.solver.steps = Infinity;
      },
      'solver.steps',
    ],
  ])('rejects a non-finite %s', (_, edit, path) => {
    expectIssue(specWith(edit), path, 'must be finite');
  });

  it('rejects 1e400 in JSON text, which parses to Infinity', () => {
    const raw = JSON.parse(JSON.stringify(example()).replace('"T":10', '"T":1e400'));
    expectIssue(raw, 'process.T', 'must be finite');
  });

  it('reports every issue, not just the first', () => {
    const err = specError(
      specWith((s) => {
        s.classes[0].components[0].cov = -1;
        s.classes[1].name = 'pos';
        s.target = 'zero'; // still checked against the names although a class is broken
        s.process.kind = 'cld';
        s.solver.steps = 0;
        s.seed = -5;
      }),
    );
    expect(err.issues.map((i) => i.path)).toEqual([
      'classes[0].components[0].cov',
      'classes[1].name',
      'target',
      'process.kind',
      'solver.steps',
      'seed',
    ]);
    expect(err.message.split('\n')).toHaveLength(6);
    expect(err.message).toMatch(/^classes\[0\]\.components\[0\]\.cov: must be > 0/);
  });
});

describe('parseSpec: the cfgpp variant (CFG++)', () => {
  /** The SPEC.md example as CFG++: euler, no w. */
  const cfgpp = (variant: Raw = { kind: 'cfgpp', lambda: 0.5 }, extra: Raw = {}): Raw =>
    specWith((s) => {
      s.guidance = { kind: 'cfg', variant, ...extra };
      s.solver.kind = 'euler';
    });

  it('accepts lambda without w, normalising w to the constant 0', () => {
    const spec = parseSpec(cfgpp());
    expect(spec.guidance).toEqual({
      kind: 'cfg',
      w: { kind: 'constant', w: 0 },
      negative: { kind: 'unconditional' },
      variant: { kind: 'cfgpp', lambda: 0.5 },
    });
  });

  it('accepts w = 0 (as a number or a constant schedule), a class negative, lambda 0 and lambda > 1', () => {
    for (const w of [0, { kind: 'constant', w: 0 }]) {
      expect(parseSpec(cfgpp(undefined, { w })).guidance).toMatchObject({ w: { kind: 'constant', w: 0 } });
    }
    expect(parseSpec(cfgpp(undefined, { negative: 'neg' })).guidance).toMatchObject({
      negative: { kind: 'class', name: 'neg' },
    });
    expect(parseSpec(cfgpp({ kind: 'cfgpp', lambda: 0 })).guidance).toMatchObject({
      variant: { kind: 'cfgpp', lambda: 0 },
    });
    expect(parseSpec(cfgpp({ kind: 'cfgpp', lambda: 1.5 })).guidance).toMatchObject({
      variant: { kind: 'cfgpp', lambda: 1.5 },
    });
  });

  it.each<[string, Raw, string, string]>([
    ['without lambda', cfgpp({ kind: 'cfgpp' }), 'guidance.variant.lambda', 'missing; expected a number >= 0'],
    ['with a negative lambda', cfgpp({ kind: 'cfgpp', lambda: -0.1 }), 'guidance.variant.lambda', 'must be >= 0'],
    [
      'with an infinite lambda',
      cfgpp({ kind: 'cfgpp', lambda: Infinity }),
      'guidance.variant.lambda',
      'numbers must be finite',
    ],
    [
      'with lambda as a string',
      cfgpp({ kind: 'cfgpp', lambda: '0.5' }),
      'guidance.variant.lambda',
      'expected a number',
    ],
    [
      'with a non-zero w',
      cfgpp(undefined, { w: 3 }),
      'guidance.w',
      'takes its strength from guidance.variant.lambda, not w: omit w or set it to 0, got 3',
    ],
    ['with a non-zero constant schedule', cfgpp(undefined, { w: { kind: 'constant', w: -1 } }), 'guidance.w', 'got -1'],
    [
      'with an interval schedule',
      cfgpp(undefined, { w: { kind: 'interval', w: 0, tLow: 0.1, tHigh: 1 } }),
      'guidance.w',
      'got an interval schedule',
    ],
    [
      'with a piecewise schedule',
      cfgpp(undefined, { w: { kind: 'piecewise', points: [[0, 0]] } }),
      'guidance.w',
      'got a piecewise schedule',
    ],
    ['with a broken w', cfgpp(undefined, { w: 'big' }), 'guidance.w', 'expected a number or a schedule object'],
  ])('rejects cfgpp %s', (_, raw, path, phrase) => {
    expectIssue(raw, path, phrase);
  });

  it.each(['heun', 'rk4', 'em'])('rejects cfgpp with solver.kind %s, at guidance.variant.kind', (kind) => {
    const raw = cfgpp();
    raw.solver.kind = kind;
    expectIssue(
      raw,
      'guidance.variant.kind',
      `cfgpp is a discrete DDIM rule (one update per step, no ODE limit); solver.kind must be "euler", got "${kind}"`,
    );
  });

  it('reports the solver rule, a broken lambda and a non-zero w together', () => {
    const raw = cfgpp({ kind: 'cfgpp', lambda: -1 }, { w: 2 });
    raw.solver.kind = 'rk4';
    const err = specError(raw);
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'guidance.variant.kind',
      'guidance.variant.lambda',
      'guidance.w',
    ]);
  });

  it('leaves the solver rule to cfgpp: other variants run with every solver', () => {
    for (const kind of ['heun', 'rk4', 'em']) {
      expect(() =>
        parseSpec(
          specWith((s) => {
            s.guidance.variant = { kind: 'rescale' };
            s.solver.kind = kind;
          }),
        ),
      ).not.toThrow();
    }
  });
});

describe('loadSpecFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spec-test-'));

  it('loads and validates a file', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(example()));
    expect(loadSpecFile(path).target).toBe('pos');
  });

  it('reports a missing file at (file)', () => {
    const path = join(dir, 'absent.json');
    const err = (() => {
      try {
        loadSpecFile(path);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).message).toBe(`(file): cannot read spec file ${path}: no such file`);
  });

  it('reports a JSON syntax error at (file)', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{ "dim": 1, }');
    expect(() => loadSpecFile(path)).toThrow(/^\(file\): spec file .*bad\.json is not valid JSON/);
  });

  it('reports spec issues of a readable file', () => {
    const path = join(dir, 'invalid.json');
    writeFileSync(path, JSON.stringify({ ...example(), particles: 0 }));
    expect(() => loadSpecFile(path)).toThrow(SpecError);
  });
});

describe('examples/', () => {
  const dir = join(import.meta.dirname, '..', 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('has the expected example files', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'two-gaussians.json',
        'two-uniforms.json',
        'boxes-2d.json',
        'ring-8.json',
        'grid-5x5.json',
        'three-modes-1d.json',
      ]),
    );
  });

  it.each(files)('%s parses', (file) => {
    const spec = loadSpecFile(join(dir, file));
    expect(spec.particles).toBeGreaterThan(0);
    expect(spec.classes.map((c) => c.name)).toContain(spec.target);
  });
});
