// The Feynman-Kac corrector on the GPU: the whole population stays resident (resampling
// mixes every particle with every other), and each step is three passes:
//   step      shaders/step.wgsl with FK: move, evaluate at the new point, update log-weights
//   reduce    shaders/fk-reduce.wgsl: per block of FK_BLOCK particles, max / sums / prefix
//   resample  shaders/fk-resample.wgsl (when ESS < threshold x N, and after the last step):
//             a gather into the other half of a ping-pong pair of buffers
// Between reduce and resample the host reads the block statistics back (N / 1024 of them),
// computes the ESS and, for resampling, the block-level prefix in f64 (src/corrector/fk.ts).
// src/cpu/fk.ts is the same algorithm on the CPU.
import type { ExperimentSpec } from '../experiment/types.ts';
import {
  FK_BLOCK,
  initialConstant,
  planSystematic,
  recordStep,
  resampleUniform,
  stepConstant,
  summariseBlocks,
  type BlockStats,
  type FkReport,
} from '../corrector/fk.ts';
import { priorScale } from '../processes/process.ts';
import type { StepRow, StepTable } from '../solvers/table.ts';
import type { GpuPlatform } from '../platform/types.ts';
import type { GpuContext } from './device.ts';
import { fkStateStride, type GeneralUniform } from './kernel.ts';
import { cachedComputePipeline, shaderText } from './program.ts';
import {
  FK_BLOCK_PLAN,
  FK_BLOCK_STATS,
  FK_PARAMS,
  packStepRows,
  packStructs,
  STEP_PARAMS,
  STEP_ROW,
  structBytes,
  unpackStructs,
  wgslStruct,
} from './layout.ts';
import { gridFor, WORKGROUP_SIZE } from './planner.ts';
import type { GpuSampleInfo, GpuSampleOptions } from './sample-types.ts';
import { BufferPool, bindBuffers, dispatch, readFloats } from './buffers.ts';

/** What the sampler prepared for the step kernel (compiled with FK). */
export interface PreparedStep {
  pipeline: GPUComputePipeline;
  table: StepTable;
  componentInfos: ArrayBuffer;
  statics: Float32Array;
  /** The factor table for a list of rows. */
  factorsFor(rows: readonly StepRow[]): Float32Array;
  tile: number;
  /** Which tables the kernel reads from uniform bindings (src/gpu/kernel.ts, generalTableBindings), or null. */
  generalUniform: GeneralUniform | null;
}

const REDUCE_WORKGROUP = 64; // x 16 items: 2-3x faster than 256 x 4 on lavapipe (fewer barrier rounds)
const REDUCE_ITEMS = FK_BLOCK / REDUCE_WORKGROUP;
/** Bytes read back per piece of the final population. */
const READBACK_BYTES = 64 * 2 ** 20;

