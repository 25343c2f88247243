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
import { cachedComputePipeline, fkStateStride } from './kernel.ts';
import {
  FK_BLOCK_PLAN,
  FK_BLOCK_STATS,
  FK_PARAMS,
  packStructs,
  STEP_PARAMS,
  STEP_ROW,
  structBytes,
  unpackStructs,
  wgslStruct,
} from './layout.ts';
import { gridFor, WORKGROUP_SIZE } from './planner.ts';
import type { GpuSampleInfo, GpuSampleOptions } from './sampler.ts';

/** What the sampler prepared for the step kernel (compiled with FK). */
export interface PreparedStep {
  pipeline: GPUComputePipeline;
  table: StepTable;
  componentInfos: ArrayBuffer;
  statics: Float32Array;
  /** The factor table for a list of rows. */
  factorsFor(rows: readonly StepRow[]): Float32Array;
  tile: number;
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
  const { device, limits } = gpu;
  const corrector = spec.corrector!;
  const { dim, seed } = spec;
  const count = spec.particles;
  const first = opts.firstParticle ?? 0;
  const { table } = step;
  const steps = table.steps;
  const stateStride = fkStateStride(dim);
  const blocks = Math.ceil(count / FK_BLOCK);

  const largest = count * stateStride * 4;
  const bindingLimit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (largest > bindingLimit) {
    throw new Error(
      `corrector fk keeps the whole population resident: ${count} particles x ${stateStride} floats of state = ${largest} bytes ` +
        `exceeds this adapter's largest storage binding (${bindingLimit} bytes); use at most ${Math.floor(bindingLimit / (stateStride * 4))} particles`,
    );
  }
  const { reduce, resample } = await fkPipelines(device, gpu.platform, dim);

