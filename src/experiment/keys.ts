// The closed key sets of the spec: every field each object may have, by object and kind.
// The parser (parse.ts) rejects any other key, so a typo never runs a different experiment;
// docs/spec.md has one section per set, titled by its name here, and test/spec-docs.test.ts
// checks that the document and these sets agree in both directions.
import { closest, distance } from 'fastest-levenshtein';

export const SPEC_KEYS = {
  spec: [
    'dim',
    'classes',
    'target',
    'process',
    'guidance',
    'solver',
    'particles',
    'seed',
    'start',
    'scoreError',
    'corrector',
  ],
  class: ['name', 'weight', 'components'],
  'component gaussian': ['kind', 'weight', 'mean', 'cov'],
  'component uniform': ['kind', 'weight', 'low', 'high'],
  'process ou': ['kind', 'T'],
  'process vp': ['kind', 'betaMin', 'betaMax'],
  'process ve': ['kind', 'sigmaMax'],
  'process flow': ['kind'],
  'guidance none': ['kind', 'score'],
  'guidance cfg': ['kind', 'w', 'negative', 'variant', 'start', 'stop', 'score', 'terms'],
  'guidance term': ['condition', 'w', 'negative'],
  'guidance classifier': ['kind', 'w', 'start', 'stop'],
  'negative inline': ['components'],
  learned: ['kind', 'file', 'model'],
  'denoiser model': ['format', 'version', 'dim', 'hidden', 'activation', 'sigmaData', 'params', 'training', 'data'],
  'schedule constant': ['kind', 'w'],
  'schedule interval': ['kind', 'w', 'tLow', 'tHigh', 'outside'],
  'schedule piecewise': ['kind', 'points'],
  'variant linear': ['kind'],
  'variant rescale': ['kind', 'phi'],
  'variant apg': ['kind', 'eta', 'r', 'beta'],
  'variant powerlaw': ['kind', 'alpha'],
  'variant cfgpp': ['kind', 'lambda'],
  'variant cfgzero': ['kind', 'zeroInitSteps'],
  'variant tangential': ['kind'],
  solver: ['kind', 'steps', 'tMin', 'grid', 'eta', 'sChurn', 'sTmin', 'sTmax', 'sNoise', 'order'],
  'grid uniform': ['kind'],
  'grid edm': ['kind', 'rho'],
  'scoreError none': ['kind'],
  'scoreError bias': ['kind', 'value', 'applyTo'],
  'scoreError field': ['kind', 'amplitude', 'lengthScale', 'features', 'seed', 'applyTo'],
  'scoreError blur': ['kind', 'delta', 'applyTo'],
  'corrector none': ['kind'],
  'corrector fk': ['kind', 'resample', 'essThreshold'],
} as const satisfies Record<string, readonly string[]>;

export type KeySet = keyof typeof SPEC_KEYS;

/** The key set of an object with a `kind`, e.g. keySet('process', 'ou'); undefined for an unknown kind. */
export function keySet(object: string, kind: string): KeySet | undefined {
  const name = `${object} ${kind}`;
  return Object.hasOwn(SPEC_KEYS, name) ? (name as KeySet) : undefined;
}

/** A path segment for a key: `.key` when it is an identifier, else `["key"]`. */
export function keyPath(path: string, key: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

/**
 * The message for an unknown key: the known keys, and a "did you mean" for a near miss: edit
 * distance at most 2 (a swap of two letters is 2), compared without case so `tmin` finds `tMin`,
 * and less than the shorter key's length (so `x` does not "mean" `T`).
 */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase();
  const best = closest(
    lower,
    known.map((k) => k.toLowerCase()),
  );
  const d = distance(lower, best);
  const near = d <= 2 && d < Math.min(key.length, best.length);
  const suggestion = near ? ` (did you mean ${JSON.stringify(known.find((k) => k.toLowerCase() === best))}?)` : '';
  return `unknown field${suggestion}; known fields here: ${known.join(', ')}`;
}
