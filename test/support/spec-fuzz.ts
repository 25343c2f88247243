// A fuzzer over specs (issue 14 item 5): valid base specs covering every key set, mutated in keys
// (typos, unknown and foreign keys, deletions) and values (wrong types, extreme numbers), then
// parsed in-process. Two outcomes are bugs:
//   crash: parseSpec throws anything but a SpecError;
//   silent acceptance: the mutated spec holds a key outside its object's closed set (found by an
//     independent walk of the spec's structure) and no issue names that key's path.
// Used by test/faults/spec-fuzz.test.ts (a few hundred cases in CI) and scripts/fuzz-specs.ts
// (`npm run fuzz:specs`, 10,000 cases).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { SpecError } from '../../src/experiment/errors.ts';
import { keyPath, SPEC_KEYS, type KeySet } from '../../src/experiment/keys.ts';
import { parseSpec } from '../../src/experiment/parse.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const G = (mean: number[], cov: Json = 1, weight = 1): Obj => ({ kind: 'gaussian', weight, mean, cov });
const two = (extra: Obj): Obj => ({
  dim: 1,
  classes: [
    { name: 'pos', weight: 0.5, components: [G([1])] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'uniform', weight: 1, low: [-2], high: [0] }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  solver: { kind: 'euler', steps: 10, tMin: 0.001, grid: { kind: 'uniform' } },
  particles: 100,
  seed: 1,
  start: 'prior',
  ...extra,
});

/** A hand-made 1-D denoiser model (hidden [2]), as test/fixtures/denoiser-tiny.json holds it. */
export const TINY_DENOISER: Obj = {
  format: 'guidance-sampler/denoiser',
  version: 1,
  dim: 1,
  hidden: [2],
  activation: 'silu',
  sigmaData: 0.8,
  params: [0.5, -0.3, 0.2, 0.1, 0, 0.05, 0.4, -0.6, 0.1],
  training: { note: 'hand-made fixture' },
  data: { group: 'pos' },
};

/** Valid specs that between them use every key of every set (test/faults/spec-fuzz.test.ts checks). */
export function baseSpecs(): Obj[] {
  const examples = join(import.meta.dirname, '../../examples');
  const files = readdirSync(examples)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(examples, f), 'utf8')) as Obj);
  return [
    ...files,
    two({
      guidance: { kind: 'none' },
      process: { kind: 'vp', betaMin: 0.1, betaMax: 20 },
      scoreError: { kind: 'none' },
      corrector: { kind: 'none' },
    }),
    two({
      guidance: { kind: 'classifier', w: { kind: 'constant', w: 2 } },
      process: { kind: 've', sigmaMax: 80 },
      solver: { kind: 'heun', steps: 10, grid: { kind: 'edm', rho: 7 } },
    }),
    two({
      guidance: {
        kind: 'cfg',
        w: { kind: 'interval', w: 2, tLow: 0.1, tHigh: 1, outside: 0 },
        negative: 'neg',
        variant: { kind: 'rescale', phi: 0.7 },
      },
      process: { kind: 'flow' },
    }),
    two({
      guidance: {
        kind: 'cfg',
        w: {
          kind: 'piecewise',
          points: [
            [0.1, 1],
            [1, 2],
          ],
        },
        negative: { components: [G([0], [2])] },
        variant: { kind: 'apg', eta: 0, r: null, beta: 0 },
      },
    }),
    two({
      guidance: { kind: 'cfg', w: 1, variant: { kind: 'powerlaw', alpha: 0.5 } },
      scoreError: { kind: 'bias', value: [0.1], applyTo: 'both' },
    }),
    two({
      guidance: { kind: 'cfg', w: 0, variant: { kind: 'cfgpp', lambda: 0.5 } },
      scoreError: { kind: 'field', amplitude: 0.1, lengthScale: 1, features: 8, seed: 2, applyTo: 'target' },
    }),
    // The k-diffusion samplers' optional fields (docs/solvers.md).
    two({ solver: { kind: 'heun-churn', steps: 10, sChurn: 10, sTmin: 0.05, sTmax: 50, sNoise: 1.003 } }),
    two({ solver: { kind: 'dpmpp-2m-sde', steps: 10, eta: 0.5, sNoise: 1 } }),
    two({ solver: { kind: 'lms', steps: 10, order: 3 } }),
    // Guidance on a window of the schedule.
    two({ guidance: { kind: 'cfg', w: 2, negative: 'neg', variant: { kind: 'linear' }, start: 0.1, stop: 0.8 } }),
    two({ guidance: { kind: 'classifier', w: 2, start: 0, stop: 0.5 } }),
    // The guiders added in round two (docs/guidance-variants.md).
    two({ guidance: { kind: 'cfg', w: 2, variant: { kind: 'cfgzero', zeroInitSteps: 1 } } }),
    two({ guidance: { kind: 'cfg', w: 2, variant: { kind: 'tangential' } } }),
    // Multi-condition guidance (docs/spec.md, "guidance term").
    two({
      guidance: {
        kind: 'cfg',
        w: 1,
        terms: [
          { condition: 'neg', w: 0.5, negative: 'unconditional' },
          { condition: { components: [{ kind: 'gaussian', mean: [0.5], cov: 0.2 }] }, w: { kind: 'constant', w: 0.2 } },
        ],
      },
    }),
    two({
      guidance: { kind: 'cfg', w: 1, variant: { kind: 'linear' } },
      solver: { kind: 'em', steps: 10 },
      corrector: { kind: 'fk', resample: 'systematic', essThreshold: 0.5 },
      scoreError: { kind: 'blur', delta: 0.1, applyTo: 'negative' },
    }),
    // Learned models (docs/learned-denoisers.md): inline, and from a file (relative to the working directory).
    two({ guidance: { kind: 'none', score: { kind: 'learned', model: TINY_DENOISER } } }),
    two({
      guidance: {
        kind: 'cfg',
        w: 2,
        score: { kind: 'learned', model: TINY_DENOISER },
        negative: { kind: 'learned', file: 'test/fixtures/denoiser-tiny.json' },
      },
    }),
    {
      dim: 2,
      classes: [
        {
          name: 'a',
          components: [
            G(
              [0, 0],
              [
                [1, 0.5],
                [0.5, 1],
              ],
            ),
          ],
        },
        { name: 'b', components: [G([1, 1], [1, 2])] },
      ],
      target: 'a',
      process: { kind: 'ou' },
      guidance: { kind: 'cfg', w: 2, negative: 'unconditional' },
      solver: { kind: 'rk4', steps: 5, grid: 'edm' },
    },
  ];
}

