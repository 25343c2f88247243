// Shards and their state files (docs/sharding.md). `run --shard i/k` samples particles
// [floor(i N / k), floor((i + 1) N / k)) of the experiment; `--state FILE` writes the run's
// mergeable summary state: one JSON document (versioned) whose binary arrays (moments, sketch
// counts, exact-sum partials) are little-endian base64, with the spec, its hash, the backend,
// the adapter and the range. `merge` (src/cli/merge.ts) reads and checks them here.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError, SpecError } from '../experiment/errors.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import type { SummaryStateData } from '../metrics/summary.ts';
import { SKETCH_MANTISSA_BITS, SKETCH_RELATIVE_ERROR } from '../metrics/sketch.ts';
import { checkOutput, writeFileAtomic } from '../io/output.ts';
import type { BiasTerms } from '../checks/bias.ts';
import type { Measurements } from '../checks/measure.ts';
import type { HistogramCounts } from '../gpu/histogram.ts';
import type { DensityMetricsResult } from '../metrics/density.ts';

export const STATE_FORMAT = 'guidance-sampler-state';
export const STATE_VERSION = 1;

export interface Shard {
  index: number;
  count: number;
}

/** The particles of shard i of k of N: [floor(i N / k), floor((i + 1) N / k)). */
export function shardRange(shard: Shard, particles: number): { first: number; end: number } {
  // Exact in f64 for N k < 2^53 (the parser bounds N), so every shard agrees on its borders.
  return {
    first: Math.floor((shard.index * particles) / shard.count),
    end: Math.floor(((shard.index + 1) * particles) / shard.count),
  };
}

/** Parses "i/k" (0 <= i < k); the particle count is checked against k by the caller. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new InputError(`--shard: expected i/k (e.g. 0/4), got ${text}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1) || !Number.isSafeInteger(count))
    throw new InputError(`--shard: k must be a positive integer, got ${m[2]}`);
  if (!(index < count)) throw new InputError(`--shard: i must be in 0..${count - 1} for k = ${count}, got ${index}`);
  return { index, count };
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Checks a --state path before any work (as --out: src/io/output.ts). */
export function checkStatePath(path: string, inputs: string[], force = false): void {
  const issue = checkOutput(path, { flag: '--state', inputs, force });
  if (issue) throw new SpecError([issue]);
}

/** sha256 of the spec as canonical JSON (keys sorted): the experiment's identity. */
export function specHash(spec: ExperimentSpec): string {
  return 'sha256:' + createHash('sha256').update(canonical(spec)).digest('hex');
}

export interface StateFile {
  format: typeof STATE_FORMAT;
  version: number;
  /** 'run' (a summary state; absent means run) or 'check' (binned measurements for the check's verdicts). */
  kind?: 'run' | 'check';
  specHash: string;
  spec: ExperimentSpec;
  backend: 'cpu' | 'webgpu';
  adapter: string | null;
  /** The experiment's particle count and this state's range [first, end). */
  particles: number;
  range: [number, number];
  shard: Shard | null;
  elapsedSeconds: number;
  sketch: { mantissaBits: number; relativeError: number };
  summary: Omit<SummaryStateData, 'arrays'>;
  arrays: Record<string, { dtype: 'f8' | 'i4'; length: number; base64: string }>;
  /** kind 'check': the target, alpha and bias terms, and the binned measurements (plain JSON numbers). */
  check?: { against: string; alpha: number; bias: BiasTerms };
  measurements?: { histograms: JsonHistogram[]; density: Record<string, number | number[]> };
}

interface JsonHistogram {
  counts: number[];
  underflow: number;
  overflow: number;
  nonFinite: number;
  total: number;
}

const DENSITY_ARRAYS = ['softOccupancy', 'hardOccupancy', 'hdrInside', 'halfSpace', 'projSum1', 'projSum2'] as const;
const DENSITY_COUNTS = ['finite', 'nonFinite', 'inside'] as const;

/** What was run, where, and which particles: the input of every state file's header. */
export interface StateHeaderInput {
  spec: ExperimentSpec;
  backend: 'cpu' | 'webgpu';
  adapter: string | null;
  range: { first: number; end: number };
  shard: Shard | null;
  elapsedSeconds: number;
}

export interface CheckStateInput extends StateHeaderInput {
  against: string;
  alpha: number;
  bias: BiasTerms;
  meas: Measurements;
}

