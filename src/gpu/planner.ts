// The one place that decides how work is split: particle chunks (bounded by the
// binding limit and a memory budget, so N is limited by time, not memory), steps
// per dispatch (bounded work per submission: real GPUs reset on ~2 s watchdogs and a
// long submission freezes a page), and the 2-D workgroup grid (65535 per dimension).

export const WORKGROUP_SIZE = 64;

export interface PlanInput {
  particles: number;
  dim: number;
  components: number;
  stages: number;
  steps: number;
  fullCovariance: boolean;
  /** Floats per (row, component) in the factor table. */
  factorStride: number;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupsPerDimension: number };
  /**
   * Work of one velocity evaluation beyond the component walk, in the same units
   * (component-coordinate evaluations; e.g. a trained classifier's multiply-adds). Default 0.
   */
  extraWorkPerEvaluation?: number;
  /** Particles per kernel invocation (default 1). */
  particlesPerInvocation?: number;
  /** Overrides, e.g. to force splitting in tests. */
  chunkParticles?: number;
  stepsPerDispatch?: number;
  /** Component-coordinate evaluations per dispatch (default 2^27). */
  workPerDispatch?: number;
  /** Bytes of particle state per chunk (default 64 MiB). */
  chunkBytes?: number;
}

export interface DispatchPlan {
  chunkParticles: number;
  chunks: number;
  stepsPerDispatch: number;
  /** Workgroups for a chunk of `count` particles, as [x, y]. */
  grid(count: number): [number, number];
}

export function planDispatch(p: PlanInput): DispatchPlan {
  const bytesPerParticle = p.dim * 4;
  const maxByBinding = Math.floor(Math.min(p.limits.maxStorageBufferBindingSize, p.limits.maxBufferSize) / bytesPerParticle);
  const maxByBudget = Math.floor((p.chunkBytes ?? 64 * 2 ** 20) / bytesPerParticle);
  const maxByGrid = p.limits.maxComputeWorkgroupsPerDimension ** 2 * WORKGROUP_SIZE * (p.particlesPerInvocation ?? 1);
  const chunkParticles = Math.max(1, Math.min(p.particles, p.chunkParticles ?? Infinity, maxByBinding, maxByBudget, maxByGrid));

  const perStep =
    chunkParticles * p.stages * (p.components * p.dim * (p.fullCovariance ? 2 * p.dim : 1) + (p.extraWorkPerEvaluation ?? 0));
  let steps = p.stepsPerDispatch ?? Math.floor((p.workPerDispatch ?? 2 ** 27) / Math.max(1, perStep));
  const factorRowBytes = p.stages * p.components * p.factorStride * 4;
  steps = Math.min(steps, Math.floor(p.limits.maxStorageBufferBindingSize / factorRowBytes));
  const stepsPerDispatch = Math.max(1, Math.min(p.steps, steps));

  const maxX = p.limits.maxComputeWorkgroupsPerDimension;
  return {
    chunkParticles,
    chunks: Math.ceil(p.particles / chunkParticles),
    stepsPerDispatch,
    grid(count: number): [number, number] {
      return gridFor(Math.ceil(count / (p.particlesPerInvocation ?? 1)), WORKGROUP_SIZE, maxX);
    },
  };
}

/** A 2-D grid of workgroups of `workgroupSize` invocations covering `invocations`. */
export function gridFor(invocations: number, workgroupSize: number, maxPerDimension: number): [number, number] {
  const groups = Math.max(1, Math.ceil(invocations / workgroupSize));
  const x = Math.min(groups, maxPerDimension);
  return [x, Math.ceil(groups / x)];
}