  const buffers: GPUBuffer[] = [];
  const makeBuffer = (label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer => {
    const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 4) * 4), usage });
    buffers.push(b);
    return b;
  };
  const upload = (label: string, data: ArrayBuffer | Float32Array): GPUBuffer => {
    const b = makeBuffer(label, data.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(b, 0, data as ArrayBuffer);
    return b;
  };
  const report: FkReport = {
    essFraction: [],
    resampledAfter: [],
    logNormaliser: initialConstant(dim, priorScale(spec.process)),
    nonFiniteDiscarded: 0,
  };
  let dispatches = 0;

  try {
    const STORAGE = GPUBufferUsage.STORAGE;
    const rowsBuffer = upload('fk step rows (+ terminal row)', packStructs(STEP_ROW, [...table.rows, table.terminal]));
    const componentsBuffer = upload('component infos', step.componentInfos);
    const staticsBuffer = upload('statics (group means, eigenbases)', step.statics);
    const factorsBuffer = makeBuffer(
      'component factors (one row)',
      step.factorsFor([table.rows[0]]).byteLength,
      STORAGE | GPUBufferUsage.COPY_DST,
    );
    const stepParams = makeBuffer(
      'step params',
      structBytes(STEP_PARAMS),
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    );
    const pair = (label: string, bytes: number): [GPUBuffer, GPUBuffer] => [
      makeBuffer(`${label} A`, bytes, STORAGE | GPUBufferUsage.COPY_SRC),
      makeBuffer(`${label} B`, bytes, STORAGE | GPUBufferUsage.COPY_SRC),
    ];
    const particles = pair('fk particles', count * dim * 4);
    const states = pair('fk states (drift, log q)', count * stateStride * 4);
    const logWeights = makeBuffer(
      'fk log-weights',
      count * 4,
      STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    );
    const prefix = makeBuffer('fk block-local weight prefix', count * 4, STORAGE);
    const statsBytes = blocks * structBytes(FK_BLOCK_STATS);
    const stats = makeBuffer('fk block stats', statsBytes, STORAGE | GPUBufferUsage.COPY_SRC);
    const statsReadback = makeBuffer(
      'fk block stats readback',
      statsBytes,
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    const planBuffer = makeBuffer(
      'fk block plan',
      blocks * structBytes(FK_BLOCK_PLAN),
      STORAGE | GPUBufferUsage.COPY_DST,
    );
    const ancestors = makeBuffer('fk ancestors', count * 4, STORAGE | GPUBufferUsage.COPY_SRC);
    const fkParams = makeBuffer('fk params', structBytes(FK_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(fkParams, 0, packStructs(FK_PARAMS, [{ count, blocks }]));

    const stepBindGroups = [0, 1].map((h) =>
      device.createBindGroup({
        label: `fk step bind group ${'AB'[h]}`,
        layout: step.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: stepParams } },
          { binding: 1, resource: { buffer: rowsBuffer } },
          { binding: 2, resource: { buffer: factorsBuffer } },
          { binding: 3, resource: { buffer: componentsBuffer } },
          { binding: 4, resource: { buffer: staticsBuffer } },
          { binding: 5, resource: { buffer: particles[h] } },
          { binding: 6, resource: { buffer: states[h] } },
          { binding: 7, resource: { buffer: logWeights } },
        ],
      }),
    );
    const reduceBindGroup = device.createBindGroup({
      label: 'fk reduce bind group',
      layout: reduce.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: fkParams } },
        { binding: 1, resource: { buffer: logWeights } },
        { binding: 2, resource: { buffer: prefix } },
        { binding: 3, resource: { buffer: stats } },
      ],
    });
    const resampleBindGroups = [0, 1].map((h) =>
      device.createBindGroup({
        label: `fk resample bind group ${'AB'[h]} -> ${'AB'[1 - h]}`,
        layout: resample.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: fkParams } },
          { binding: 1, resource: { buffer: planBuffer } },
          { binding: 2, resource: { buffer: prefix } },
          { binding: 3, resource: { buffer: particles[h] } },
          { binding: 4, resource: { buffer: states[h] } },
          { binding: 5, resource: { buffer: particles[1 - h] } },
          { binding: 6, resource: { buffer: states[1 - h] } },
          { binding: 7, resource: { buffer: ancestors } },
        ],
      }),
    );

    const particleGrid = gridFor(count, WORKGROUP_SIZE, limits.maxComputeWorkgroupsPerDimension);
    const blockGrid = gridFor(blocks, 1, limits.maxComputeWorkgroupsPerDimension);
    let current = 0; // which half of each pair holds the population

    const dispatchStep = (n: number, initialise: boolean): void => {
      const row = initialise ? table.rows[0] : n + 1 < steps ? table.rows[n + 1] : table.terminal;
      device.queue.writeBuffer(factorsBuffer, 0, step.factorsFor([row]) as Float32Array<ArrayBuffer>);
      const params = {
        particleOffset: first,
        particleCount: count,
        firstStep: n,
        stepCount: 1,
        seed,
        initialise: initialise ? 1 : 0,
      };
      device.queue.writeBuffer(stepParams, 0, packStructs(STEP_PARAMS, [params]));
      const encoder = device.createCommandEncoder({ label: initialise ? 'fk initialise' : `fk step ${n}` });
      const pass = encoder.beginComputePass({ label: initialise ? 'fk initialise pass' : `fk step pass ${n}` });
      pass.setPipeline(step.pipeline);
      pass.setBindGroup(0, stepBindGroups[current]);
      pass.dispatchWorkgroups(...particleGrid);
      pass.end();
      device.queue.submit([encoder.finish()]);
      dispatches++;
    };

    const readBlockStats = async (): Promise<BlockStats[]> => {
      const encoder = device.createCommandEncoder({ label: 'fk reduce' });
      const pass = encoder.beginComputePass({ label: 'fk reduce pass' });
      pass.setPipeline(reduce);
      pass.setBindGroup(0, reduceBindGroup);
      pass.dispatchWorkgroups(...blockGrid);
      pass.end();
      encoder.copyBufferToBuffer(stats, 0, statsReadback, 0, statsBytes);
      device.queue.submit([encoder.finish()]);
      await gpu.guard(statsReadback.mapAsync(GPUMapMode.READ, 0, statsBytes));
      const records = unpackStructs(FK_BLOCK_STATS, statsReadback.getMappedRange(0, statsBytes), blocks);
      statsReadback.unmap();
      return records as unknown as BlockStats[];
    };

    dispatchStep(0, true);
    for (let n = 0; n < steps; n++) {
      dispatchStep(n, false);
      report.logNormaliser += stepConstant(table.rows[n], dim);
      if (opts.onWeights) {
        const [w, x] = await Promise.all([
          readFloats(gpu, logWeights, count),
          readFloats(gpu, particles[current], count * dim),
        ]);
        opts.onWeights(n, w, x);
      }
      const blockStats = await readBlockStats();
      const summary = summariseBlocks(blockStats);
      if (recordStep(report, summary, n, steps, count, corrector.essThreshold)) {
        const plan = planSystematic(blockStats, summary, count, resampleUniform(seed, n, first));
        device.queue.writeBuffer(
          planBuffer,
          0,
          packStructs(FK_BLOCK_PLAN, plan as unknown as Record<string, number>[]),
        );
        const encoder = device.createCommandEncoder({ label: `fk resample after step ${n}` });
        const pass = encoder.beginComputePass({ label: `fk resample pass ${n}` });
        pass.setPipeline(resample);
        pass.setBindGroup(0, resampleBindGroups[current]);
        pass.dispatchWorkgroups(...particleGrid);
        pass.end();
        encoder.clearBuffer(logWeights);
        device.queue.submit([encoder.finish()]);
        dispatches++;
        current = 1 - current;
        if (opts.onAncestors)
          opts.onAncestors(n, new Uint32Array((await readFloats(gpu, ancestors, count)).buffer as ArrayBuffer));
      }
      await opts.afterDispatch?.({ chunkStart: 0, count, stepsDone: n + 1, steps, particles: particles[current] });
      opts.onProgress?.(Math.floor((count * (n + 1)) / steps), count);
    }

    if (opts.onChunk) {
      const perPiece = Math.max(1, Math.floor(READBACK_BYTES / (dim * 4)));
      for (let start = 0; start < count; start += perPiece) {
        const n = Math.min(perPiece, count - start);
        opts.onChunk(await readFloats(gpu, particles[current], n * dim, start * dim), n);
      }
    } else {
      await gpu.guard(device.queue.onSubmittedWorkDone());
    }
    gpu.checkErrors();
  } finally {
    for (const b of buffers) b.destroy();
  }
  return {
    adapter: gpu.adapterInfo.label,
    plan: { chunkParticles: count, chunks: 1, stepsPerDispatch: 1, dispatches },
    kernel: 'step',
    tile: step.tile,
    tables: 'storage',
    fk: report,
  };
}

