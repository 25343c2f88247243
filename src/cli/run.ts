// `guidance-sampler run`: validate the spec, sample on a backend, print the summary,
// optionally write the particles. Every check that can fail on the user's input
// happens before any work starts and before any file is opened.
import cliProgress from 'cli-progress';
import { SpecError } from '../experiment/errors.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { cpuBackend } from '../cpu/backend.ts';
import { hasLearnedScore, prepareExperiment } from '../experiment/plan.ts';
import { shardRange, writeStateFile, type Shard } from './state.ts';
import { boundedSupport, SummaryAccumulator, type LogDensitySummary, type Summary } from '../metrics/summary.ts';
import { writeNpyAtomic, type NpyDtype } from '../io/npy.ts';
import { checkOutput } from '../io/output.ts';
import { checkResources, estimateResources, memoryWarning, timeEstimate } from './resources.ts';
import { cpuLogDensityBackend } from '../cpu/log-density.ts';
import { carryLogDetCpu, LOG_DET_MAX_DIM } from '../cpu/log-det.ts';
import { webGpuLogDensityBackend } from '../checks/log-density-webgpu.ts';
import { logDensityUnsupported } from '../model/divergence.ts';
import { targetLogDensityAtTMin } from '../checks/exact-density.ts';
import { acquireGpu, type GpuContext } from '../gpu/device.ts';
import { GAUSS4_VARIANTS } from '../gpu/variants.ts';
import { webGpuBackend } from '../gpu/backend.ts';
import { nodePlatform } from '../platform/node.ts';
import type { FkReport } from '../corrector/fk.ts';

export interface RunOptions {
  /** auto: WebGPU when an adapter is available, else the CPU reference (with a notice on stderr). */
  backend: 'auto' | 'cpu' | 'webgpu';
  particles?: number;
  seed?: number;
  out?: string;
  dtype: 'f32' | 'f64';
  /** A device to use (tests inject faults into it); runSpec destroys it when done. */
  gpu?: GpuContext;
  /**
   * Also write OUT.logq.npy (log q of each particle under the sampler's own law, by the
   * change of variables along its path) and OUT.logp.npy (log p_tMin(x | target)), f64, N
   * entries. CPU f64 (src/cpu/log-density.ts) or the webgpu kernel's log-density mode.
   */
  logDensity?: boolean;
  /** Sample only shard i of k: particles [floor(i N / k), floor((i + 1) N / k)) (src/cli/state.ts). */
  shard?: Shard;
  /**
   * The fast kernel's variant (src/gpu/variants.ts): a name, or 'auto' (tuned and cached). Default:
   * auto, except with a shard, where it is the default variant unless the platform pins one
   * ($GUIDANCE_SAMPLER_KERNEL_VARIANT): variants agree to f32 rounding, not always bit for bit
   * (a driver may contract a multiply-add in one layout and not another), and shards tuned on
   * different machines must still compute alike for the union to equal the single run.
   */
  kernelVariant?: string;
  /** Write the mergeable summary state here (docs/sharding.md). */
  state?: string;
  /**
   * With logDensity: OUT.logq.npy is the law of the discrete solver map itself, by the exact
   * log-determinant of each step's Jacobian (src/cpu/log-det.ts; CPU f64, dim <= 8), and
   * OUT.logq-flow.npy the continuous change of variables; the report gains their gap.
   */
  logDet?: boolean;
}

/** X.npy -> X.logq.npy / X.logp.npy / X.logq-flow.npy. */
export function sidecarPath(out: string, what: 'logq' | 'logp' | 'logq-flow'): string {
  return out.replace(/\.npy$/, `.${what}.npy`);
}

