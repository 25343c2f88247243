// What a run will need, estimated from the spec before any work: host memory for the step
// table, the particles (and a corrector's population), the summary and the --out cast; the
// GPU's largest storage binding for the tables and a resident population; and the work in
// particle-steps, with the time it is expected to take. A run that cannot fit is a bad input
// (exit 2) naming the fields that drive it, instead of dying minutes later in an allocation.
import { freemem, totalmem, availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { SpecError, type SpecIssue } from '../experiment/errors.ts';
import type { ConditionSpec, ExperimentSpec } from '../experiment/types.ts';
import { TABLEAUS } from '../solvers/tableau.ts';
import { fkStateStride } from '../gpu/kernel.ts';
import { STEP_ROW } from '../gpu/layout.ts';
import { structBytes } from '../gpu/layout.ts';
import { sampleCpu } from '../cpu/reference.ts';
import { combinesLinearly } from '../guidance/variants.ts';
import { cpuStreamBlock } from '../cpu/stream.ts';
import { SKETCH_MANTISSA_BITS } from '../metrics/sketch.ts';

/**
 * Host bytes per step-table row: a JS object of 12 numbers in the V8 heap (measured: 243 bytes
 * per row of an rk4 table of 10^6 rows) plus the packed f32 copies the GPU path uploads.
 */
export const TABLE_BYTES_PER_ROW = 400;
/** The most elements of a JS array (the table's rows are one). */
const MAX_JS_ARRAY = 2 ** 32 - 1;
/**
 * The stated rate for a WebGPU time estimate, in component-coordinate evaluations per second:
 * conservative for a software adapter (Mesa lavapipe on this project's 2-core machine measured
 * 2e8 to 4e8, README "Chrome throughput benchmark"); a hardware GPU is much faster.
 */
export const WEBGPU_STATED_RATE = 1e8;
/** Below this many seconds (at an optimistic guess) no estimate is printed. */
const QUIET_SECONDS = 30;

export interface ResourceItem {
  what: string;
  bytes: number;
  /** Spec fields (paths) that drive it. */
  fields: string[];
}

export interface ResourceEstimate {
  rows: number;
  /** Host memory, heap (JS objects) and outside it (typed arrays). */
  heap: ResourceItem[];
  host: ResourceItem[];
  /** One GPU storage binding each (webgpu only). */
  bindings: ResourceItem[];
  /** Particle-steps (particles x steps) and velocity evaluations (x stages). */
  particleSteps: number;
  evaluations: number;
  /** Evaluations x components x dim (x 2 dim for full covariances): the unit of the stated rate. */
  work: number;
}

export interface EstimateOptions {
  backend: 'cpu' | 'webgpu';
  /** The --out dtype, when there is an --out. */
  outDtype?: 'f32' | 'f64';
  /** Extra step tables (check's bias terms run the spec at 2 N steps too). */
  stepsFactor?: number;
}

function componentCount(spec: ExperimentSpec): number {
  let k = spec.classes.reduce((n, c) => n + c.components.length, 0);
  if (spec.guidance.kind === 'cfg' && spec.guidance.negative.kind === 'inline')
    k += spec.guidance.negative.distribution.components.length;
  // Multi-condition guidance walks each term's laws as entries of their own (an upper bound: laws
  // shared between terms are walked once).
  const classComponents = k;
  const lawSize = (c: ConditionSpec): number =>
    c.kind === 'unconditional'
      ? classComponents
      : c.kind === 'class'
        ? (spec.classes.find((x) => x.name === c.name)?.components.length ?? 0)
        : c.distribution.components.length;
  if (spec.guidance.kind === 'cfg')
    for (const t of spec.guidance.terms ?? []) k += lawSize(t.condition) + lawSize(t.negative);
  return k;
}

/**
 * Whether the GPU sampler may take its step-gauss4 path (its condition in src/gpu/sampler.ts,
 * read generously: a wrong "yes" only skips a check the GPU then makes itself).
 */
function mayUseGauss4(spec: ExperimentSpec): boolean {
  const comps = spec.classes.flatMap((c) => c.components);
  if (spec.guidance.kind === 'cfg' && spec.guidance.negative.kind === 'inline')
    comps.push(...spec.guidance.negative.distribution.components);
  const variantOk = spec.guidance.kind !== 'cfg' || combinesLinearly(spec.guidance.variant);
  const errorOk = spec.scoreError.kind === 'none' || spec.scoreError.kind === 'blur';
  // The k-diffusion samplers run on the general kernel only.
  const solverOk = !TABLEAUS[spec.solver.kind].denoised;
  const twoGroups = spec.guidance.kind !== 'cfg' || !spec.guidance.terms;
  return (
    spec.corrector === null &&
    twoGroups &&
    solverOk &&
    variantOk &&
    errorOk &&
    comps.every((c) => c.kind === 'gaussian' && c.cov.kind !== 'full')
  );
}

export function estimateResources(spec: ExperimentSpec, opts: EstimateOptions): ResourceEstimate {
  const { dim, particles } = spec;
  const steps = spec.solver.steps * (opts.stepsFactor ?? 1);
  const stages = TABLEAUS[spec.solver.kind].c.length;
  const rows = steps * stages;
  const coords = particles * dim;
  const fk = spec.corrector !== null;
  const stepFields = ['solver.steps', 'solver.kind'];
  const particleFields = ['particles', 'dim'];
  const heap: ResourceItem[] = [
    {
      what: `the step table (${rows} rows: steps x ${stages} stages)`,
      bytes: rows * TABLE_BYTES_PER_ROW,
      fields: stepFields,
    },
  ];
  const host: ResourceItem[] = [];
  const bindings: ResourceItem[] = [];
  if (opts.backend === 'cpu') {
    if (fk) {
      // A corrected population lives whole: the result, the workers' copies, state and its double buffer.
      host.push({ what: 'the particles (f64: result and copies)', bytes: coords * 8 * 2, fields: particleFields });
      host.push({
        what: 'the corrector population (positions, drifts, log-weights, double-buffered)',
        bytes: (coords * 4 + particles * 6) * 8,
        fields: [...particleFields, 'corrector'],
      });
      if (opts.outDtype === 'f32')
        host.push({ what: 'the --out cast to f32', bytes: coords * 4, fields: [...particleFields, '--dtype'] });
    } else {
      // Streamed (src/cpu/stream.ts): at most 2 blocks per thread in flight, plus their --out cast.
      const inFlight = Math.min(particles, 2 * availableParallelism() * cpuStreamBlock(dim)) * dim;
      host.push({
        what: 'the particle blocks in flight (f64, src/cpu/stream.ts)',
        bytes: inFlight * 8 * 2,
        fields: particleFields,
      });
    }
  } else {
    // The summary is a bounded state (src/metrics/summary.ts); the host holds one chunk's readback at a time.
    if (fk) host.push({ what: 'the corrector population read back (f32)', bytes: coords * 4, fields: particleFields });
    // The general kernel binds the whole table; step-gauss4 (src/gpu/sampler.ts) binds per-dispatch windows.
    if (!mayUseGauss4(spec))
      bindings.push({ what: 'the step rows', bytes: rows * structBytes(STEP_ROW), fields: stepFields });
    if (fk)
      bindings.push({
        what: 'the corrector population (resident on the GPU)',
        bytes: particles * fkStateStride(dim) * 4,
        fields: [...particleFields, 'corrector'],
      });
  }
  // The bounded summary (src/metrics/summary.ts): co-moments (and the chunk's), and the quantile
  // sketch's blocks of 2^M counts per (sign, binade) seen: about 64 per coordinate for Gaussian-like data.
  host.push({
    what: 'the summary state (co-moments, quantile sketch)',
    bytes: dim * dim * 8 * 2 + dim * 64 * 2 ** SKETCH_MANTISSA_BITS * 8,
    fields: ['dim'],
  });
  const k = componentCount(spec);
  const full = spec.classes.some((c) => c.components.some((m) => m.kind === 'gaussian' && m.cov.kind === 'full'));
  const evaluations = particles * rows;
  return {
    rows,
    heap,
    host,
    bindings,
    particleSteps: particles * steps,
    evaluations,
    work: evaluations * k * dim * (full ? 2 * dim : 1),
  };
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toPrecision(3)} GiB` : `${(bytes / 2 ** 20).toPrecision(3)} MiB`;
}

function tooBig(items: ResourceItem[], available: number, where: string): SpecIssue | null {
  const total = items.reduce((s, i) => s + i.bytes, 0);
  if (total <= available) return null;
  const biggest = items.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const fields = [...new Set(items.filter((i) => i.bytes > available / 8).flatMap((i) => i.fields))];
  return {
    path: biggest.fields[0],
    message:
      `the run needs about ${gib(total)} of ${where} but ${gib(available)} is available ` +
      `(${items.map((i) => `${i.what}: ${gib(i.bytes)}`).join('; ')}); reduce ${fields.join(', ')}`,
  };
}

export interface Limits {
  /** The adapter's limits (webgpu). */
  gpu?: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  /** Defaults: os.totalmem(), the V8 heap limit. */
  hostBytes?: number;
  heapBytes?: number;
}

/** Throws a SpecError (exit 2) when the estimate exceeds the host's or the adapter's limits. */
export function checkResources(est: ResourceEstimate, limits: Limits = {}): void {
  const issues: SpecIssue[] = [];
  if (est.rows > MAX_JS_ARRAY) {
    issues.push({
      path: 'solver.steps',
      message: `${est.rows} step-table rows (steps x stages) exceed the ${MAX_JS_ARRAY} a table can hold`,
    });
  }
  const hostBytes = limits.hostBytes ?? totalmem();
  const heapBytes = limits.heapBytes ?? getHeapStatistics().heap_size_limit;
  const heap = tooBig(est.heap, heapBytes, 'JavaScript heap (node --max-old-space-size raises it)');
  if (heap) issues.push(heap);
  const host = tooBig([...est.heap, ...est.host], hostBytes, 'host memory (os.totalmem)');
  if (host && !heap) issues.push(host);
  if (limits.gpu) {
    const binding = Math.min(limits.gpu.maxStorageBufferBindingSize, limits.gpu.maxBufferSize);
    for (const b of est.bindings) {
      const issue = tooBig([b], binding, "this adapter's largest storage binding (maxStorageBufferBindingSize)");
      if (issue) issues.push(issue);
    }
  }
  if (issues.length > 0) throw new SpecError(issues);
}

/** A warning when the run needs more than the host's free memory now (it may swap or be killed). */
export function memoryWarning(est: ResourceEstimate, free = freemem()): string | null {
  const total = [...est.heap, ...est.host].reduce((s, i) => s + i.bytes, 0);
  return total > free
    ? `the run needs about ${gib(total)} of host memory and ${gib(free)} is free now (os.freemem)`
    : null;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds < 2 * 365 * 86400) return `${(seconds / 86400).toFixed(0)} days`;
  return `${(seconds / (365 * 86400)).toPrecision(2)} years`;
}

/**
 * A line for stderr when the run is expected to take long, else null. CPU: the rate is measured
 * on a short probe of this spec (512 particles, up to 16 steps, one thread) and scaled by the
 * threads; WebGPU: the stated conservative rate above. A corrector runs one thread on the CPU and
 * three passes per step on the GPU (counted as 4x the work).
 */
export function timeEstimate(spec: ExperimentSpec, est: ResourceEstimate, backend: 'cpu' | 'webgpu'): string | null {
  const fkFactor = spec.corrector ? 4 : 1;
  // An optimistic first guess: nothing is printed for a run that is short even at 10x the stated rate.
  if ((est.work * fkFactor) / (10 * WEBGPU_STATED_RATE) < QUIET_SECONDS) return null;
  let seconds: number;
  let how: string;
  if (backend === 'webgpu') {
    seconds = (est.work * fkFactor) / WEBGPU_STATED_RATE;
    how = `at a stated conservative rate of ${WEBGPU_STATED_RATE.toExponential(0)} component-coordinate evaluations/s (a software adapter; a hardware GPU is faster)`;
  } else {
    const probeSteps = Math.min(spec.solver.steps, 16);
    const probe: ExperimentSpec = {
      ...spec,
      particles: 512,
      corrector: null,
      solver: { ...spec.solver, steps: probeSteps },
    };
    const t0 = performance.now();
    sampleCpu(probe);
    const rate = (512 * probeSteps) / ((performance.now() - t0) / 1000);
    const threads = spec.corrector ? 1 : availableParallelism();
    seconds = est.particleSteps / (rate * threads);
    how = `at ${rate.toExponential(2)} particle-steps/s per thread measured on a 512-particle probe of this spec, x ${threads} threads`;
  }
  if (seconds < QUIET_SECONDS) return null;
  return `${est.particleSteps.toExponential(2)} particle-steps: expected to take about ${duration(seconds)} (${how})`;
}