/** The key set of each object node, by an independent walk of the spec's structure. */
export function typedObjects(spec: Json): { path: string; object: Obj; set: KeySet }[] {
  const out: { path: string; object: Obj; set: KeySet }[] = [];
  const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
  const add = (path: string, v: Json | undefined, set: string | undefined) => {
    if (isObj(v) && set !== undefined && Object.hasOwn(SPEC_KEYS, set))
      out.push({ path, object: v, set: set as KeySet });
  };
  const kinded = (prefix: string, v: Json | undefined) =>
    isObj(v) && typeof v.kind === 'string' ? `${prefix} ${v.kind}` : undefined;
  const components = (path: string, list: Json | undefined) => {
    if (Array.isArray(list)) {
      list.forEach((c, j) => {
        add(`${path}[${j}]`, c, kinded('component', c));
      });
    }
  };
  if (!isObj(spec)) return out;
  add('', spec, 'spec');
  if (Array.isArray(spec.classes)) {
    spec.classes.forEach((c, i) => {
      add(`classes[${i}]`, c, 'class');
      if (isObj(c)) components(keyPath(`classes[${i}]`, 'components'), c.components);
    });
  }
  add('process', spec.process, kinded('process', spec.process));
  const g = spec.guidance;
  add('guidance', g, kinded('guidance', g));
  const learned = (path: string, v: Json | undefined) => {
    add(path, v, 'learned');
    if (isObj(v)) add(`${path}.model`, v.model, 'denoiser model');
  };
  if (isObj(g) && (g.kind === 'none' || g.kind === 'cfg')) learned('guidance.score', g.score);
  if (isObj(g) && (g.kind === 'cfg' || g.kind === 'classifier')) {
    add('guidance.w', g.w, kinded('schedule', g.w));
    if (g.kind === 'cfg') {
      add('guidance.variant', g.variant, kinded('variant', g.variant));
      if (isObj(g.negative) && g.negative.kind !== undefined) learned('guidance.negative', g.negative);
      else {
        add('guidance.negative', g.negative, 'negative inline');
        if (isObj(g.negative)) components('guidance.negative.components', g.negative.components);
      }
      if (Array.isArray(g.terms)) {
        g.terms.forEach((t, i) => {
          const path = `guidance.terms[${i}]`;
          add(path, t, 'guidance term');
          if (!isObj(t)) return;
          add(`${path}.w`, t.w, kinded('schedule', t.w));
          for (const key of ['condition', 'negative'] as const) {
            add(`${path}.${key}`, t[key], 'negative inline');
            if (isObj(t[key])) components(`${path}.${key}.components`, (t[key] as Obj).components);
          }
        });
      }
    }
  }
  add('solver', spec.solver, 'solver');
  if (isObj(spec.solver)) add('solver.grid', spec.solver.grid, kinded('grid', spec.solver.grid));
  add('scoreError', spec.scoreError, kinded('scoreError', spec.scoreError));
  add('corrector', spec.corrector, kinded('corrector', spec.corrector));
  return out;
}