export async function runFkPopulation(
  gpu: GpuContext,
  spec: ExperimentSpec,
  step: PreparedStep,
  opts: GpuSampleOptions,
): Promise<GpuSampleInfo> {
  const count = spec.particles;
  const stride = fkStateStride(spec.dim);
  const largest = count * stride * 4;
  const bindingLimit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  if (largest > bindingLimit) {
    throw new Error(
      `corrector fk keeps the whole population resident: ${count} particles x ${stride} floats of state = ${largest} bytes ` +
        `exceeds this adapter's largest storage binding (${bindingLimit} bytes); use at most ${Math.floor(bindingLimit / (stride * 4))} particles`,
    );
  }
  const pipelines = await fkPipelines(gpu.device, gpu.platform, spec.dim);
  const report: FkReport = {
    essFraction: [],
    resampledAfter: [],
    logNormaliser: initialConstant(spec.dim, priorScale(spec.process)),
    nonFiniteDiscarded: 0,
  };
  const pool = new BufferPool(gpu.device);
  try {
    const buffers = allocateFk(pool, spec, step);
    const groups = fkBindGroups(gpu.device, step, pipelines, buffers);
    const run = { gpu, spec, step, opts, buffers, groups, pipelines, report, current: 0, dispatches: 0 };
    await stepPopulation(run);
    if (opts.onChunk) {
      const dim = spec.dim;
      const perPiece = Math.max(1, Math.floor(READBACK_BYTES / (dim * 4)));
      for (let start = 0; start < count; start += perPiece) {
        const n = Math.min(perPiece, count - start);
        await opts.onChunk(await readFloats(gpu, buffers.particles[run.current], n * dim, start * dim), n);
      }
    } else {
      await gpu.guard(gpu.device.queue.onSubmittedWorkDone());
    }
    gpu.checkErrors();
    return {
      adapter: gpu.adapterInfo.label,
      plan: { chunkParticles: count, chunks: 1, stepsPerDispatch: 1, dispatches: run.dispatches },
      kernel: 'step',
      variant: { name: 'general', why: 'only' },
      tile: step.tile,
      tables: step.generalUniform ? 'uniform' : 'storage',
      fk: report,
    };
  } finally {
    pool.destroy();
  }
}

type FkPipelines = Awaited<ReturnType<typeof fkPipelines>>;
type FkBuffers = ReturnType<typeof allocateFk>;

/** The population's buffers: particles and states in ping-pong pairs (resampling gathers into the other half). */
function allocateFk(pool: BufferPool, spec: ExperimentSpec, step: PreparedStep) {
  const { STORAGE, UNIFORM, COPY_DST, COPY_SRC, MAP_READ } = GPUBufferUsage;
  const count = spec.particles;
  const blocks = Math.ceil(count / FK_BLOCK);
  const table = step.table;
  const uniform = step.generalUniform;
  const pair = (label: string, bytes: number): [GPUBuffer, GPUBuffer] => [
    pool.create(`${label} A`, bytes, STORAGE | COPY_SRC),
    pool.create(`${label} B`, bytes, STORAGE | COPY_SRC),
  ];
  const statsBytes = blocks * structBytes(FK_BLOCK_STATS);
  const fkParams = pool.create('fk params', structBytes(FK_PARAMS), UNIFORM | COPY_DST);
  pool.device.queue.writeBuffer(fkParams, 0, packStructs(FK_PARAMS, [{ count, blocks }]));
  return {
    count,
    blocks,
    statsBytes,
    rows: pool.upload(
      'fk step rows (+ terminal row)',
      packStepRows([...table.rows, table.terminal]),
      uniform?.rows ? UNIFORM : STORAGE,
    ),
    components: pool.upload('component infos', step.componentInfos, uniform?.components ? UNIFORM : STORAGE),
    statics: pool.upload('statics (group means, eigenbases)', step.statics),
    factors: uniform?.factorBytes
      ? pool.create('component factors (one row), uniform', uniform.factorBytes, UNIFORM | COPY_DST)
      : pool.create('component factors (one row)', step.factorsFor([table.rows[0]]).byteLength, STORAGE | COPY_DST),
    stepParams: pool.create('step params', structBytes(STEP_PARAMS), UNIFORM | COPY_DST),
    particles: pair('fk particles', count * spec.dim * 4),
    states: pair('fk states (drift, log q)', count * fkStateStride(spec.dim) * 4),
    logWeights: pool.create('fk log-weights', count * 4, STORAGE | COPY_SRC | COPY_DST),
    prefix: pool.create('fk block-local weight prefix', count * 4, STORAGE),
    stats: pool.create('fk block stats', statsBytes, STORAGE | COPY_SRC),
    statsReadback: pool.create('fk block stats readback', statsBytes, MAP_READ | COPY_DST),
    plan: pool.create('fk block plan', blocks * structBytes(FK_BLOCK_PLAN), STORAGE | COPY_DST),
    ancestors: pool.create('fk ancestors', count * 4, STORAGE | COPY_SRC),
    fkParams,
  };
}

