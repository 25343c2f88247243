// Validation of the experiment spec (shared/SPEC.md) into the normalised ExperimentSpec.
//
// Every check appends to an issue list instead of throwing, so one run reports every
// broken rule. Each parse* helper returns undefined when its part is invalid; parseSpec
// throws a SpecError if any issue was found, so the final assembly can assume success.

import { CholeskyDecomposition } from 'ml-matrix';
import { SpecError, type SpecIssue } from './errors.ts';
import { startTime } from '../processes/process.ts';
import { TABLEAUS } from '../solvers/tableau.ts';
import { keyPath, keySet, SPEC_KEYS, unknownKeyMessage, type KeySet } from './keys.ts';
import { type LearnedParseOptions, parseLearned } from './parse-learned.ts';
import {
  COMPONENT_KINDS,
  START_KINDS,
  GRID_KINDS,
  GUIDANCE_KINDS,
  PROCESS_KINDS,
  SCHEDULE_KINDS,
  SOLVER_KINDS,
  type ClassSpec,
  type CorrectorSpec,
  CORRECTOR_KINDS,
  RESAMPLE_KINDS,
  type Component,
  type Covariance,
  type ExperimentSpec,
  type GridSpec,
  type GuidanceSpec,
  type GuidanceVariant,
  type GuidanceWindow,
  type ScoreErrorSpec,
  SCORE_ERROR_KINDS,
  SCORE_ERROR_TARGETS,
  VARIANT_KINDS,
  type NegativeSpec,
  type ProcessSpec,
  type SolverSpec,
  type ChurnSpec,
  type ConditionSpec,
  type GuidanceTerm,
  type WSchedule,
} from './types.ts';

type Obj = Record<string, unknown>;
type Issues = SpecIssue[];

const DEFAULT_PARTICLES = 100000;
const DEFAULT_SEED = 0;
const MAX_U32 = 4294967295;

// ---------------------------------------------------------------------------------------
// Entry points

/**
 * Reads and validates a spec file; a missing file or bad JSON is reported at path `(file)`.
 * `overrides` (the CLI's --particles, --seed) replace the file's values before validation,
 * so they are checked by the same rules.
 */
