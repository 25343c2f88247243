// Validation of a learned score source (beyond SPEC.md v1; docs/learned-denoisers.md):
//   { "kind": "learned", "file": "model.json" }   or   { "kind": "learned", "model": { ... } }
// as `guidance.score` (replaces the target's exact score) or `guidance.negative` (cfg only). The
// model object is a denoiser model file (src/model/denoiser/denoiser.ts), checked here field by
// field against its closed key set 'denoiser model', errors at the field's path (inside a file:
// under the `file` field's path). A `file` is read relative to `baseDir` (loadSpecFile: the spec
// file's folder; otherwise the working directory), in Node only.
import type { SpecIssue } from './errors.ts';
import { keyPath, SPEC_KEYS, unknownKeyMessage, type KeySet } from './keys.ts';
import type { LearnedScoreSpec } from './types.ts';
import {
  DENOISER_FORMAT,
  DENOISER_VERSION,
  denoiserParamCount,
  type DenoiserFile,
} from '../model/denoiser/denoiser.ts';

type Obj = Record<string, unknown>;

export interface LearnedParseOptions {
  /** Folder that relative `file` paths are read from (default: the working directory). */
  baseDir?: string;
}

/** Hidden layers at most, and units per layer at most (the GPU kernel keeps activations in registers). */
export const MAX_HIDDEN_LAYERS = 8;
export const MAX_HIDDEN_UNITS = 256;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function closedKeys(issues: SpecIssue[], o: Obj, path: string, set: KeySet): void {
  const known: readonly string[] = SPEC_KEYS[set];
  for (const key of Object.keys(o))
    if (!known.includes(key)) issues.push({ path: keyPath(path, key), message: unknownKeyMessage(key, known) });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of length ${v.length}`;
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return typeof v === 'object' ? 'an object' : String(v);
}

const expected = (what: string, v: unknown) =>
  v === undefined ? `missing; expected ${what}` : `expected ${what}, got ${describe(v)}`;

/** Parses `{ kind: "learned", file | model }` at `path`; undefined (with issues) when invalid. */
export function parseLearned(
  issues: SpecIssue[],
  v: unknown,
  path: string,
  dim: number | undefined,
  opts: LearnedParseOptions = {},
): LearnedScoreSpec | undefined {
  if (!isObject(v)) {
    issues.push({ path, message: expected('a learned model { "kind": "learned", "file" | "model" }', v) });
    return undefined;
  }
  // Unknown keys are reported whatever else is wrong (the object has only the one kind), the
  // inline model's too.
  closedKeys(issues, v, path, 'learned');
  if (isObject(v.model)) closedKeys(issues, v.model, keyPath(path, 'model'), 'denoiser model');
  if (v.kind !== 'learned') {
    const message =
      typeof v.kind === 'string'
        ? `unknown kind ${JSON.stringify(v.kind)}; known kinds: learned`
        : expected('"learned"', v.kind);
    issues.push({ path: keyPath(path, 'kind'), message });
    return undefined;
  }
  const hasFile = v.file !== undefined;
  const hasModel = v.model !== undefined;
  if (hasFile === hasModel) {
    issues.push({ path, message: 'give exactly one of "file" (a model file) and "model" (the model inline)' });
    return undefined;
  }
  if (hasModel) {
    const model = parseDenoiserModel(issues, v.model, keyPath(path, 'model'), dim, false);
    return model && { kind: 'learned', file: null, model };
  }
  const filePath = keyPath(path, 'file');
  if (typeof v.file !== 'string' || v.file.length === 0) {
    issues.push({ path: filePath, message: expected('a non-empty string (a model file path)', v.file) });
    return undefined;
  }
  const raw = readModelFile(issues, v.file, filePath, opts.baseDir);
  if (raw === undefined) return undefined;
  const model = parseDenoiserModel(issues, raw, filePath, dim);
  return model && { kind: 'learned', file: v.file, model };
}

function readModelFile(issues: SpecIssue[], file: string, path: string, baseDir: string | undefined): unknown {
  const proc = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process;
  if (!proc?.getBuiltinModule) {
    issues.push({ path, message: 'model files can be read in Node only; inline the model under "model"' });
    return undefined;
  }
  const fs = proc.getBuiltinModule('node:fs') as typeof import('node:fs');
  const nodePath = proc.getBuiltinModule('node:path') as typeof import('node:path');
  const full = nodePath.resolve(baseDir ?? '.', file);
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    issues.push({
      path,
      message: `cannot read model file ${full}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    });
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    issues.push({ path, message: `model file ${full} is not valid JSON: ${(e as Error).message}` });
    return undefined;
  }
}