/** Copies `floats` 4-byte words from `source` (from word `offset`) back to the host. */
export async function readFloats(
  gpu: GpuContext,
  source: GPUBuffer,
  floats: number,
  offset = 0,
): Promise<Float32Array> {
  const { device } = gpu;
  const bytes = floats * 4;
  const staging = device.createBuffer({
    label: `readback of ${source.label}`,
    size: Math.max(16, bytes),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const encoder = device.createCommandEncoder({ label: `readback of ${source.label}` });
    encoder.copyBufferToBuffer(source, offset * 4, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await gpu.guard(staging.mapAsync(GPUMapMode.READ, 0, bytes));
    return new Float32Array(staging.getMappedRange(0, bytes).slice(0));
  } finally {
    staging.destroy();
  }
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
    platform.shaderSource('fk-reduce'),
  ].join('\n');
  const resampleCode = [
    `const WORKGROUP_SIZE: u32 = ${WORKGROUP_SIZE}u;`,
    `const BLOCK: u32 = ${FK_BLOCK}u;`,
    `const DIM: u32 = ${dim}u;`,
    `const STATE_STRIDE: u32 = ${fkStateStride(dim)}u;`,
    wgslStruct(FK_PARAMS),
    wgslStruct(FK_BLOCK_PLAN),
    platform.shaderSource('fk-resample'),
  ].join('\n');
  const [reduce, resample] = await Promise.all([
    cachedComputePipeline(device, 'fk reduce', reduceCode),
    cachedComputePipeline(device, 'fk resample', resampleCode),
  ]);
  return { reduce, resample };
}