/** Keys outside their object's closed set, as paths. */
export function unknownKeys(spec: Json): string[] {
  return typedObjects(spec).flatMap(({ path, object, set }) =>
    Object.keys(object)
      .filter((k) => !(SPEC_KEYS[set] as readonly string[]).includes(k))
      .map((k) => keyPath(path, k)),
  );
}

// ---------------------------------------------------------------------------------------
// Mutations

const ALL_KEYS = [...new Set(Object.values(SPEC_KEYS).flat())];
const KINDS = [
  'gaussian',
  'uniform',
  'ou',
  'vp',
  've',
  'flow',
  'none',
  'cfg',
  'classifier',
  'constant',
  'interval',
  'piecewise',
  'linear',
  'rescale',
  'apg',
  'powerlaw',
  'cfgpp',
  'euler',
  'heun',
  'rk4',
  'em',
  'edm',
  'bias',
  'field',
  'blur',
  'fk',
  'systematic',
  'prior',
  'exact',
  'target',
  'negative',
  'both',
  'unconditional',
  'pos',
  'neg',
];

const value: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(
    0,
    -1,
    1,
    0.5,
    1e-300,
    1e300,
    -1e300,
    2 ** 32,
    2 ** 32 - 1,
    2 ** 53,
    1e12,
    -0.0,
    true,
    null,
    '',
    [],
    {},
    [
      [1, 2],
      [2, 1],
    ],
    [1e308, 1e308],
  ),
  fc.constantFrom<Json>(...KINDS),
  fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 3 }),
);

const typo = fc.record({
  op: fc.constantFrom('swap', 'drop', 'double', 'case', 'insert'),
  at: fc.nat(),
  ch: fc.constantFrom('a', 'e', 's', '_', 'x', 'S'),
});

export type Mutation =
  | { op: 'typo-key'; node: number; key: number; typo: { op: string; at: number; ch: string } }
  | { op: 'add-unknown'; node: number; key: string; value: Json }
  | { op: 'add-foreign'; node: number; key: string; value: Json }
  | { op: 'delete'; node: number; key: number }
  | { op: 'set-value'; node: number; key: number; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('typo-key' as const), node: fc.nat(), key: fc.nat(), typo }),
  fc.record({
    op: fc.constant('add-unknown' as const),
    node: fc.nat(),
    key: fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(
        'comment',
        '_note',
        'description',
        '__proto__',
        'constructor',
        'toString',
        'Kind',
        'covariance',
        'weights',
      ),
    ),
    value,
  }),
  fc.record({ op: fc.constant('add-foreign' as const), node: fc.nat(), key: fc.constantFrom(...ALL_KEYS), value }),
  fc.record({ op: fc.constant('delete' as const), node: fc.nat(), key: fc.nat() }),
  fc.record({ op: fc.constant('set-value' as const), node: fc.nat(), key: fc.nat(), value }),
);