function fkBindGroups(device: GPUDevice, step: PreparedStep, pipelines: FkPipelines, b: FkBuffers) {
  const half = [0, 1] as const;
  return {
    step: half.map((h) =>
      bindBuffers(device, `fk step bind group ${'AB'[h]}`, step.pipeline, [
        [0, b.stepParams],
        [1, b.rows],
        [2, b.factors],
        [3, b.components],
        [4, b.statics],
        [5, b.particles[h]],
        [6, b.states[h]],
        [7, b.logWeights],
      ]),
    ),
    reduce: bindBuffers(device, 'fk reduce bind group', pipelines.reduce, [
      [0, b.fkParams],
      [1, b.logWeights],
      [2, b.prefix],
      [3, b.stats],
    ]),
    resample: half.map((h) =>
      bindBuffers(device, `fk resample bind group ${'AB'[h]} -> ${'AB'[1 - h]}`, pipelines.resample, [
        [0, b.fkParams],
        [1, b.plan],
        [2, b.prefix],
        [3, b.particles[h]],
        [4, b.states[h]],
        [5, b.particles[1 - h]],
        [6, b.states[1 - h]],
        [7, b.ancestors],
      ]),
    ),
  };
}

interface FkRun {
  gpu: GpuContext;
  spec: ExperimentSpec;
  step: PreparedStep;
  opts: GpuSampleOptions;
  buffers: FkBuffers;
  groups: ReturnType<typeof fkBindGroups>;
  pipelines: FkPipelines;
  report: FkReport;
  /** Which half of each pair holds the population. */
  current: number;
  dispatches: number;
}

/** Every step: move and weight, reduce the block statistics, resample when the ESS asks for it. */
async function stepPopulation(run: FkRun): Promise<void> {
  const { gpu, spec, step, opts, buffers, report } = run;
  const { count } = buffers;
  const { table } = step;
  const steps = table.steps;
  const first = opts.firstParticle ?? 0;
  dispatchStep(run, 0, true);
  for (let n = 0; n < steps; n++) {
    dispatchStep(run, n, false);
    report.logNormaliser += stepConstant(table.rows[n], spec.dim);
    if (opts.onWeights) {
      const [w, x] = await Promise.all([
        readFloats(gpu, buffers.logWeights, count),
        readFloats(gpu, buffers.particles[run.current], count * spec.dim),
      ]);
      opts.onWeights(n, w, x);
    }
    const blockStats = await readBlockStats(run);
    const summary = summariseBlocks(blockStats);
    if (recordStep(report, summary, n, steps, count, spec.corrector!.essThreshold)) {
      const plan = planSystematic(blockStats, summary, count, resampleUniform(spec.seed, n, first));
      resample(run, n, plan as unknown as Record<string, number>[]);
      if (opts.onAncestors)
        opts.onAncestors(n, new Uint32Array((await readFloats(gpu, buffers.ancestors, count)).buffer as ArrayBuffer));
    }
    const particles = buffers.particles[run.current];
    await opts.afterDispatch?.({ chunkStart: 0, count, stepsDone: n + 1, steps, particles });
    opts.onProgress?.(Math.floor((count * (n + 1)) / steps), count);
  }
}

function dispatchStep(run: FkRun, n: number, initialise: boolean): void {
  const { device, limits } = run.gpu;
  const { table } = run.step;
  const { buffers } = run;
  const row = initialise ? table.rows[0] : n + 1 < table.steps ? table.rows[n + 1] : table.terminal;
  device.queue.writeBuffer(buffers.factors, 0, run.step.factorsFor([row]) as Float32Array<ArrayBuffer>);
  const params = {
    particleOffset: run.opts.firstParticle ?? 0,
    particleCount: buffers.count,
    firstStep: n,
    stepCount: 1,
    seed: run.spec.seed,
    initialise: initialise ? 1 : 0,
  };
  device.queue.writeBuffer(buffers.stepParams, 0, packStructs(STEP_PARAMS, [params]));
  const grid = gridFor(buffers.count, WORKGROUP_SIZE, limits.maxComputeWorkgroupsPerDimension);
  dispatch(
    device,
    initialise ? 'fk initialise' : `fk step ${n}`,
    run.step.pipeline,
    run.groups.step[run.current],
    grid,
  );
  run.dispatches++;
}