/** The fields every state file starts with: what was run, where, and which particles. */
function stateHeader<K extends 'run' | 'check'>(kind: K, s: StateHeaderInput) {
  return {
    format: STATE_FORMAT as typeof STATE_FORMAT,
    version: STATE_VERSION as typeof STATE_VERSION,
    kind,
    specHash: specHash(s.spec),
    spec: s.spec,
    backend: s.backend,
    adapter: s.adapter,
    particles: s.spec.particles,
    range: [s.range.first, s.range.end] as [number, number],
    shard: s.shard,
    elapsedSeconds: s.elapsedSeconds,
  };
}

/** Writes a check state (the measurements a check's verdicts are computed from) atomically. */
export function writeCheckStateFile(path: string, s: CheckStateInput): Promise<void> {
  const density = s.meas.density;
  const doc = {
    ...stateHeader('check', s),
    check: { against: s.against, alpha: s.alpha, bias: s.bias },
    measurements: {
      histograms: s.meas.histograms.map((h) => ({ ...h, counts: Array.from(h.counts) })),
      density: Object.fromEntries([
        ...DENSITY_COUNTS.map((k) => [k, density[k]]),
        ...DENSITY_ARRAYS.map((k) => [k, Array.from(density[k])]),
      ]),
    },
  };
  return writeFileAtomic(path, JSON.stringify(doc) + '\n');
}

/** The measurements of check states added up (counts exactly; the density sums in f64). */
export function sumMeasurements(
  states: LoadedState[],
  backend: 'cpu' | 'webgpu',
  adapter: string | null,
): Measurements {
  const first = states[0].doc.measurements!;
  const histograms: HistogramCounts[] = first.histograms.map((h) => ({
    counts: new Uint32Array(h.counts.length),
    underflow: 0,
    overflow: 0,
    nonFinite: 0,
    total: 0,
  }));
  const density = Object.fromEntries([
    ...DENSITY_COUNTS.map((k) => [k, 0]),
    ...DENSITY_ARRAYS.map((k) => [k, new Float64Array((first.density[k] as number[]).length)]),
  ]) as unknown as DensityMetricsResult;
  let particles = 0;
  for (const s of states) {
    const m = s.doc.measurements!;
    particles += s.doc.range[1] - s.doc.range[0];
    m.histograms.forEach((h, j) => {
      const into = histograms[j];
      for (let i = 0; i < into.counts.length; i++) into.counts[i] += h.counts[i];
      into.underflow += h.underflow;
      into.overflow += h.overflow;
      into.nonFinite += h.nonFinite;
      into.total += h.total;
    });
    for (const k of DENSITY_COUNTS) (density as unknown as Record<string, number>)[k] += m.density[k] as number;
    for (const k of DENSITY_ARRAYS)
      (m.density[k] as number[]).forEach((v, i) => {
        density[k][i] += v;
      });
  }
  const sampleSeconds = states.reduce((t, s) => t + s.doc.elapsedSeconds, 0);
  return { particles, histograms, density, backend, adapter, sampleSeconds };
}

function checkMeasurements(file: string, doc: StateFile): void {
  const m = doc.measurements;
  const n = doc.range[1] - doc.range[0];
  const bad = (what: string) => new InputError(`${file}: ${what}`);
  if (!m || !Array.isArray(m.histograms) || typeof m.density !== 'object' || m.density === null)
    throw bad('measurements: missing');
  if (
    !doc.check ||
    typeof doc.check.against !== 'string' ||
    typeof doc.check.alpha !== 'number' ||
    typeof doc.check.bias !== 'object'
  )
    throw bad('check: missing');
  for (const k of DENSITY_COUNTS)
    if (!Number.isSafeInteger(m.density[k])) throw bad(`measurements.density.${k}: not a count`);
  for (const k of DENSITY_ARRAYS)
    if (!Array.isArray(m.density[k]) || !(m.density[k] as unknown[]).every((v) => typeof v === 'number'))
      throw bad(`measurements.density.${k}: not an array of numbers`);
  if ((m.density.finite as number) + (m.density.nonFinite as number) !== n)
    throw bad(`measurements.density: counts do not match the range's ${n} particles`);
  m.histograms.forEach((h, j) => {
    if (!h || !Array.isArray(h.counts) || h.total !== n)
      throw bad(`measurements.histograms[${j}]: does not hold the range's ${n} particles`);
  });
}

function encode(a: Float64Array | Int32Array): { dtype: 'f8' | 'i4'; length: number; base64: string } {
  return {
    dtype: a instanceof Float64Array ? 'f8' : 'i4',
    length: a.length,
    // Little-endian hosts only (x86, ARM), as the .npy writer.
    base64: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64'),
  };
}