export interface FuzzCase {
  base: number;
  mutations: Mutation[];
}

export function fuzzCase(bases: number): fc.Arbitrary<FuzzCase> {
  return fc.record({ base: fc.nat({ max: bases - 1 }), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) });
}

function applyTypo(key: string, t: { op: string; at: number; ch: string }): string {
  const i = key.length === 0 ? 0 : t.at % key.length;
  switch (t.op) {
    case 'swap':
      return i + 1 < key.length ? key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2) : key + t.ch;
    case 'drop':
      return key.length > 1 ? key.slice(0, i) + key.slice(i + 1) : key + t.ch;
    case 'double':
      return key.slice(0, i) + key[i] + key.slice(i);
    case 'case': {
      const c = key[i] ?? 'k';
      const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return flipped === c ? key + t.ch : key.slice(0, i) + flipped + key.slice(i + 1);
    }
    default:
      return key.slice(0, i) + t.ch + key.slice(i);
  }
}

/** Every container (object or list) of the spec, depth first. */
function containers(v: Json, out: (Obj | Json[])[] = []): (Obj | Json[])[] {
  if (typeof v === 'object' && v !== null) {
    out.push(v);
    for (const child of Array.isArray(v) ? v : Object.values(v)) containers(child, out);
  }
  return out;
}

/** An own key, also for names like `__proto__` that plain assignment would not create. */
function setKey(o: Obj, key: string, v: Json): void {
  Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
}

/** A fresh copy: fast-check hands out the same instance of a constant, which must not be shared. */
function fresh(v: Json): Json {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

export function mutate(spec: Json, mutations: Mutation[]): Json {
  let s = structuredClone(spec);
  for (const m of mutations) {
    const nodes = containers(s);
    const node = nodes[m.node % nodes.length];
    if (Array.isArray(node)) {
      if (node.length === 0) continue;
      const i = 'key' in m && typeof m.key === 'number' ? m.key % node.length : 0;
      if (m.op === 'delete') node.splice(i, 1);
      else if (m.op === 'set-value') node[i] = fresh(m.value);
      continue;
    }
    const keys = Object.keys(node);
    if (m.op === 'add-unknown' || m.op === 'add-foreign') setKey(node, m.key, fresh(m.value));
    else if (keys.length > 0) {
      const key = keys[m.key % keys.length];
      if (m.op === 'delete') delete node[key];
      else if (m.op === 'set-value') node[key] = fresh(m.value);
      else {
        const renamed = applyTypo(key, m.typo);
        const v = node[key];
        delete node[key];
        setKey(node, renamed, v);
      }
    }
    s = JSON.parse(JSON.stringify(s)); // as a spec file would arrive
  }
  return s;
}

export type Outcome =
  | { kind: 'accepted' }
  | { kind: 'rejected' }
  | { kind: 'crash'; error: string }
  | { kind: 'silent'; keys: string[] };

/** Parses a mutated spec and judges the outcome. */
export function judge(spec: Json): Outcome {
  const unknown = unknownKeys(spec);
  try {
    parseSpec(spec);
    return unknown.length > 0 ? { kind: 'silent', keys: unknown } : { kind: 'accepted' };
  } catch (e) {
    if (!(e instanceof SpecError)) return { kind: 'crash', error: String((e as Error)?.stack ?? e) };
    const reported = new Set(e.issues.map((i) => i.path));
    const missed = unknown.filter((k) => !reported.has(k));
    return missed.length > 0 ? { kind: 'silent', keys: missed } : { kind: 'rejected' };
  }
}