async function readBlockStats(run: FkRun): Promise<BlockStats[]> {
  const { device, limits } = run.gpu;
  const { buffers } = run;
  const encoder = device.createCommandEncoder({ label: 'fk reduce' });
  const pass = encoder.beginComputePass({ label: 'fk reduce pass' });
  pass.setPipeline(run.pipelines.reduce);
  pass.setBindGroup(0, run.groups.reduce);
  pass.dispatchWorkgroups(...gridFor(buffers.blocks, 1, limits.maxComputeWorkgroupsPerDimension));
  pass.end();
  encoder.copyBufferToBuffer(buffers.stats, 0, buffers.statsReadback, 0, buffers.statsBytes);
  device.queue.submit([encoder.finish()]);
  await run.gpu.guard(buffers.statsReadback.mapAsync(GPUMapMode.READ, 0, buffers.statsBytes));
  const records = unpackStructs(
    FK_BLOCK_STATS,
    buffers.statsReadback.getMappedRange(0, buffers.statsBytes),
    buffers.blocks,
  );
  buffers.statsReadback.unmap();
  return records as unknown as BlockStats[];
}

/** Systematic resampling by the host's block plan: a gather into the other half of each pair, weights cleared. */
function resample(run: FkRun, n: number, plan: Record<string, number>[]): void {
  const { device, limits } = run.gpu;
  const { buffers } = run;
  device.queue.writeBuffer(buffers.plan, 0, packStructs(FK_BLOCK_PLAN, plan));
  const encoder = device.createCommandEncoder({ label: `fk resample after step ${n}` });
  const pass = encoder.beginComputePass({ label: `fk resample pass ${n}` });
  pass.setPipeline(run.pipelines.resample);
  pass.setBindGroup(0, run.groups.resample[run.current]);
  pass.dispatchWorkgroups(...gridFor(buffers.count, WORKGROUP_SIZE, limits.maxComputeWorkgroupsPerDimension));
  pass.end();
  encoder.clearBuffer(buffers.logWeights);
  device.queue.submit([encoder.finish()]);
  run.dispatches++;
  run.current = 1 - run.current;
}

export async function fkPipelines(
  device: GPUDevice,
  platform: GpuPlatform,
  dim: number,
): Promise<{ reduce: GPUComputePipeline; resample: GPUComputePipeline }> {
  const reduceCode = [
    `const WORKGROUP_SIZE: u32 = ${REDUCE_WORKGROUP}u;`,
    `const ITEMS: u32 = ${REDUCE_ITEMS}u;`,
    wgslStruct(FK_PARAMS),
    wgslStruct(FK_BLOCK_STATS),
    shaderText(platform, 'fk-reduce'),
  ].join('\n');
  const resampleCode = [
    `const WORKGROUP_SIZE: u32 = ${WORKGROUP_SIZE}u;`,
    `const BLOCK: u32 = ${FK_BLOCK}u;`,
    `const DIM: u32 = ${dim}u;`,
    `const STATE_STRIDE: u32 = ${fkStateStride(dim)}u;`,
    wgslStruct(FK_PARAMS),
    wgslStruct(FK_BLOCK_PLAN),
    shaderText(platform, 'fk-resample'),
  ].join('\n');
  const [reduce, resample] = await Promise.all([
    cachedComputePipeline(device, 'fk reduce', reduceCode),
    cachedComputePipeline(device, 'fk resample', resampleCode),
  ]);
  return { reduce, resample };
}
