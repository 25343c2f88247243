// The naive baseline kernel's host (bench/shaders/naive-step.wgsl): the Chrome benchmark times
// it beside the project's kernel in the same page, on the same spec. One particle per
// invocation, every table in storage (all steps at once), one dispatch, particles left on the
// GPU (like the sampler's timed runs). Platform-agnostic: the caller passes the kernel's text
// (the page imports it with ?raw, Node reads the file).
import { planOf } from '../src/experiment/plan.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { BufferPool, bindBuffers, dispatch, readFloats } from '../src/gpu/buffers.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { kernelHeader } from '../src/gpu/kernel.ts';
import { packStepRows } from '../src/gpu/layout.ts';
import { mixtureTable } from '../src/gpu/mixture-table.ts';
import { gridFor } from '../src/gpu/planner.ts';
import { cachedComputePipeline } from '../src/gpu/program.ts';

/** A prepared naive run of one spec: run() samples it once (and waits for the GPU). */
export interface NaiveRunner {
  run(): Promise<void>;
  /** The particles of the last run, read back. */
  particles(): Promise<Float32Array>;
  destroy(): void;
}

/** Why the naive kernel cannot run `spec`, or null (it covers the standard workload's shape). */
export function naiveUnsupported(spec: ExperimentSpec): string | null {
  const plan = planOf(spec);
  if (plan.tableau.c.length !== 1 || plan.tableau.stochastic || plan.table.sampler)
    return 'the naive kernel steps euler only';
  if (plan.variant.kind !== 'linear' || plan.trained || spec.corrector)
    return 'the naive kernel has linear guidance only';
  if (plan.scoreError.bias || plan.scoreError.field) return 'the naive kernel has no score-error model';
  if (plan.guidance.extraGroups.length > 0) return 'the naive kernel has two groups (no guidance.terms)';
  if (!plan.guidance.model.components.every((c) => c.kind === 'gaussian' && c.basis === null))
    return 'the naive kernel has diagonal Gaussians only';
  return null;
}

export async function naiveRunner(gpu: GpuContext, spec: ExperimentSpec, source: string): Promise<NaiveRunner> {
  const why = naiveUnsupported(spec);
  if (why) throw new Error(why);
  const plan = planOf(spec);
  const { table, guidance, scoreError, tableau } = plan;
  const dim = spec.dim;
  const mixture = mixtureTable(guidance.model, guidance, scoreError, table, dim);
  const header = kernelHeader({
    kernel: 'step',
    dim,
    components: mixture.comps.length,
    targetComponents: mixture.targetCount,
    tableau,
    hasUniform: false,
    fullCovariance: false,
    negativeFromTargetShift: mixture.negativeFromTargetShift,
    priorScale: plan.priorScale,
    tile: 0,
    variant: plan.variant,
    scoreError: { target: false, negative: false, bias: false, features: 0, offset: 0 },
    fk: false,
  });
  const code = [header, gpu.platform.shaderSource('philox'), gpu.platform.shaderSource('normal'), source].join('\n');
  const pipeline = await cachedComputePipeline(gpu.device, 'naive step', code);
  const pool = new BufferPool(gpu.device);
  const { STORAGE, UNIFORM, COPY_SRC } = GPUBufferUsage;
  const particles = pool.create('naive particles', spec.particles * dim * 4, STORAGE | COPY_SRC);
  const bindGroup = bindBuffers(gpu.device, 'naive step bind group', pipeline, [
    [0, pool.upload('naive params', new Uint32Array([spec.particles, table.steps, spec.seed, 0]), UNIFORM)],
    [1, pool.upload('naive step rows', packStepRows(table.rows))],
    [2, pool.upload('naive component factors', mixture.factorsFor(table.rows))],
    [3, pool.upload('naive component infos', mixture.componentInfos)],
    [4, pool.upload('naive statics', mixture.statics)],
    [5, particles],
  ]);
  // The workgroup size is the kernel's own constant (NAIVE_WORKGROUP_SIZE).
  const workgroupSize = Number(/NAIVE_WORKGROUP_SIZE: u32 = (\d+)u/.exec(source)?.[1] ?? 64);
  const grid = gridFor(spec.particles, workgroupSize, gpu.limits.maxComputeWorkgroupsPerDimension);
  return {
    async run() {
      dispatch(gpu.device, 'naive steps', pipeline, bindGroup, grid);
      await gpu.guard(gpu.device.queue.onSubmittedWorkDone());
      gpu.checkErrors();
    },
    particles: () => readFloats(gpu, particles, spec.particles * dim),
    destroy: () => pool.destroy(),
  };
}