export interface RunReport extends Summary {
  backend: string;
  adapter: string | null;
  elapsedSeconds: number;
  spec: { target: string; process: string; guidance: string; solver: string; steps: number; seed: number };
  /** With --shard: which shard, and its particles [first, end) of the experiment. */
  shard?: { index: number; count: number; first: number; end: number };
  /** With --log-density: means of log q, log p and their difference (a KL(q || p) estimate) with its standard error. */
  logDensity?: LogDensitySummary;
  /** With --state: the state file written. */
  state?: string;
  /** merge: the state files merged, in range order. */
  merged?: { files: string[]; ranges: [number, number][] };
  /** The Feynman-Kac corrector's diagnostics (only with a corrector). */
  corrector?: CorrectorSummary;
  /** With --out: the file, its dtype, and the particles non-finite as written (after the cast). */
  out?: { path: string; dtype: 'f32' | 'f64'; nonFinite: number };
  /**
   * Whether a statistic overflowed f64 (from finite particles): such a value is written as the
   * string "Infinity", "-Infinity" or "NaN" (never JSON null) and named in overflowFields, and
   * the command exits 1. Statistics undefined for too few finite particles (the mean of none,
   * the covariance of one) are written as "NaN" and are not overflow.
   */
  overflow: boolean;
  overflowFields: string[];
  /** webgpu: the step kernel that ran and, for the fast kernel, its variant and why (tuned, cached, forced). */
  kernel?: { name: string; variant?: string; why?: string };
  /** With --log-det: |log q_map - log q_flow| over the particles (the solver's density error), and the mean signed gap. */
  logDet?: { meanGap: number; maxGap: number; meanSignedGap: number };
}

export interface CorrectorSummary {
  kind: 'fk';
  essThreshold: number;
  /** Resampling events, the last one after the final step. */
  resamples: number;
  /** Smallest and final ESS / N (before resampling). */
  essFractionMin: number;
  essFractionFinal: number;
  /** Estimate of log int p(x|c)^(1+w) p(x|neg)^(-w) dx at tMin. */
  logNormaliser: number;
  /** Particles whose weight was non-finite at a resampling (they left no copies). */
  nonFiniteDiscarded: number;
}

function correctorSummary(spec: ExperimentSpec, fk: FkReport): CorrectorSummary {
  return {
    kind: 'fk',
    essThreshold: spec.corrector!.essThreshold,
    resamples: fk.resampledAfter.length,
    essFractionMin: Math.min(...fk.essFraction),
    essFractionFinal: fk.essFraction[fk.essFraction.length - 1],
    logNormaliser: fk.logNormaliser,
    nonFiniteDiscarded: fk.nonFiniteDiscarded,
  };
}

/**
 * Checks an --out path before any work: a .npy name in an existing folder, not a folder, not the
 * spec itself, and not write-protected unless `force` (src/io/output.ts).
 */
export function checkOutPath(out: string, inputs: string[] = [], force = false): void {
  if (!out.endsWith('.npy'))
    throw new SpecError([{ path: '--out', message: `expected a file name ending in .npy, got ${out}` }]);
  const issue = checkOutput(out, { flag: '--out', inputs, force });
  if (issue) throw new SpecError([issue]);
}

/**
 * Statistics as JSON-safe values: a non-finite number becomes its string ("Infinity", "NaN"),
 * which float() and Number() read back, and is listed unless it is undefined by the count.
 */
function finiteStatistics(summary: Summary): { summary: Summary; overflowFields: string[] } {
  const finite = summary.particles - summary.nonFinite;
  const fields: string[] = [];
  const safe = (v: number, path: string, definedFrom: number): number => {
    if (Number.isFinite(v)) return v;
    if (finite >= definedFrom) fields.push(path);
    return String(v) as unknown as number;
  };
  return {
    summary: {
      ...summary,
      mean: summary.mean.map((v, i) => safe(v, `mean[${i}]`, 1)),
      covariance: summary.covariance.map((row, i) => row.map((v, j) => safe(v, `covariance[${i}][${j}]`, 2))),
      quantiles: {
        p: summary.quantiles.p,
        values: summary.quantiles.values.map((row, i) => row.map((v, q) => safe(v, `quantiles.values[${i}][${q}]`, 1))),
      },
    },
    overflowFields: fields,
  };
}