function decode(
  name: string,
  e: { dtype: string; length: number; base64: string },
  file: string,
): Float64Array | Int32Array {
  if (typeof e !== 'object' || e === null || typeof e.base64 !== 'string' || !Number.isSafeInteger(e.length))
    throw new InputError(`${file}: arrays.${name}: malformed`);
  const bytes = Buffer.from(e.base64, 'base64');
  const size = e.dtype === 'f8' ? 8 : e.dtype === 'i4' ? 4 : 0;
  if (size === 0) throw new InputError(`${file}: arrays.${name}: unknown dtype ${e.dtype}`);
  if (bytes.length !== e.length * size)
    throw new InputError(`${file}: arrays.${name}: ${bytes.length} bytes for ${e.length} x ${e.dtype}`);
  const copy = new Uint8Array(bytes); // aligned
  return e.dtype === 'f8' ? new Float64Array(copy.buffer) : new Int32Array(copy.buffer);
}

export interface StateInput extends StateHeaderInput {
  state: SummaryStateData;
}

export function stateDocument(s: StateInput): StateFile {
  const { arrays, ...summary } = s.state;
  return {
    ...stateHeader('run', s),
    sketch: { mantissaBits: SKETCH_MANTISSA_BITS, relativeError: SKETCH_RELATIVE_ERROR },
    summary,
    arrays: Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, encode(v)])),
  };
}

/** Writes a state file atomically (a temporary renamed into place). */
export function writeStateFile(path: string, s: StateInput): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(stateDocument(s)) + '\n');
}

export interface LoadedState {
  file: string;
  doc: StateFile;
  kind: 'run' | 'check';
  /** The summary state (kind run), null for a check state. */
  data: SummaryStateData | null;
  /** The result's identity for duplicate detection: everything but timing and adapter. */
  content: string;
}

/** Reads and checks one state file; InputError (exit 2) naming the file and the field. */
export function readStateFile(file: string): LoadedState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read (${(err as Error).message})`);
  }
  let doc: StateFile;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InputError(`${file}: not a guidance-sampler state file (not JSON)`);
  }
  if (doc === null || typeof doc !== 'object' || doc.format !== STATE_FORMAT)
    throw new InputError(`${file}: format: not a guidance-sampler state file`);
  if (doc.version !== STATE_VERSION)
    throw new InputError(
      `${file}: version: state format version ${doc.version}; this build reads version ${STATE_VERSION}`,
    );
  if ((doc.kind ?? 'run') === 'run' && doc.sketch?.mantissaBits !== SKETCH_MANTISSA_BITS)
    throw new InputError(
      `${file}: sketch.mantissaBits: ${doc.sketch?.mantissaBits}, this build's sketch has ${SKETCH_MANTISSA_BITS}`,
    );
  if (typeof doc.spec !== 'object' || specHash(doc.spec) !== doc.specHash)
    throw new InputError(`${file}: specHash: does not match the spec it holds (edited or damaged)`);
  const [first, end] = Array.isArray(doc.range) ? doc.range : [NaN, NaN];
  if (
    !(
      Number.isSafeInteger(first) &&
      Number.isSafeInteger(end) &&
      0 <= first &&
      first <= end &&
      end <= doc.particles &&
      doc.particles === doc.spec.particles
    )
  ) {
    throw new InputError(
      `${file}: range: [${doc.range}] is not a range of the experiment's ${doc.particles} particles`,
    );
  }
  const kind = doc.kind ?? 'run';
  if (kind === 'check') {
    checkMeasurements(file, doc);
    return {
      file,
      doc,
      data: null,
      kind,
      content: JSON.stringify([doc.specHash, doc.backend, doc.range, doc.check, doc.measurements]),
    };
  }
  if (kind !== 'run') throw new InputError(`${file}: kind: ${kind} is neither run nor check`);
  const s = doc.summary;
  if (!s || s.dim !== doc.spec.dim || s.finite + s.nonFinite !== end - first) {
    throw new InputError(
      `${file}: summary: counts ${s?.finite} + ${s?.nonFinite} do not match the range's ${end - first} particles`,
    );
  }
  if (typeof doc.arrays !== 'object' || doc.arrays === null) throw new InputError(`${file}: arrays: missing`);
  const arrays = Object.fromEntries(Object.entries(doc.arrays).map(([k, v]) => [k, decode(k, v, file)]));
  return {
    file,
    doc,
    kind,
    data: { ...s, arrays },
    content: JSON.stringify([doc.specHash, doc.backend, doc.range, doc.summary, doc.arrays]),
  };
}