function positiveInts(issues: SpecIssue[], v: unknown, path: string, max: number): number[] | undefined {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_HIDDEN_LAYERS) {
    issues.push({ path, message: expected(`a list of 1 to ${MAX_HIDDEN_LAYERS} layer widths`, v) });
    return undefined;
  }
  let ok = true;
  v.forEach((h, i) => {
    if (!(typeof h === 'number' && Number.isInteger(h) && h >= 1 && h <= max)) {
      issues.push({ path: `${path}[${i}]`, message: `expected an integer in [1, ${max}], got ${describe(h)}` });
      ok = false;
    }
  });
  return ok ? (v as number[]) : undefined;
}

/** A denoiser model object (the model file's content), against the spec's dim. */
export function parseDenoiserModel(
  issues: SpecIssue[],
  v: unknown,
  path: string,
  dim: number | undefined,
  checkKeys = true,
): DenoiserFile | undefined {
  if (!isObject(v)) {
    issues.push({ path, message: expected('a denoiser model object', v) });
    return undefined;
  }
  const before = issues.length;
  if (checkKeys) closedKeys(issues, v, path, 'denoiser model');
  else if (Object.keys(v).some((k) => !(SPEC_KEYS['denoiser model'] as readonly string[]).includes(k)))
    return undefined; // already reported by the caller
  const at = (k: string) => keyPath(path, k);
  if (v.format !== DENOISER_FORMAT)
    issues.push({ path: at('format'), message: expected(JSON.stringify(DENOISER_FORMAT), v.format) });
  if (v.version !== DENOISER_VERSION)
    issues.push({ path: at('version'), message: expected(`${DENOISER_VERSION}`, v.version) });
  if (v.activation !== 'silu') issues.push({ path: at('activation'), message: expected('"silu"', v.activation) });
  const d = v.dim;
  if (!(typeof d === 'number' && Number.isInteger(d) && d >= 1))
    issues.push({ path: at('dim'), message: expected('an integer >= 1', d) });
  else if (dim !== undefined && d !== dim)
    issues.push({ path: at('dim'), message: `the model is for dim ${d}, the spec has dim ${dim}` });
  const sd = v.sigmaData;
  if (!(typeof sd === 'number' && Number.isFinite(sd) && sd > 0))
    issues.push({ path: at('sigmaData'), message: expected('a finite number > 0', sd) });
  const hidden = positiveInts(issues, v.hidden, at('hidden'), MAX_HIDDEN_UNITS);
  if (!Array.isArray(v.params)) issues.push({ path: at('params'), message: expected('a list of numbers', v.params) });
  else {
    const bad = v.params.findIndex((p) => !(typeof p === 'number' && Number.isFinite(p)));
    if (bad >= 0) issues.push({ path: `${at('params')}[${bad}]`, message: expected('a finite number', v.params[bad]) });
    else if (hidden && typeof d === 'number' && Number.isInteger(d) && d >= 1) {
      const n = denoiserParamCount(d, hidden);
      if (v.params.length !== n)
        issues.push({
          path: at('params'),
          message: `expected ${n} numbers for dim ${d} and hidden [${hidden.join(', ')}], got ${v.params.length}`,
        });
    }
  }
  if (issues.length > before) return undefined;
  return v as unknown as DenoiserFile;
}
