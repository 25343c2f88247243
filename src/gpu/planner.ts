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
  /** Invocations per workgroup (default WORKGROUP_SIZE; a kernel variant's, src/gpu/variants.ts). */
  workgroupSize?: number;
  /** Overrides, e.g. to force splitting in tests. */
  chunkParticles?: number;
  stepsPerDispatch?: number;
  /** Component-coordinate evaluations per dispatch, counted per invocation (default 2^27). */
  workPerDispatch?: number;
  /** Bytes of particle state per chunk (default 64 MiB). */
  chunkBytes?: number;
  /**
   * Where the kernel reads per-dispatch table windows from bindings smaller than a storage
   * binding (step-gauss4's uniform tables): the bytes of one such binding, and the bytes per
   * (step, stage) of its row window (0 when rows are bound whole). Steps per dispatch are then
   * bounded so that the factor window and the row window each fit one binding. factorsPerStage:
   * the factor window is bound one binding per stage (step-heavy's uniform rows), so that a
   * binding holds one stage's rows of the window.
   */
  tableWindows?: { bindingBytes: number; rowBytes: number; factorsPerStage?: boolean };
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
  const maxByBinding = Math.floor(
    Math.min(p.limits.maxStorageBufferBindingSize, p.limits.maxBufferSize) / bytesPerParticle,
  );
  const maxByBudget = Math.floor((p.chunkBytes ?? 64 * 2 ** 20) / bytesPerParticle);
  const workgroupSize = p.workgroupSize ?? WORKGROUP_SIZE;
  const maxByGrid = p.limits.maxComputeWorkgroupsPerDimension ** 2 * workgroupSize * (p.particlesPerInvocation ?? 1);
  const chunkParticles = Math.max(
    1,
    Math.min(p.particles, p.chunkParticles ?? Infinity, maxByBinding, maxByBudget, maxByGrid),
  );

  // Work is counted per invocation: the budget stands for time per dispatch, and an invocation
  // that owns several particles (step-gauss4: 4) evaluates them about as fast as the general
  // kernel evaluates one (lavapipe: ~1 s per dispatch for either at the default budget).
  const invocations = Math.ceil(chunkParticles / (p.particlesPerInvocation ?? 1));
  const perStep =
    invocations *
    p.stages *
    (p.components * p.dim * (p.fullCovariance ? 2 * p.dim : 1) + (p.extraWorkPerEvaluation ?? 0));
  let steps = p.stepsPerDispatch ?? Math.floor((p.workPerDispatch ?? 2 ** 27) / Math.max(1, perStep));
  const factorRowBytes = p.stages * p.components * p.factorStride * 4;
  steps = Math.min(steps, Math.floor(p.limits.maxStorageBufferBindingSize / factorRowBytes));
  if (p.tableWindows) {
    const { bindingBytes, rowBytes, factorsPerStage } = p.tableWindows;
    steps = Math.min(steps, Math.floor(bindingBytes / (factorsPerStage ? factorRowBytes / p.stages : factorRowBytes)));
    if (rowBytes > 0) steps = Math.min(steps, Math.floor(bindingBytes / (p.stages * rowBytes)));
  }
  const stepsPerDispatch = Math.max(1, Math.min(p.steps, steps));

  const maxX = p.limits.maxComputeWorkgroupsPerDimension;
  return {
    chunkParticles,
    chunks: Math.ceil(p.particles / chunkParticles),
    stepsPerDispatch,
    grid(count: number): [number, number] {
      return gridFor(Math.ceil(count / (p.particlesPerInvocation ?? 1)), workgroupSize, maxX);
    },
  };
}

/** A 2-D grid of workgroups of `workgroupSize` invocations covering `invocations`. */
export function gridFor(invocations: number, workgroupSize: number, maxPerDimension: number): [number, number] {
  const groups = Math.max(1, Math.ceil(invocations / workgroupSize));
  const x = Math.min(groups, maxPerDimension);
  return [x, Math.ceil(groups / x)];
}