export function loadSpecFile(path: string, overrides: { particles?: number; seed?: number } = {}): ExperimentSpec {
  let text: string;
  try {
    // node:fs is loaded here, not imported at the top: the browser page imports this module
    // for parseSpec, and a static node:fs import fails there (Vite externalises it).
    text = process.getBuiltinModule('node:fs').readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new SpecError([{ path: '(file)', message: `cannot read spec file ${path}: ${why}` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SpecError([{ path: '(file)', message: `spec file ${path} is not valid JSON: ${(e as Error).message}` }]);
  }
  if (isObject(raw)) {
    if (overrides.particles !== undefined) raw.particles = overrides.particles;
    if (overrides.seed !== undefined) raw.seed = overrides.seed;
  }
  const nodePath = process.getBuiltinModule('node:path');
  return parseSpec(raw, { baseDir: nodePath.dirname(nodePath.resolve(path)) });
}

/**
 * Validates a parsed JSON value; throws SpecError listing every broken rule. `opts.baseDir`: the
 * folder a learned model's `file` is read from (default: the working directory).
 */
export function parseSpec(raw: unknown, opts: LearnedParseOptions = {}): ExperimentSpec {
  const issues: Issues = [];
  if (!isObject(raw)) {
    throw new SpecError([{ path: '(spec)', message: expected('a JSON object', raw) }]);
  }
  closedKeys(issues, raw, '', 'spec');
  const dim = int(issues, raw.dim, 'dim', 1, Number.MAX_SAFE_INTEGER);
  const { classes, names } = parseClasses(issues, raw.classes, dim);
  const target = parseTarget(issues, raw.target, names);
  const process = parseProcess(issues, raw.process);
  const guidance = parseGuidance(issues, raw.guidance, dim, names, opts);
  const solver = parseSolver(issues, raw.solver, process);
  const particles =
    raw.particles === undefined
      ? DEFAULT_PARTICLES
      : int(issues, raw.particles, 'particles', 1, MAX_U32, ' (the particle index is a 32-bit counter)');
  const seed = raw.seed === undefined ? DEFAULT_SEED : int(issues, raw.seed, 'seed', 0, MAX_U32);
  // SPEC.md's start law; admitted and validated here (the sampler's use of it is another change).
  if (raw.start !== undefined) kindOf(issues, raw.start, 'start', ['prior', 'exact']);
  const scoreError = parseScoreError(issues, raw.scoreError, dim);
  const corrector = parseCorrector(issues, raw.corrector, solver, guidance, scoreError);
  checkCfgppSolver(issues, raw);
  checkZeroInit(issues, guidance, solver);
  checkLearned(issues, guidance, process, corrector, scoreError);
  checkTerms(issues, guidance, corrector, scoreError);
  const start = raw.start === undefined ? 'prior' : kindOf(issues, raw.start, 'start', START_KINDS);

  if (issues.length > 0) throw new SpecError(issues);
  return {
    dim: dim!,
    classes: classes!,
    target: target!,
    process: process!,
    guidance: guidance!,
    solver: solver!,
    particles: particles!,
    seed: seed!,
    scoreError: scoreError!,
    corrector: corrector!,
    start: start!,
  };
}

// ---------------------------------------------------------------------------------------
// Data distribution

/**
 * The classes, and their names whenever every class has a valid one (even if some
 * other part of a class is broken), so that `target` and a cfg negative can be checked.
 */
function parseClasses(
  issues: Issues,
  v: unknown,
  dim: number | undefined,
): { classes?: ClassSpec[]; names?: string[] } {
  const list = nonEmptyList(issues, v, 'classes', 'a non-empty list of classes');
  if (!list) return {};
  const out: ClassSpec[] = [];
  const names: string[] = [];
  const firstIndex = new Map<string, number>();
  let ok = true;
  for (const [i, c] of list.entries()) {
    const path = idx('classes', i);
    const o = object(issues, c, path);
    if (!o) {
      ok = false;
      continue;
    }
    closedKeys(issues, o, path, 'class');
    const name = nonEmptyString(issues, o.name, at(path, 'name'));
    if (name !== undefined) {
      names.push(name);
      const first = firstIndex.get(name);
      if (first !== undefined) {
        issues.push({
          path: at(path, 'name'),
          message: `duplicate class name ${JSON.stringify(name)} (also classes[${first}].name)`,
        });
      } else {
        firstIndex.set(name, i);
      }
    }
    const weight = parseWeight(issues, o.weight, at(path, 'weight'));
    const components = parseComponents(issues, o.components, at(path, 'components'), dim);
    if (name === undefined || weight === undefined || components === undefined) ok = false;
    else out.push({ name, weight, components });
  }
  const validNames = names.length === list.length ? [...firstIndex.keys()] : undefined;
  if (!ok) return { names: validNames };
  const weights = normalise(out.map((c) => c.weight));
  return { classes: out.map((c, i) => ({ ...c, weight: weights[i] })), names: validNames };
}

function parseTarget(issues: Issues, v: unknown, names: string[] | undefined): string | undefined {
  const name = nonEmptyString(issues, v, 'target', 'the name of a class');
  // Without a valid class list there is nothing to check the name against.
  if (name === undefined || names === undefined) return name;
  if (!names.includes(name)) {
    issues.push({ path: 'target', message: `unknown class ${JSON.stringify(name)}; classes are ${quoteList(names)}` });
    return undefined;
  }
  return name;
}

function parseComponents(issues: Issues, v: unknown, path: string, dim: number | undefined): Component[] | undefined {
  const list = nonEmptyList(issues, v, path, 'a non-empty list of components');
  if (!list) return undefined;
  const parsed = list.map((c, i) => parseComponent(issues, c, idx(path, i), dim));
  if (parsed.some((c) => c === undefined)) return undefined;
  const comps = parsed as Component[];
  const weights = normalise(comps.map((c) => c.weight));
  return comps.map((c, i) => ({ ...c, weight: weights[i] }));
}

function parseComponent(issues: Issues, v: unknown, path: string, dim: number | undefined): Component | undefined {
  const o = object(issues, v, path);
  if (!o) return undefined;
  const kind = kindOf(issues, o.kind, at(path, 'kind'), COMPONENT_KINDS);
  closedKinded(issues, o, path, 'component', kind);
  const weight = parseWeight(issues, o.weight, at(path, 'weight'));
  if (kind === 'gaussian') {
    const mean = vector(issues, o.mean, at(path, 'mean'), dim);
    const cov = parseCov(issues, o.cov, at(path, 'cov'), dim);
    if (weight === undefined || mean === undefined || cov === undefined) return undefined;
    return { kind, weight, mean, cov };
  }
  if (kind === 'uniform') {
    const low = vector(issues, o.low, at(path, 'low'), dim);
    const high = vector(issues, o.high, at(path, 'high'), dim);
    if (weight === undefined || low === undefined || high === undefined) return undefined;
    let ok = true;
    for (let i = 0; i < Math.min(low.length, high.length); i++) {
      if (!(low[i] < high[i])) {
        issues.push({
          path: idx(at(path, 'high'), i),
          message: `must be > low[${i}] = ${low[i]} (the box is low < x < high), got ${high[i]}`,
        });
        ok = false;
      }
    }
    return ok ? { kind, weight, low, high } : undefined;
  }
  return undefined;
}

function parseCov(issues: Issues, v: unknown, path: string, dim: number | undefined): Covariance | undefined {
  const d = dim ?? 'd';
  const what = `a variance > 0, a list of ${d} variances, or a ${d} x ${d} covariance matrix`;
  if (typeof v === 'number') {
    const variance = numberWhere(issues, v, path, (x) => x > 0, '> 0 (a variance)');
    return variance === undefined ? undefined : { kind: 'isotropic', variance };
  }
  if (!Array.isArray(v)) {
    issues.push({ path, message: expected(what, v) });
    return undefined;
  }
  if (v.length > 0 && v.every(Array.isArray)) return parseCovMatrix(issues, v as unknown[][], path, dim);
  if (v.some(Array.isArray)) {
    issues.push({ path, message: expected(what, v) + ' mixing numbers and lists' });
    return undefined;
  }
  const variances = vector(issues, v, path, dim);
  if (!variances) return undefined;
  let ok = true;
  variances.forEach((x, i) => {
    if (!(x > 0)) {
      issues.push({ path: idx(path, i), message: `must be > 0 (a variance), got ${x}` });
      ok = false;
    }
  });
  return ok ? { kind: 'diagonal', variances } : undefined;
}

function parseCovMatrix(
  issues: Issues,
  rows: unknown[][],
  path: string,
  dim: number | undefined,
): Covariance | undefined {
  const n = dim ?? rows.length;
  if (rows.length !== n) {
    issues.push({ path, message: `expected a ${n} x ${n} matrix (dim = ${n}), got ${rows.length} rows` });
    return undefined;
  }
  const parsed = rows.map((row, i) => vector(issues, row, idx(path, i), n));
  if (parsed.some((r) => r === undefined)) return undefined;
  const a = parsed as number[][];

  // Symmetric up to rounding: a matrix printed from a float computation may differ
  // in the last digits across the diagonal.
  let scale = 0;
  for (const row of a) for (const x of row) scale = Math.max(scale, Math.abs(x));
  const tol = 1e-10 * scale;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (Math.abs(a[i][j] - a[j][i]) > tol) {
        issues.push({
          path,
          message: `not symmetric: cov[${i}][${j}] = ${a[i][j]} but cov[${j}][${i}] = ${a[j][i]}`,
        });
        return undefined;
      }
    }
  }
  // Store the exactly symmetric average, which is also what ml-matrix requires.
  const matrix = a.map((row, i) => row.map((x, j) => (x + a[j][i]) / 2));
  if (!new CholeskyDecomposition(matrix).isPositiveDefinite()) {
    issues.push({ path, message: 'not positive definite' });
    return undefined;
  }
  return { kind: 'full', matrix };
}

// ---------------------------------------------------------------------------------------
// Process, guidance, solver

function parseProcess(issues: Issues, v: unknown): ProcessSpec | undefined {
  const o = object(issues, v, 'process');
  if (!o) return undefined;
  const kind = kindOf(issues, o.kind, 'process.kind', PROCESS_KINDS);
  closedKinded(issues, o, 'process', 'process', kind);
  switch (kind) {
    case 'ou': {
      const T = optNumberWhere(issues, o.T, 'process.T', 10, (x) => x > 0, '> 0');
      return T === undefined ? undefined : { kind, T };
    }
    case 'vp': {
      const betaMin = optNumberWhere(issues, o.betaMin, 'process.betaMin', 0.1, (x) => x >= 0, '>= 0');
      const betaMax = optNumberWhere(issues, o.betaMax, 'process.betaMax', 20, (x) => x > 0, '> 0');
      if (betaMin === undefined || betaMax === undefined) return undefined;
      if (betaMax < betaMin) {
        issues.push({ path: 'process.betaMax', message: `must be >= betaMin = ${betaMin}, got ${betaMax}` });
        return undefined;
      }
      return { kind, betaMin, betaMax };
    }
    case 've': {
      const sigmaMax = optNumberWhere(issues, o.sigmaMax, 'process.sigmaMax', 80, (x) => x > 0, '> 0');
      return sigmaMax === undefined ? undefined : { kind, sigmaMax };
    }
    case 'flow':
      return { kind };
  }
  return undefined;
}

function parseGuidance(
  issues: Issues,
  v: unknown,
  dim: number | undefined,
  names: string[] | undefined,
  opts: LearnedParseOptions,
): GuidanceSpec | undefined {
  if (v === undefined) return { kind: 'none' };
  const o = object(issues, v, 'guidance');
  if (!o) return undefined;
  const kind = kindOf(issues, o.kind, 'guidance.kind', GUIDANCE_KINDS);
  closedKinded(issues, o, 'guidance', 'guidance', kind);
  // A learned model in place of the target's exact score (docs/learned-denoisers.md).
  const score =
    o.score === undefined || kind === 'classifier' ? null : parseLearned(issues, o.score, 'guidance.score', dim, opts);
  // Not returned on a bad score yet: the rest of the guidance is checked too (every issue at once).
  const withScore = <T extends object>(g: T) =>
    score === undefined ? undefined : score === null ? g : { ...g, score };
  switch (kind) {
    case 'none':
      return withScore({ kind });
    case 'cfg': {
      const w = isCfgpp(o) ? parseCfgppW(issues, o.w, 'guidance.w') : parseSchedule(issues, o.w, 'guidance.w');
      const negative = parseNegative(issues, o.negative, 'guidance.negative', dim, names, opts);
      const variant = parseVariant(issues, o.variant, 'guidance.variant');
      const window = parseGuidanceWindow(issues, o);
      if (window && isCfgpp(o)) {
        issues.push({
          path: 'guidance.start',
          message:
            'start/stop are not defined for the cfgpp variant (a DDIM rule whose unguided form is not the conditional model)',
        });
        return undefined;
      }
      const terms = parseTerms(issues, o.terms, dim, names);
      if (
        w === undefined ||
        negative === undefined ||
        variant === undefined ||
        window === undefined ||
        terms === undefined
      )
        return undefined;
      return withScore({
        kind,
        w,
        negative,
        variant,
        ...(window === null ? {} : { window }),
        ...(terms.length === 0 ? {} : { terms }),
      });
    }
    case 'classifier': {
      const w = parseSchedule(issues, o.w, 'guidance.w');
      const window = parseGuidanceWindow(issues, o);
      if (w === undefined || window === undefined) return undefined;
      return window === null ? { kind, w } : { kind, w, window };
    }
  }
  return undefined;
}

/**
 * guidance.start / guidance.stop: fractions of the schedule in [0, 1] with start < stop (diffusers'
 * guidance_start / guidance_stop). null when neither is given (guided throughout).
 */
function parseGuidanceWindow(issues: Issues, o: Obj): GuidanceWindow | null | undefined {
  if (o.start === undefined && o.stop === undefined) return null;
  const start = optNumberWhere(issues, o.start, 'guidance.start', 0, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  const stop = optNumberWhere(issues, o.stop, 'guidance.stop', 1, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  if (start === undefined || stop === undefined) return undefined;
  if (!(start < stop)) {
    issues.push({ path: 'guidance.stop', message: `must be > guidance.start (${start}), got ${stop}` });
    return undefined;
  }
  return { start, stop };
}

/**
 * Whether a raw cfg guidance object asks for the cfgpp variant (judged on the raw kind, so
 * that w and the solver are checked against it even when lambda itself is broken).
 */
function isCfgpp(guidance: Obj): boolean {
  return isObject(guidance.variant) && guidance.variant.kind === 'cfgpp';
}

/**
 * CFG++ takes its strength from variant.lambda; w has no meaning there. It may be omitted or
 * written as 0 (tools that always write a w), and anything else is rejected rather than
 * silently ignored. Normalised to the constant 0.
 */
function parseCfgppW(issues: Issues, v: unknown, path: string): WSchedule | undefined {
  if (v === undefined) return { kind: 'constant', w: 0 };
  const w = parseSchedule(issues, v, path);
  if (w === undefined) return undefined;
  if (w.kind === 'constant' && w.w === 0) return w;
  issues.push({
    path,
    message: `cfgpp (guidance.variant) takes its strength from guidance.variant.lambda, not w: omit w or set it to 0, got ${
      w.kind === 'constant' ? w.w : `${w.kind === 'interval' ? 'an interval' : 'a piecewise'} schedule`
    }`,
  });
  return undefined;
}

function parseVariant(issues: Issues, v: unknown, path: string): GuidanceVariant | undefined {
  if (v === undefined) return { kind: 'linear' };
  const o = object(issues, v, path);
  if (!o) return undefined;
  const kind = kindOf(issues, o.kind, at(path, 'kind'), VARIANT_KINDS);
  closedKinded(issues, o, path, 'variant', kind);
  switch (kind) {
    case 'linear':
      return { kind };
    case 'rescale': {
      const phi = optNumberWhere(issues, o.phi, at(path, 'phi'), 0.7, (x) => x >= 0 && x <= 1, 'in [0, 1]');
      return phi === undefined ? undefined : { kind, phi };
    }
    case 'apg': {
      const eta = optNumberWhere(issues, o.eta, at(path, 'eta'), 0, () => true, 'a number');
      const r =
        o.r === undefined || o.r === null
          ? null
          : numberWhere(issues, o.r, at(path, 'r'), (x) => x > 0, '> 0 (or null: no cap)');
      const beta = optNumberWhere(issues, o.beta, at(path, 'beta'), 0, (x) => x > -1 && x < 1, 'in (-1, 1)');
      if (eta === undefined || r === undefined || beta === undefined) return undefined;
      return { kind, eta, r, beta };
    }
    case 'tangential':
      return { kind };
    case 'cfgzero': {
      const zeroInitSteps = optNumberWhere(
        issues,
        o.zeroInitSteps,
        at(path, 'zeroInitSteps'),
        0,
        (x) => Number.isInteger(x) && x >= 0,
        'an integer >= 0 (steps at the start that do not move x)',
      );
      return zeroInitSteps === undefined ? undefined : { kind, zeroInitSteps };
    }
    case 'powerlaw': {
      const alpha = optNumberWhere(issues, o.alpha, at(path, 'alpha'), 0, () => true, 'a number');
      return alpha === undefined ? undefined : { kind, alpha };
    }
    case 'cfgpp': {
      // Required: it is cfgpp's only strength (w is 0), so no default is silently picked.
      // The paper's range is [0, 1]; lambda > 1 extrapolates x0hat past the conditional one and
      // is allowed for experiments; lambda < 0 (anti-guidance) is rejected.
      const lambdaPath = at(path, 'lambda');
      if (o.lambda === undefined) {
        issues.push({
          path: lambdaPath,
          message: 'missing; expected a number >= 0 (the CFG++ guidance scale, typically in [0, 1]; it replaces w)',
        });
        return undefined;
      }
      const lambda = numberWhere(
        issues,
        o.lambda,
        lambdaPath,
        (x) => x >= 0,
        '>= 0 (the CFG++ guidance scale, typically in [0, 1])',
      );
      return lambda === undefined ? undefined : { kind, lambda };
    }
  }
  return undefined;
}

/**
 * The Feynman-Kac corrector's weights are ratios of the tilted law's densities along the
 * reverse SDE, so it needs em, a guided score that is the gradient of a log-density (a
 * linear combination of the two groups' scores), and score errors that keep it one.
 */
function parseCorrector(
  issues: Issues,
  v: unknown,
  solver: SolverSpec | undefined,
  guidance: GuidanceSpec | undefined,
  scoreError: ScoreErrorSpec | undefined,
): CorrectorSpec | null | undefined {
  if (v === undefined || v === null) return null;
  const path = 'corrector';
  const o = object(issues, v, path);
  if (!o) return undefined;
  const kind = kindOf(issues, o.kind, at(path, 'kind'), CORRECTOR_KINDS);
  closedKinded(issues, o, path, 'corrector', kind);
  if (kind === undefined) return undefined;
  if (kind === 'none') return null;
  const resample =
    o.resample === undefined ? 'systematic' : kindOf(issues, o.resample, at(path, 'resample'), RESAMPLE_KINDS);
  const essThreshold = optNumberWhere(
    issues,
    o.essThreshold,
    at(path, 'essThreshold'),
    0.5,
    (x) => x >= 0 && x <= 1,
    'in [0, 1]',
  );
  let ok = resample !== undefined && essThreshold !== undefined;
  if (solver && solver.kind !== 'em') {
    issues.push({
      path: at(path, 'kind'),
      message: `fk weights the reverse SDE's transitions: solver.kind must be "em", got "${solver.kind}"`,
    });
    ok = false;
  }
  if (guidance?.kind === 'cfg' && guidance.variant.kind !== 'linear') {
    issues.push({
      path: at(path, 'kind'),
      message: `fk targets the tilted law of linear guidance; guidance.variant.kind "${guidance.variant.kind}" has no such law (use "linear")`,
    });
    ok = false;
  }
  if (guidance && guidance.kind !== 'none' && guidance.window) {
    issues.push({
      path: at(path, 'kind'),
      message:
        'fk targets the tilted law of one guidance weight at tMin; guidance.start/stop switch it off on part of the schedule (drop them)',
    });
    ok = false;
  }
  if (scoreError && (scoreError.kind === 'bias' || scoreError.kind === 'field')) {
    issues.push({
      path: at(path, 'kind'),
      message: `fk needs log-densities; scoreError.kind "${scoreError.kind}" is not the gradient of one (use "none" or "blur")`,
    });
    ok = false;
  }
  return ok ? { kind, resample: resample!, essThreshold: essThreshold! } : undefined;
}

function parseScoreError(issues: Issues, v: unknown, dim: number | undefined): ScoreErrorSpec | undefined {
  if (v === undefined) return { kind: 'none' };
  const path = 'scoreError';
  const o = object(issues, v, path);
  if (!o) return undefined;
  const kind = kindOf(issues, o.kind, at(path, 'kind'), SCORE_ERROR_KINDS);
  closedKinded(issues, o, path, 'scoreError', kind);
  if (kind === undefined) return undefined;
  if (kind === 'none') return { kind };
  const applyTo =
    o.applyTo === undefined ? 'target' : kindOf(issues, o.applyTo, at(path, 'applyTo'), SCORE_ERROR_TARGETS);
  switch (kind) {
    case 'bias': {
      const value = vector(issues, o.value, at(path, 'value'), dim);
      return value === undefined || applyTo === undefined ? undefined : { kind, value, applyTo };
    }
    case 'field': {
      const amplitude = numberWhere(issues, o.amplitude, at(path, 'amplitude'), (x) => x >= 0, '>= 0');
      const lengthScale = numberWhere(issues, o.lengthScale, at(path, 'lengthScale'), (x) => x > 0, '> 0');
      const features = o.features === undefined ? 64 : int(issues, o.features, at(path, 'features'), 1, 4096);
      const seed = o.seed === undefined ? 0 : int(issues, o.seed, at(path, 'seed'), 0, MAX_U32);
      if (
        amplitude === undefined ||
        lengthScale === undefined ||
        features === undefined ||
        seed === undefined ||
        applyTo === undefined
      ) {
        return undefined;
      }
      return { kind, amplitude, lengthScale, features, seed, applyTo };
    }
    case 'blur': {
      const delta = numberWhere(issues, o.delta, at(path, 'delta'), (x) => x >= 0, '>= 0');
      return delta === undefined || applyTo === undefined ? undefined : { kind, delta, applyTo };
    }
  }
}

/**
 * guidance.terms (multi-condition guidance): a list of { condition, w, negative }, each adding
 * w(t) (s_condition - s_negative). [] when absent.
 */
function parseTerms(
  issues: Issues,
  v: unknown,
  dim: number | undefined,
  names: string[] | undefined,
): GuidanceTerm[] | undefined {
  if (v === undefined) return [];
  const path = 'guidance.terms';
  if (!Array.isArray(v)) {
    issues.push({ path, message: expected('a list of { "condition", "w", "negative" } terms', v) });
    return undefined;
  }
  const terms = v.map((raw, i): GuidanceTerm | undefined => {
    const p = idx(path, i);
    const o = object(issues, raw, p);
    if (!o) return undefined;
    closedKeys(issues, o, p, 'guidance term');
    if (o.condition === undefined) {
      issues.push({
        path: at(p, 'condition'),
        message: expected('"unconditional", a class name or { "components": [...] }', undefined),
      });
      return undefined;
    }
    const condition = parseCondition(issues, o.condition, at(p, 'condition'), dim, names);
    const w = parseSchedule(issues, o.w, at(p, 'w'));
    const negative = parseCondition(issues, o.negative, at(p, 'negative'), dim, names);
    if (condition === undefined || w === undefined || negative === undefined) return undefined;
    return { condition, w, negative };
  });
  return terms.every((t) => t !== undefined) ? (terms as GuidanceTerm[]) : undefined;
}

/** An exact law: "unconditional" (also when absent), a class name, or an inline { components }. */
function parseCondition(
  issues: Issues,
  v: unknown,
  path: string,
  dim: number | undefined,
  names: string[] | undefined,
): ConditionSpec | undefined {
  if (isObject(v) && v.kind !== undefined) {
    issues.push({
      path,
      message: 'a guidance term takes exact laws only: "unconditional", a class name or { "components": [...] }',
    });
    return undefined;
  }
  return parseNegative(issues, v, path, dim, names) as ConditionSpec | undefined;
}

function parseNegative(
  issues: Issues,
  v: unknown,
  path: string,
  dim: number | undefined,
  names: string[] | undefined,
  opts: LearnedParseOptions = {},
): NegativeSpec | undefined {
  if (v === undefined || v === 'unconditional') return { kind: 'unconditional' };
  // An object with a kind is a learned model; without, an inline distribution.
  if (isObject(v) && v.kind !== undefined) return parseLearned(issues, v, path, dim, opts);
  if (typeof v === 'string') {
    if (names !== undefined && !names.includes(v)) {
      issues.push({
        path,
        message: `unknown class ${JSON.stringify(v)}; expected "unconditional" or one of the classes ${quoteList(names)}`,
      });
      return undefined;
    }
    return { kind: 'class', name: v };
  }
  if (isObject(v)) {
    closedKeys(issues, v, path, 'negative inline');
    const components = parseComponents(issues, v.components, at(path, 'components'), dim);
    return components === undefined ? undefined : { kind: 'inline', distribution: { components } };
  }
  issues.push({
    path,
    message: expected('"unconditional", a class name, { "components": [...] } or { "kind": "learned", ... }', v),
  });
  return undefined;
}

function parseSchedule(issues: Issues, v: unknown, path: string): WSchedule | undefined {
  if (typeof v === 'number') {
    const w = num(issues, v, path);
    return w === undefined ? undefined : { kind: 'constant', w };
  }
  if (!isObject(v)) {
    issues.push({ path, message: expected('a number or a schedule object', v) });
    return undefined;
  }
  const kind = kindOf(issues, v.kind, at(path, 'kind'), SCHEDULE_KINDS);
  closedKinded(issues, v, path, 'schedule', kind);
  switch (kind) {
    case 'constant': {
      const w = num(issues, v.w, at(path, 'w'));
      return w === undefined ? undefined : { kind, w };
    }
    case 'interval': {
      const w = num(issues, v.w, at(path, 'w'));
      const tLow = num(issues, v.tLow, at(path, 'tLow'));
      const tHigh = num(issues, v.tHigh, at(path, 'tHigh'));
      const outside = v.outside === undefined ? 0 : num(issues, v.outside, at(path, 'outside'));
      if (w === undefined || tLow === undefined || tHigh === undefined || outside === undefined) return undefined;
      if (!(tLow < tHigh)) {
        issues.push({ path: at(path, 'tHigh'), message: `must be > tLow = ${tLow}, got ${tHigh}` });
        return undefined;
      }
      return { kind, w, tLow, tHigh, outside };
    }
    case 'piecewise': {
      const pointsPath = at(path, 'points');
      const list = nonEmptyList(issues, v.points, pointsPath, 'a non-empty list of [t, w] pairs');
      if (!list) return undefined;
      const points = list.map((p, i) => vector(issues, p, idx(pointsPath, i), 2, 'a [t, w] pair: a list of 2 numbers'));
      if (points.some((p) => p === undefined)) return undefined;
      const pairs = points as [number, number][];
      for (let i = 1; i < pairs.length; i++) {
        if (pairs[i][0] < pairs[i - 1][0]) {
          issues.push({
            path: idx(pointsPath, i),
            message: `points must be sorted by t: t = ${pairs[i][0]} comes after t = ${pairs[i - 1][0]}`,
          });
          return undefined;
        }
      }
      return { kind, points: pairs };
    }
  }
  return undefined;
}

/**
 * A learned score (guidance.score or a learned negative) needs alpha(t) > 0 at every evaluation
 * (its D(x / alpha; sigma / alpha); not the flow process, alpha(1) = 0), no corrector (no exact
 * log-density of the model), not the cfgpp rule and not the blur score error.
 */
function checkLearned(
  issues: Issues,
  guidance: GuidanceSpec | undefined,
  process: ProcessSpec | undefined,
  corrector: CorrectorSpec | null | undefined,
  scoreError: ScoreErrorSpec | undefined,
): void {
  if (!guidance || guidance.kind === 'classifier') return;
  const where =
    guidance.score !== undefined
      ? 'guidance.score'
      : guidance.kind === 'cfg' && guidance.negative.kind === 'learned'
        ? 'guidance.negative'
        : null;
  if (where === null) return;
  if (process?.kind === 'flow')
    issues.push({
      path: where,
      message: 'a learned model needs alpha(t) > 0: not with the flow process (alpha(1) = 0)',
    });
  if (corrector)
    issues.push({ path: 'corrector', message: 'not with a learned model (the corrector needs exact log-densities)' });
  if (guidance.kind === 'cfg' && guidance.variant.kind === 'cfgpp')
    issues.push({ path: 'guidance.variant', message: 'cfgpp is not defined with a learned model' });
  if (scoreError?.kind === 'blur')
    issues.push({ path: 'scoreError.kind', message: 'blur widens the exact mixture: not with a learned model' });
}

/**
 * Multi-condition guidance (guidance.terms) is a linear combination of exact group scores: with
 * the linear variant only (the others act on one target/negative pair), exact scores (a learned
 * model or a score-error model would have to say which term it replaces), and no corrector (its
 * tilted law is one target/negative pair's).
 */
function checkTerms(
  issues: Issues,
  guidance: GuidanceSpec | undefined,
  corrector: CorrectorSpec | null | undefined,
  scoreError: ScoreErrorSpec | undefined,
): void {
  if (guidance?.kind !== 'cfg' || !guidance.terms) return;
  const path = 'guidance.terms';
  if (guidance.variant.kind !== 'linear')
    issues.push({
      path,
      message: `multi-condition guidance combines scores linearly: guidance.variant.kind must be "linear", got "${guidance.variant.kind}"`,
    });
  if (guidance.score || guidance.negative.kind === 'learned')
    issues.push({
      path,
      message: 'multi-condition guidance takes exact scores: not with a learned guidance.score or negative',
    });
  if (scoreError && scoreError.kind !== 'none')
    issues.push({
      path,
      message: `multi-condition guidance takes exact scores: scoreError.kind must be "none", got "${scoreError.kind}"`,
    });
  if (corrector)
    issues.push({ path, message: 'not with a corrector: fk targets the tilted law of one target/negative pair' });
}

/**
 * CFG++ is defined as one DDIM update per step (src/guidance/variants.ts): it has no ODE limit
 * for a Runge-Kutta or SDE solver to approximate, so only euler, whose one stage is that update,
 * runs it. Judged on the raw kinds, so the rule is reported even when other fields are broken.
 */
function checkCfgppSolver(issues: Issues, raw: Obj): void {
  if (!isObject(raw.guidance) || raw.guidance.kind !== 'cfg' || !isCfgpp(raw.guidance)) return;
  const kind = isObject(raw.solver) ? raw.solver.kind : undefined;
  if (typeof kind !== 'string' || !(SOLVER_KINDS as readonly string[]).includes(kind) || kind === 'euler') return;
  issues.push({
    path: 'guidance.variant.kind',
    message: `cfgpp is a discrete DDIM rule (one update per step, no ODE limit); solver.kind must be "euler", got "${kind}"`,
  });
}

/** CFG-Zero*'s zero-init leaves x where it is for whole steps: fewer than all, on a tableau solver. */
function checkZeroInit(issues: Issues, guidance: GuidanceSpec | undefined, solver: SolverSpec | undefined): void {
  if (guidance?.kind !== 'cfg' || guidance.variant.kind !== 'cfgzero' || !solver) return;
  const k = guidance.variant.zeroInitSteps;
  if (k === 0) return;
  const path = 'guidance.variant.zeroInitSteps';
  if (k >= solver.steps)
    issues.push({ path, message: `must be below solver.steps (${solver.steps}): got ${k}, which never moves x` });
  else if (TABLEAUS[solver.kind].denoised)
    issues.push({
      path,
      message: `zero-init runs on the euler, heun, rk4 and em tableaus; solver.kind "${solver.kind}" carries denoised histories`,
    });
}

function parseSolver(issues: Issues, v: unknown, process: ProcessSpec | undefined): SolverSpec | undefined {
  const o = object(issues, v, 'solver');
  if (!o) return undefined;
  closedKeys(issues, o, 'solver', 'solver');
  let kind = kindOf(issues, o.kind, 'solver.kind', SOLVER_KINDS);
  if (kind === 'em' && process?.kind === 'flow') {
    issues.push({
      path: 'solver.kind',
      message:
        'em cannot start the flow process at t = 1, where the reverse-SDE diffusion g(t)^2 = 2t/(1-t) is infinite; use euler, heun or rk4',
    });
    kind = undefined;
  }
  if ((kind === 'heun-churn' || kind === 'dpm2' || kind === 'lms') && process?.kind === 'flow') {
    issues.push({
      path: 'solver.kind',
      message: `${kind} steps from the noise level sigma/alpha itself, infinite at the flow process's start (alpha = 0); use dpmpp-2m, dpmpp-2m-sde, dpmpp-3m-sde, euler-ancestral, euler, heun or rk4`,
    });
    kind = undefined;
  }
  const steps = int(issues, o.steps, 'solver.steps', 1, Number.MAX_SAFE_INTEGER);
  const tMin = parseTMin(issues, o.tMin, process);
  const grid = parseGrid(issues, o.grid, 'solver.grid', process);
  const params = parseSamplerParams(issues, o, typeof o.kind === 'string' ? o.kind : undefined);
  if (kind === undefined || steps === undefined || tMin === undefined || grid === undefined || params === undefined)
    return undefined;
  const solver: SolverSpec = { kind, steps, tMin, grid };
  if (SAMPLER_PARAM_KINDS.eta.includes(kind)) solver.eta = params.eta;
  if (SAMPLER_PARAM_KINDS.sNoise.includes(kind)) solver.sNoise = params.sNoise;
  if (SAMPLER_PARAM_KINDS.sChurn.includes(kind)) solver.churn = params.churn;
  if (SAMPLER_PARAM_KINDS.order.includes(kind)) solver.order = params.order;
  return solver;
}

/** Which solver kinds take each optional sampler parameter (docs/solvers.md). */
const SAMPLER_PARAM_KINDS: Record<string, readonly string[]> = {
  eta: ['euler-ancestral', 'dpmpp-2m-sde', 'dpmpp-3m-sde'],
  sChurn: ['heun-churn', 'dpm2'],
  sTmin: ['heun-churn', 'dpm2'],
  sTmax: ['heun-churn', 'dpm2'],
  sNoise: ['euler-ancestral', 'heun-churn', 'dpm2', 'dpmpp-2m-sde', 'dpmpp-3m-sde'],
  order: ['lms'],
};

/**
 * The samplers' optional parameters: each only with the kinds that read it (a stray one is an
 * error, never ignored), with k-diffusion's defaults: eta 1; S_churn 0, S_tmin 0, S_tmax
 * unbounded, S_noise 1 (Karras et al. 2022, Algorithm 2); lms order 4.
 */
function parseSamplerParams(
  issues: Issues,
  o: Obj,
  kind: string | undefined,
): { eta: number; sNoise: number; churn: ChurnSpec; order: number } | undefined {
  const before = issues.length;
  for (const [key, kinds] of Object.entries(SAMPLER_PARAM_KINDS)) {
    if (o[key] !== undefined && kind !== undefined && !kinds.includes(kind)) {
      issues.push({
        path: `solver.${key}`,
        message: `only with solver.kind ${kinds.map((k) => JSON.stringify(k)).join(', ')}; got ${JSON.stringify(kind)}`,
      });
    }
  }
  const eta = optNumberWhere(issues, o.eta, 'solver.eta', 1, (x) => x >= 0, '>= 0');
  const sChurn = optNumberWhere(issues, o.sChurn, 'solver.sChurn', 0, (x) => x >= 0, '>= 0');
  const sTmin = optNumberWhere(issues, o.sTmin, 'solver.sTmin', 0, (x) => x >= 0, '>= 0');
  const sTmax = optNumberWhere(issues, o.sTmax, 'solver.sTmax', Infinity, (x) => x > 0, '> 0');
  const sNoise = optNumberWhere(issues, o.sNoise, 'solver.sNoise', 1, (x) => x >= 0, '>= 0');
  const order = o.order === undefined ? 4 : int(issues, o.order, 'solver.order', 1, 4);
  if (sTmin !== undefined && sTmax !== undefined && !(sTmin <= sTmax)) {
    issues.push({ path: 'solver.sTmax', message: `must be >= solver.sTmin (${sTmin}), got ${sTmax}` });
  }
  if (
    issues.length > before ||
    eta === undefined ||
    sChurn === undefined ||
    sTmin === undefined ||
    sTmax === undefined ||
    sNoise === undefined ||
    order === undefined
  ) {
    return undefined;
  }
  return { eta, sNoise, churn: { sChurn, sTmin, sTmax }, order };
}

function parseTMin(issues: Issues, v: unknown, process: ProcessSpec | undefined): number | undefined {
  const tMin = v === undefined ? (process?.kind === 've' ? 0.002 : 1e-3) : num(issues, v, 'solver.tMin');
  if (tMin === undefined) return undefined;
  if (!(tMin > 0)) {
    issues.push({ path: 'solver.tMin', message: `must be > 0, got ${tMin}` });
    return undefined;
  }
  // The upper bound depends on the process; without a valid one it cannot be checked.
  if (process !== undefined) {
    const start = startTime(process);
    if (!(tMin < start)) {
      issues.push({
        path: 'solver.tMin',
        message: `must be < ${start}, the start time of the ${process.kind} process (0 < tMin < start), got ${tMin}`,
      });
      return undefined;
    }
  }
  return tMin;
}

function parseGrid(issues: Issues, v: unknown, path: string, process: ProcessSpec | undefined): GridSpec | undefined {
  if (v === undefined) return process?.kind === 've' ? { kind: 'edm', rho: 7 } : { kind: 'uniform' };
  // A bare string names the grid with its default parameters.
  if (typeof v === 'string') {
    const kind = kindOf(issues, v, path, GRID_KINDS);
    if (kind === 'uniform') return { kind };
    if (kind === 'edm') return { kind, rho: 7 };
    return undefined;
  }
  if (!isObject(v)) {
    issues.push({ path, message: expected(`"uniform" or a grid object with kind ${GRID_KINDS.join(' | ')}`, v) });
    return undefined;
  }
  const kind = kindOf(issues, v.kind, at(path, 'kind'), GRID_KINDS);
  closedKinded(issues, v, path, 'grid', kind);
  if (kind === 'uniform') return { kind };
  if (kind === 'edm') {
    const rho = optNumberWhere(issues, v.rho, at(path, 'rho'), 7, (x) => x > 0, '> 0');
    return rho === undefined ? undefined : { kind, rho };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Generic checks. Each pushes at most one issue and returns undefined on failure.

/** Every key of `o` outside its closed set (src/experiment/keys.ts) is an issue at the key's own path. */
function closedKeys(issues: Issues, o: Obj, path: string, set: KeySet): void {
  const known: readonly string[] = SPEC_KEYS[set];
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) issues.push({ path: keyPath(path, key), message: unknownKeyMessage(key, known) });
  }
}

/** closedKeys for an object whose set depends on its kind; an unknown kind is already an issue. */
function closedKinded(issues: Issues, o: Obj, path: string, object: string, kind: string | undefined): void {
  const set = kind === undefined ? undefined : keySet(object, kind);
  if (set) closedKeys(issues, o, path, set);
}

function at(path: string, key: string): string {
  return `${path}.${key}`;
}

function idx(path: string, i: number): string {
  return `${path}[${i}]`;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of length ${v.length}`;
  if (typeof v === 'string')
    return v.length > 40 ? `a string ${JSON.stringify(v.slice(0, 40))}...` : `a string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function expected(what: string, v: unknown): string {
  return v === undefined ? `missing; expected ${what}` : `expected ${what}, got ${describe(v)}`;
}

function quoteList(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

function object(issues: Issues, v: unknown, path: string): Obj | undefined {
  if (isObject(v)) return v;
  issues.push({ path, message: expected('an object', v) });
  return undefined;
}

function nonEmptyList(issues: Issues, v: unknown, path: string, what: string): unknown[] | undefined {
  if (Array.isArray(v) && v.length > 0) return v;
  issues.push({ path, message: expected(what, v) });
  return undefined;
}

function nonEmptyString(issues: Issues, v: unknown, path: string, what = 'a non-empty string'): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  issues.push({ path, message: expected(what, v) });
  return undefined;
}

function kindOf<K extends string>(issues: Issues, v: unknown, path: string, known: readonly K[]): K | undefined {
  if (typeof v === 'string' && (known as readonly string[]).includes(v)) return v as K;
  const list = known.join(', ');
  issues.push({
    path,
    message:
      typeof v === 'string' ? `unknown kind ${JSON.stringify(v)}; known kinds: ${list}` : expected(`one of ${list}`, v),
  });
  return undefined;
}

/** A finite number. JSON such as 1e400 parses to Infinity, so finiteness is checked here. */
function num(issues: Issues, v: unknown, path: string, what = 'a number'): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  const message = typeof v === 'number' ? `expected ${what}, got ${v} (numbers must be finite)` : expected(what, v);
  issues.push({ path, message });
  return undefined;
}

function numberWhere(
  issues: Issues,
  v: unknown,
  path: string,
  test: (x: number) => boolean,
  rule: string,
): number | undefined {
  const x = num(issues, v, path);
  if (x === undefined) return undefined;
  if (test(x)) return x;
  issues.push({ path, message: `must be ${rule}, got ${x}` });
  return undefined;
}

function optNumberWhere(
  issues: Issues,
  v: unknown,
  path: string,
  fallback: number,
  test: (x: number) => boolean,
  rule: string,
): number | undefined {
  return v === undefined ? fallback : numberWhere(issues, v, path, test, rule);
}

function int(issues: Issues, v: unknown, path: string, min: number, max: number, why = ''): number | undefined {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
  const x = num(issues, v, path, `an integer ${range}`);
  if (x === undefined) return undefined;
  if (!Number.isInteger(x)) {
    issues.push({ path, message: `expected an integer ${range}, got ${x}` });
    return undefined;
  }
  if (x < min || x > max) {
    issues.push({ path, message: `must be ${range}${why}, got ${x}` });
    return undefined;
  }
  return x;
}

/** Class and component weights: > 0, 1 when absent. */
function parseWeight(issues: Issues, v: unknown, path: string): number | undefined {
  return optNumberWhere(issues, v, path, 1, (x) => x > 0, '> 0');
}

/** A list of `n` finite numbers (any length when n is unknown because `dim` was invalid). */
function vector(
  issues: Issues,
  v: unknown,
  path: string,
  n: number | undefined,
  what = `a list of ${n ?? 'dim'} numbers`,
): number[] | undefined {
  if (!Array.isArray(v)) {
    issues.push({ path, message: expected(what, v) });
    return undefined;
  }
  if (n !== undefined && v.length !== n) {
    issues.push({ path, message: `expected ${what}, got ${describe(v)}` });
    return undefined;
  }
  const xs = v.map((x, i) => num(issues, x, idx(path, i)));
  return xs.some((x) => x === undefined) ? undefined : (xs as number[]);
}

/** Scales weights to sum to 1. */
function normalise(weights: number[]): number[] {
  const sum = (ws: number[]) => ws.reduce((a, b) => a + b, 0);
  if (Number.isFinite(sum(weights))) return weights.map((w) => w / sum(weights));
  // Huge weights (1e308 + 1e308) overflow the sum: scale by the largest first.
  const max = Math.max(...weights);
  const scaled = weights.map((w) => w / max);
  return scaled.map((w) => w / sum(scaled));
}