function progressBar(label: string): { update(done: number, total: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} particles | eta {eta}s`,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Particles per log-density carry call (bounded memory: x, log q and log p of one block). */
export const LOG_DENSITY_BLOCK = 1 << 16;

export async function runSpec(spec: ExperimentSpec, opts: RunOptions): Promise<RunReport> {
  const started = performance.now();
  let backend: 'cpu' | 'webgpu' = opts.gpu ? 'webgpu' : opts.backend === 'auto' ? 'webgpu' : opts.backend;
  let gpu: GpuContext | null = opts.gpu ?? null;
  if (opts.logDensity) {
    const refusal = logDensityUnsupported(spec);
    if (refusal) throw new SpecError([refusal]);
    if (!opts.out)
      throw new SpecError([
        { path: '--log-density', message: 'needs --out (the log-densities are written next to it)' },
      ]);
  }
  // A learned model's divergence (its network's Jacobian trace) is computed by the CPU reference.
  const learned = hasLearnedScore(spec);
  if (opts.logDensity && learned && opts.backend === 'webgpu')
    throw new SpecError([
      {
        path: '--log-density',
        message:
          "with a learned model the log-density runs on the CPU reference (the kernel does not carry the network's Jacobian): use --backend cpu or auto",
      },
    ]);
  if (opts.logDet) {
    if (!opts.logDensity)
      throw new SpecError([
        { path: '--log-det', message: 'needs --log-density (it replaces how OUT.logq.npy is computed)' },
      ]);
    if (spec.dim > LOG_DET_MAX_DIM)
      throw new SpecError([
        { path: 'dim', message: `--log-det is for dim <= ${LOG_DET_MAX_DIM} (d^3 work per stage), got ${spec.dim}` },
      ]);
    if (backend === 'webgpu' && !opts.gpu) {
      if (opts.backend === 'webgpu')
        process.stderr.write('guidance-sampler: --log-det runs on the CPU reference (f64)\n');
      backend = 'cpu';
    }
  }
  // A corrector resamples the whole population at every step: a slice of it is not a slice of
  // the single run, so shards (and the state files that merge them) cannot be exact.
  if (spec.corrector && (opts.shard || opts.state)) {
    throw new SpecError([
      {
        path: opts.shard ? '--shard' : '--state',
        message:
          'a Feynman-Kac corrector (spec.corrector) resamples the whole population: it cannot be split into shards or merged; run it whole, without --shard/--state',
      },
    ]);
  }
  if (opts.shard && opts.shard.count > spec.particles) {
    throw new SpecError([
      {
        path: '--shard',
        message: `k = ${opts.shard.count} shards of ${spec.particles} particles would leave some empty; use k <= particles`,
      },
    ]);
  }
  const { first, end } = opts.shard ? shardRange(opts.shard, spec.particles) : { first: 0, end: spec.particles };
  const count = end - first;
  if (opts.logDensity && learned && backend === 'webgpu') {
    process.stderr.write(
      'guidance-sampler: --log-density with a learned model runs on the CPU reference (its divergence is the network Jacobian trace)\n',
    );
    backend = 'cpu';
  }
  if (spec.start === 'exact' && !opts.logDensity && backend === 'webgpu' && opts.backend === 'auto' && !opts.gpu) {
    process.stderr.write(
      'guidance-sampler: start "exact" runs on the CPU reference (webgpu uploads exact starts only with --log-density)\n',
    );
    backend = 'cpu';
  }
  if (backend === 'webgpu' && !gpu) {
    try {
      gpu = await acquireGpu(nodePlatform);
    } catch (err) {
      if (opts.backend === 'webgpu') throw err;
      process.stderr.write(
        `guidance-sampler: no WebGPU adapter, using the CPU reference (${(err as Error).message})\n`,
      );
      backend = 'cpu';
    }
  }
  // Before any work or file: what the run needs against what this machine and adapter have.
  try {
    const est = estimateResources(
      { ...spec, particles: count },
      { backend, outDtype: opts.out ? opts.dtype : undefined },
    );
    checkResources(est, { gpu: gpu?.limits });
    for (const line of [memoryWarning(est), timeEstimate({ ...spec, particles: count }, est, backend)])
      if (line) process.stderr.write(`guidance-sampler: ${line}\n`);
  } catch (err) {
    gpu?.destroy();
    throw err;
  }
  // The spec compiled once (after the resource check: a 1e12-step table must be refused, not
  // built); every path below samples this plan.
  const plan = prepareExperiment(spec);
  const support = boundedSupport(plan.guidance.model, plan.guidance.target);
  const bar = progressBar(backend);
  const adapter: string | null = gpu?.adapterInfo.label ?? null;
  let fk: FkReport | null = null;
  let kernel: RunReport['kernel'];
  let outNonFinite = 0;
  let logDetReport: RunReport['logDet'];
  const acc = new SummaryAccumulator(spec.dim, support);
  const dtype: NpyDtype = opts.dtype === 'f64' ? 'f8' : 'f4';
  // Every path streams blocks of particles through `consume`, which folds them into the
  // summary and, with --out, writes them in index order: memory is O(block), not O(N).
  const withOut = async (
    produce: (consume: (chunk: Float32Array | Float64Array, n: number) => void) => Promise<void>,
  ) => {
    if (!opts.out) return produce((chunk, n) => acc.add(chunk, n));
    ({ nonFinite: outNonFinite } = await writeNpyAtomic(opts.out, count, spec.dim, dtype, (write) =>
      produce((chunk, n) => {
        acc.add(chunk, n);
        write(chunk.subarray(0, n * spec.dim));
      }),
    ));
  };
  try {
    if (opts.logDensity) {
      // The CPU: the same CpuStepper steps as plain sampling (same particles), with log q carried
      // along; webgpu: the kernel's log-density mode from the same host-drawn starts. Block by
      // block, the three files written side by side (each atomically).
      const carrier = backend === 'cpu' ? cpuLogDensityBackend : webGpuLogDensityBackend(gpu!);
      // --log-det: log q of the solver map (CPU f64) with the flow route beside it, block by block too.
      const gap = { n: 0, abs: 0, signed: 0, max: 0 };
      const withFlow = async (fill: (write: (chunk: Float64Array) => void) => Promise<void>): Promise<void> => {
        if (opts.logDet) await writeNpyAtomic(sidecarPath(opts.out!, 'logq-flow'), count, null, 'f8', fill);
        else await fill(() => {});
      };
      try {
        await writeNpyAtomic(sidecarPath(opts.out!, 'logp'), count, null, 'f8', (writeLogp) =>
          writeNpyAtomic(sidecarPath(opts.out!, 'logq'), count, null, 'f8', (writeLogq) =>
            withFlow((writeFlow) =>
              withOut(async (consume) => {
                for (let b = first; b < end; b += LOG_DENSITY_BLOCK) {
                  const n = Math.min(LOG_DENSITY_BLOCK, end - b);
                  let r: { x: Float64Array; logq: Float64Array };
                  if (opts.logDet) {
                    const m = carryLogDetCpu(spec, { first: b, count: n });
                    r = { x: m.x, logq: m.logqMap };
                    for (let i = 0; i < n; i++) {
                      const g = m.logqMap[i] - m.logqFlow[i];
                      if (!Number.isFinite(g)) continue;
                      gap.n++;
                      gap.abs += Math.abs(g);
                      gap.signed += g;
                      gap.max = Math.max(gap.max, Math.abs(g));
                    }
                    writeFlow(m.logqFlow);
                  } else {
                    r = await carrier.carry(spec, { direction: 'backward', first: b, count: n });
                  }
                  const logp = targetLogDensityAtTMin(spec, r.x, n);
                  consume(r.x, n);
                  acc.addLogDensity(r.logq, logp, n);
                  writeLogq(r.logq);
                  writeLogp(logp);
                  bar.update(b + n - first, count);
                }
              }),
            ),
          ).then(() => undefined),
        );
      } finally {
        if (backend === 'webgpu') gpu!.destroy();
      }
      if (opts.logDet) logDetReport = { meanGap: gap.abs / gap.n, maxGap: gap.max, meanSignedGap: gap.signed / gap.n };
    } else {
      // Both backends behind one interface (src/backend/sampler.ts): the plan in, blocks out in index order.
      const sampler =
        backend === 'cpu' ? cpuBackend() : webGpuBackend(gpu!, { kernelVariant: kernelVariantOf(opts, gpu!) });
      try {
        await withOut(async (consume) => {
          const report = await sampler.sample(plan, {
            first,
            count,
            onChunk: (chunk, n) => consume(chunk, n),
            onProgress: (done, total) => bar.update(done, total),
          });
          fk = report.fk;
          if (report.backend === 'webgpu') kernel = kernelOf(report.details);
        });
      } finally {
        if (backend === 'webgpu') gpu!.destroy();
      }
    }
  } finally {
    bar.stop();
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  if (opts.state) {
    await writeStateFile(opts.state, {
      spec,
      backend,
      adapter,
      range: { first, end },
      shard: opts.shard ?? null,
      elapsedSeconds,
      state: acc.toState(),
    });
  }
  return {
    ...reportOf(acc, spec, { backend, adapter, elapsedSeconds }),
    ...(opts.shard ? { shard: { index: opts.shard.index, count: opts.shard.count, first, end } } : {}),
    ...(fk ? { corrector: correctorSummary(spec, fk) } : {}),
    ...(opts.out ? { out: { path: opts.out, dtype: opts.dtype, nonFinite: outNonFinite } } : {}),
    ...(opts.state ? { state: opts.state } : {}),
    ...(logDetReport ? { logDet: logDetReport } : {}),
    ...(kernel ? { kernel } : {}),
  };
}

/** The webgpu step kernel that ran and, for the fast kernel, its variant and how it was chosen. */
function kernelOf(details: Record<string, unknown>): RunReport['kernel'] {
  const variant = details.variant as { name: string; why: string } | undefined;
  return { name: String(details.kernel), ...(variant ? { variant: variant.name, why: variant.why } : {}) };
}

/** The printed report of a summary state (run, and merge of shard states). */
export function reportOf(
  acc: SummaryAccumulator,
  spec: ExperimentSpec,
  where: { backend: string; adapter: string | null; elapsedSeconds: number },
): RunReport {
  const { summary, overflowFields } = finiteStatistics(acc.finish());
  const logDensity = acc.logDensitySummary();
  return {
    ...summary,
    ...(logDensity ? { logDensity } : {}),
    backend: where.backend,
    adapter: where.adapter,
    elapsedSeconds: where.elapsedSeconds,
    spec: specSummary(spec),
    overflow: overflowFields.length > 0,
    overflowFields,
  };
}

/** The spec's identity in every summary (run, check, merge): what ran, in a few fields. */
export function specSummary(spec: ExperimentSpec) {
  return {
    target: spec.target,
    process: spec.process.kind,
    guidance: spec.guidance.kind,
    ...(spec.guidance.kind === 'cfg' && spec.guidance.terms ? { guidanceTerms: spec.guidance.terms.length } : {}),
    solver: spec.solver.kind,
    steps: spec.solver.steps,
    seed: spec.seed,
  };
}

/** The run's kernel variant (RunOptions.kernelVariant): a shard never tunes on its own. */
function kernelVariantOf(opts: RunOptions, gpu: GpuContext): string | undefined {
  if (opts.kernelVariant !== undefined) return opts.kernelVariant;
  const pinned = gpu.platform.kernelVariant;
  if (opts.shard && (pinned === undefined || pinned === 'auto')) return GAUSS4_VARIANTS[0].name;
  return undefined;
}
