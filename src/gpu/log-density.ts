// The WebGPU log-density mode: each particle carries l = log q along its path,
//   l_{n+1} = l_n - h_n sum_i b_i div u(xs_i, t_i),
// through the same tableau as the particle (shaders/step.wgsl with LOG_DENSITY; the mixture's
// divergence in shaders/lib/mixture.wgsl). Starts: the in-kernel prior draw with its log-density
// (backward runs from the prior), or uploaded points and log-densities, chunk by chunk (exact
// starts, and forward transport of target samples on a reversed step table).
import { hasLearnedScore } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import type { StepTable } from '../solvers/table.ts';
import type { GpuContext } from './device.ts';
import { sampleWebGpu, type GpuSampleInfo } from './sampler.ts';

export interface LogDensityStarts {
  /** N x dim points (row-major) and their N log-densities. */
  x: Float64Array | Float32Array;
  logq: Float64Array | Float32Array;
}

export interface GpuLogDensityOptions {
  /** Uploaded starts; none: the prior draw of the generator (stream 0), l_0 = log N(x; 0, priorScale^2 I). */
  starts?: LogDensityStarts;
  /** The step table to run (default: the spec's; a forward run passes the reversed one). */
  table?: StepTable;
  /** Dispatch planner overrides (tests force splitting). */
  chunkParticles?: number;
  stepsPerDispatch?: number;
  /** Where the factor window is read from (default: the adapter's; tests force 'storage' to stage it). */
  generalTables?: 'uniform' | 'storage';
}

export interface GpuLogDensityResult {
  /** N x dim, f32 as computed. */
  particles: Float32Array;
  logq: Float64Array;
  info: GpuSampleInfo;
}

/** Why the log-density mode cannot run this spec, or null: linear guidance, an ODE solver, no corrector. */
export function logDensityUnsupported(spec: ExperimentSpec): string | null {
  if (!['euler', 'heun', 'rk4'].includes(spec.solver.kind)) {
    return `solver.kind: log-density needs an ODE solver (euler, heun, rk4), got ${spec.solver.kind}`;
  }
  if (spec.corrector) return 'corrector: log-density runs without a corrector';
  const g = spec.guidance;
  if (g.kind === 'cfg' && g.variant.kind !== 'linear') {
    return `guidance.variant.kind: log-density needs linear guidance, got ${g.variant.kind}`;
  }
  if (hasLearnedScore(spec))
    return "guidance: a learned model's log-density runs on the CPU reference (the kernel does not carry its Jacobian)";
  if (!['none', 'cfg', 'classifier'].includes(g.kind))
    return `guidance.kind: log-density needs linear guidance, got ${g.kind}`;
  return null;
}

/** Samples spec.particles particles with their log-densities (see the file comment). */
export async function sampleLogDensityWebGpu(
  gpu: GpuContext,
  spec: ExperimentSpec,
  opts: GpuLogDensityOptions = {},
): Promise<GpuLogDensityResult> {
  const why = logDensityUnsupported(spec);
  if (why) throw new Error(why);
  const { dim, particles: n } = spec;
  const { starts } = opts;
  if (starts && (starts.x.length !== n * dim || starts.logq.length !== n)) {
    throw new Error(
      `log-density starts: expected ${n} x ${dim} points and ${n} log-densities, got ${starts.x.length} and ${starts.logq.length}`,
    );
  }
  const particles = new Float32Array(n * dim);
  const logq = new Float64Array(n);
  let filled = 0;
  const info = await sampleWebGpu(gpu, spec, {
    kernel: 'general',
    chunkParticles: opts.chunkParticles,
    stepsPerDispatch: opts.stepsPerDispatch,
    generalTables: opts.generalTables,
    logDensity: {
      table: opts.table,
      starts: starts
        ? (first, count) => ({
            x: Float32Array.from(starts.x.subarray(first * dim, (first + count) * dim)),
            logq: Float32Array.from(starts.logq.subarray(first, first + count)),
          })
        : undefined,
      onChunk: (x, l, count) => {
        particles.set(x, filled * dim);
        logq.set(l, filled);
        filled += count;
      },
    },
  });
  return { particles, logq, info };
}
