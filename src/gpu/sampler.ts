// The WebGPU backend's host: turns an experiment plan (src/experiment/plan.ts) into the step kernel's tables
// (mixture-table.ts), a pipeline (kernel.ts), a dispatch plan (planner.ts) and buffers
// (buffers.ts), then dispatches the kernel over particle chunks, streaming each finished chunk
// back to the caller. The FK corrector's resident population runs in fk.ts. Platform-agnostic:
// the caller brings the GpuContext (Node Dawn or the browser).
import { type ExperimentPlan, type LearnedScores, planOf, type TrainedGuidance } from '../experiment/plan.ts';
import type { ExperimentSpec, WSchedule } from '../experiment/types.ts';
import { combinesLinearly } from '../guidance/variants.ts';
import type { PreparedScoreError } from '../model/score-error.ts';
import type { StepTable } from '../solvers/table.ts';
import type { Tableau } from '../solvers/tableau.ts';
import { BufferPool, bindBuffers, dispatch, readCopies } from './buffers.ts';
import { classifierLayout, classifierTarget, packClassifier } from './classifier.ts';
import { denoiserLayout, denoiserWork, packDenoisers } from './denoiser.ts';
import type { GpuContext } from './device.ts';
import { runFkPopulation } from './fk.ts';
import {
  HEAVY_STAGE_BINDING,
  type HeavyLayout,
  heavyEligible,
  heavyFactors,
  heavyGroups,
  heavyLayout,
  heavyRows,
  heavyUniformBlocks,
} from './heavy.ts';
import {
  createStepPipeline,
  factorStride,
  type GeneralUniform,
  generalTables,
  GAUSS4_ROW_SLOT_BYTES,
  type KernelConfig,
  particlesPerInvocation,
  stateStride,
  tileComponents,
  UNIFORM_TABLE_BYTES,
} from './kernel.ts';
import { COMPONENT_INFO, packStepRows, packStructs, STEP_PARAMS, STEP_ROW, structBytes } from './layout.ts';
import { type MixtureTable, mixtureTable } from './mixture-table.ts';
import { type DispatchPlan, planDispatch } from './planner.ts';
import type { GpuSampleInfo, GpuSampleOptions } from './sample-types.ts';
import {
  chooseVariant,
  GAUSS4_VARIANTS,
  type KernelVariant,
  type VariantChoice,
  variantByName,
  variantKey,
} from './variants.ts';

export type { DispatchInfo, GpuSampleInfo, GpuSampleOptions, LogDensityHooks } from './sample-types.ts';

/** Everything one sampling call needs before it touches the GPU. */
interface Setup {
  spec: ExperimentSpec;
  trained: TrainedGuidance | null;
  logDensity: NonNullable<GpuSampleOptions['logDensity']> | null;
  table: StepTable;
  tableau: Tableau;
  scoreError: PreparedScoreError;
  variant: KernelConfig['variant'];
  mixture: MixtureTable;
  fk: boolean;
  kernel: KernelConfig['kernel'];
  /** step-gauss4's layout (src/gpu/variants.ts); null for the general kernel. */
  gauss4: KernelVariant | null;
  /** step-gauss4's uniform table bindings' bytes (0: storage bindings). */
  uniformTableBytes: number;
  /** The general kernel's tables in uniform bindings (kernel.ts, generalTableBindings), or null: all storage. */
  generalUniform: GeneralUniform | null;
  plan: DispatchPlan;
  tile: number;
  /** step-heavy's table layout (null for the other kernels). */
  heavy: HeavyLayout | null;
  priorScale: number;
  /** Particles this call samples, from opts.firstParticle. */
  count: number;
  /** Learned denoisers (experiment.learned), or null when every score is exact. */
  learned: LearnedScores | null;
}

/** Samples a plan (or a spec, compiled here) on the GPU, streaming finished chunks to opts.onChunk. */
export async function sampleWebGpu(
  gpu: GpuContext,
  source: ExperimentSpec | ExperimentPlan,
  opts: GpuSampleOptions,
): Promise<GpuSampleInfo> {
  const experiment = planOf(source);
  let setup = prepare(gpu, experiment, opts, GAUSS4_VARIANTS[0]);
  const choice = setup.kernel === 'step-gauss4' ? await variantFor(gpu, experiment, opts, setup) : null;
  if (choice && choice.variant !== setup.gauss4) setup = prepare(gpu, experiment, opts, choice.variant);
  const pipeline = await createStepPipeline(gpu.device, gpu.platform, kernelConfig(setup));
  const { spec, table, mixture, tile, generalUniform } = setup;
  if (setup.fk) {
    const { componentInfos, statics, factorsFor } = mixture;
    const step = { pipeline, table, componentInfos, statics, factorsFor, tile, generalUniform };
    return runFkPopulation(gpu, spec, step, opts);
  }
  const pool = new BufferPool(gpu.device);
  try {
    const buffers = allocate(pool, setup, Boolean(opts.onChunk));
    const bindGroup = bindBuffers(gpu.device, 'step bind group', pipeline, [
      [0, buffers.params],
      [1, buffers.rows],
      [2, buffers.factors],
      ...(setup.kernel === 'step-heavy' ? [] : ([[3, buffers.components]] as const)),
      [4, buffers.statics],
      [5, buffers.particles],
      ...(setup.kernel === 'step'
        ? ([
            [6, buffers.states],
            [7, buffers.weights],
          ] as const)
        : []),
      ...(buffers.classifier ? ([[8, buffers.classifier]] as const) : []),
      ...(buffers.denoiser ? ([[8, buffers.denoiser]] as const) : []),
      ...heavyStageWindows(setup.heavy, buffers.factors),
    ]);
    const dispatches = await runChunks(gpu, setup, buffers, { pipeline, bindGroup }, opts);
    // Without a readback nothing above waited for the GPU: wait here so errors surface.
    if (!opts.onChunk) await gpu.guard(gpu.device.queue.onSubmittedWorkDone());
    gpu.checkErrors();
    const { chunkParticles, chunks, stepsPerDispatch } = setup.plan;
    return {
      adapter: gpu.adapterInfo.label,
      plan: { chunkParticles, chunks, stepsPerDispatch, dispatches },
      kernel: setup.kernel,
      variant: choice
        ? { name: choice.variant.name, why: choice.why, ...(choice.trials ? { trials: choice.trials } : {}) }
        : { name: setup.kernel === 'step-heavy' ? 'heavy' : 'general', why: 'only' },
      tile,
      tables:
        setup.uniformTableBytes > 0 || setup.generalUniform || setup.heavy?.rows === 'uniform' ? 'uniform' : 'storage',
    };
  } finally {
    pool.destroy();
  }
}

/**
 * step-gauss4's variant for this call: forced by opts.kernelVariant, else the cached choice for
 * this adapter and workload shape, else tuned now on short trials of the actual plan.
 */
async function variantFor(
  gpu: GpuContext,
  experiment: ExperimentPlan,
  opts: GpuSampleOptions,
  setup: Setup,
): Promise<VariantChoice> {
  const named = opts.kernelVariant ?? gpu.platform.kernelVariant;
  const forced = named && named !== 'auto' ? named : null;
  if (forced) {
    const variant = variantByName(forced);
    if (variant.maxDim !== undefined && setup.spec.dim > variant.maxDim)
      throw new Error(`kernel variant ${variant.name} runs dim <= ${variant.maxDim}, not ${setup.spec.dim}`);
    return { variant, why: 'forced' };
  }
  const { table } = setup;
  const shape = {
    dim: setup.spec.dim,
    components: setup.mixture.comps.length,
    stages: table.stages,
    stochastic: setup.tableau.stochastic,
    // The whole run's size, not this call's share: a warm-up or a shard of it tunes for the run.
    particles: setup.spec.particles,
  };
  return chooseVariant({
    key: variantKey(gpu.platform, gpu.adapterInfo, shape),
    store: gpu.platform.variantStore,
    // Trials may sample up to the whole run (the first particles of the plan), not just this
    // call's share: a small warm-up or shard must not tune on overhead-sized trials.
    particles: setup.spec.particles,
    steps: table.steps,
    dim: setup.spec.dim,
    trial: async (variant, count) => {
      // The actual plan's dispatch shape for this variant, on the first `count` particles.
      const { stepsPerDispatch } = prepare(gpu, experiment, opts, variant).plan;
      const { kernel, staging } = opts;
      await sampleWebGpu(gpu, experiment, { kernel, staging, count, stepsPerDispatch, kernelVariant: variant.name });
    },
  });
}

/** The plan's tables laid out for the kernel, the kernel choice, and the dispatch plan. */
function prepare(
  gpu: GpuContext,
  experiment: ExperimentPlan,
  opts: GpuSampleOptions,
  gauss4Variant: KernelVariant,
): Setup {
  const { spec, guidance, tableau, scoreError, variant } = experiment;
  const trained = experiment.trained;
  const logDensity = opts.logDensity ?? null;
  // The exact start law is drawn on the host (CpuStepper.initParticles) and uploaded; the
  // in-kernel draw is the prior only, so a run without uploaded starts must not pretend otherwise.
  if (spec.start === 'exact' && !logDensity?.starts) {
    throw new Error(
      'start: "exact" on webgpu needs uploaded start points (the log-density path, e.g. run --log-density); use --backend cpu',
    );
  }
  const table = logDensity?.table ?? experiment.table;
  const count = opts.count ?? spec.particles;
  if (spec.corrector && count !== spec.particles)
    throw new Error(`a corrected population is sampled whole: count ${count} != spec.particles ${spec.particles}`);
  const mixture = mixtureTable(guidance.model, guidance, scoreError, table, spec.dim);
  const fk = spec.corrector?.kind === 'fk';
  if (table.sampler && (trained || logDensity || fk)) {
    throw new Error(`solver.kind: ${spec.solver.kind} runs without a trained classifier, log-density or a corrector`);
  }
  const learned = experiment.learned.target || experiment.learned.negative ? experiment.learned : null;
  if (learned && (trained || logDensity || fk))
    throw new Error('a learned denoiser runs without a trained classifier, log-density or a corrector');
  const { kernel, heavy: heavyChoice } = chooseKernel(gpu, experiment, opts, {
    mixture,
    table,
    learned: learned !== null,
    logDensity: logDensity !== null,
    fk,
  });
  const gauss4 = kernel === 'step-gauss4' ? gauss4Variant : null;
  const uniformTableBytes = gauss4?.tables === 'uniform' ? gauss4UniformBytes(gpu, spec.dim, table, mixture) : 0;
  const plan = dispatchPlan(gpu, spec, opts, {
    table,
    mixture,
    kernel,
    gauss4,
    uniformTableBytes,
    trained,
    learned,
    count,
    heavy: heavyChoice,
  });
  // The uniform windows hold the plan's steps per dispatch.
  const heavy = heavyChoice && { ...heavyChoice, windowSteps: plan.stepsPerDispatch };
  // The fk population writes one factor row per dispatch and appends the terminal row to its rows.
  const generalUniform =
    kernel === 'step' && (opts.generalTables ?? generalTables(gpu.adapterInfo)) === 'uniform'
      ? generalUniformTables(gpu, spec.dim, mixture, {
          factorRows: fk ? 1 : plan.stepsPerDispatch * table.stages,
          rows: table.rows.length + (fk ? 1 : 0),
        })
      : null;
  const tile = heavy
    ? heavy.rows === 'uniform'
      ? 0
      : heavy.tile
    : kernel === 'step' && opts.staging !== 'never' && !generalUniform?.factorBytes
      ? tileComponents(spec.dim, mixture.comps.length, gpu.limits.maxComputeWorkgroupStorageSize)
      : 0;
  const rest = {
    scoreError,
    variant,
    mixture,
    fk,
    kernel,
    gauss4,
    uniformTableBytes,
    generalUniform,
    plan,
    tile,
    learned,
    heavy,
  };
  return { spec, trained, logDensity, table, tableau, priorScale: experiment.priorScale, count, ...rest };
}

/**
 * Which step kernel runs a plan: the heavy-mixture kernel, the fast path (step-gauss4/gauss1) or
 * the general kernel. The fast ones have two groups, linear guidance and exact Gaussian scores;
 * everything else (samplers with histories, classifiers, learned models, log-density, fk,
 * multi-condition terms) runs on the general kernel.
 */
function chooseKernel(
  gpu: GpuContext,
  experiment: ExperimentPlan,
  opts: GpuSampleOptions,
  s: { mixture: MixtureTable; table: StepTable; learned: boolean; logDensity: boolean; fk: boolean },
): { kernel: KernelConfig['kernel']; heavy: HeavyLayout | null } {
  const { spec, scoreError, variant } = experiment;
  const { mixture, table } = s;
  const plain =
    opts.kernel !== 'general' &&
    !table.sampler &&
    !experiment.trained &&
    !s.learned &&
    !s.logDensity &&
    !s.fk &&
    combinesLinearly(variant) &&
    mixture.extraGroups === 0;
  const additiveScoreError = scoreError.bias !== null || scoreError.field !== null;
  const heavy =
    plain && heavyEligible({ mixture, plain, additiveScoreError }, spec.dim)
      ? heavyLayout(
          mixture,
          spec.dim,
          gpu.limits,
          table.stages,
          opts.heavyGroups ?? heavyGroups(gpu.adapterInfo),
          opts.heavyRows ?? heavyRows(gpu.adapterInfo),
        )
      : null;
  const fastPath =
    plain && !additiveScoreError && mixture.comps.every((c) => c.kind === 'gaussian' && c.basis === null);
  return { kernel: heavy ? 'step-heavy' : fastPath ? 'step-gauss4' : 'step', heavy };
}

/**
 * The general kernel's tables as uniform bindings (kernel.ts, generalTableBindings), each where it
 * fits one binding: the factor window of `factorRows` rows (the plan's window, so that it costs no
 * extra dispatches), the `rows` step rows, the component infos; null where none fits.
 */
function generalUniformTables(
  gpu: GpuContext,
  dim: number,
  mixture: MixtureTable,
  counts: { factorRows: number; rows: number },
): GeneralUniform | null {
  const limit = gpu.limits.maxUniformBufferBindingSize ?? UNIFORM_TABLE_BYTES;
  const factorBytes = Math.ceil((counts.factorRows * mixture.comps.length * factorStride(dim)) / 4) * 16;
  const u = {
    factorBytes: factorBytes <= limit ? factorBytes : 0,
    rows: counts.rows * structBytes(STEP_ROW) <= limit ? counts.rows : 0,
    components: mixture.comps.length * structBytes(COMPONENT_INFO) <= limit ? mixture.comps.length : 0,
  };
  return u.factorBytes || u.rows || u.components ? u : null;
}

/** step-gauss4's tables as uniform bindings where one step's tables fit (kernel.ts, gauss4TableBindings), else 0. */
function gauss4UniformBytes(gpu: GpuContext, dim: number, table: StepTable, mixture: MixtureTable): number {
  const components = mixture.comps.length;
  const uniformBytes = Math.min(UNIFORM_TABLE_BYTES, gpu.limits.maxUniformBufferBindingSize ?? UNIFORM_TABLE_BYTES);
  const fits =
    table.stages * components * factorStride(dim) * 4 <= uniformBytes &&
    table.stages * GAUSS4_ROW_SLOT_BYTES <= uniformBytes &&
    components * structBytes(COMPONENT_INFO) <= uniformBytes &&
    Math.ceil((2 * dim) / 4) * 16 <= uniformBytes;
  return fits ? uniformBytes : 0;
}

function dispatchPlan(
  gpu: GpuContext,
  spec: ExperimentSpec,
  opts: GpuSampleOptions,
  s: Pick<
    Setup,
    'table' | 'mixture' | 'kernel' | 'gauss4' | 'uniformTableBytes' | 'trained' | 'learned' | 'count' | 'heavy'
  >,
): DispatchPlan {
  return planDispatch({
    particles: s.count,
    dim: spec.dim,
    components: s.heavy ? s.heavy.target + s.heavy.negative : s.mixture.comps.length,
    stages: s.table.stages,
    steps: s.table.steps,
    fullCovariance: s.mixture.fullCovariance,
    factorStride: s.heavy ? s.heavy.stride : factorStride(spec.dim),
    limits: gpu.limits,
    chunkParticles: opts.chunkParticles,
    stepsPerDispatch: opts.stepsPerDispatch,
    particlesPerInvocation: particlesPerInvocation(s.kernel, s.gauss4?.lanes, s.heavy),
    workgroupSize: s.gauss4?.workgroupSize,
    tableWindows:
      s.kernel === 'step-gauss4'
        ? {
            bindingBytes: s.uniformTableBytes || gpu.limits.maxStorageBufferBindingSize,
            rowBytes: GAUSS4_ROW_SLOT_BYTES,
          }
        : s.heavy?.rows === 'uniform'
          ? { bindingBytes: gpu.limits.maxUniformBufferBindingSize, rowBytes: 0, factorsPerStage: true }
          : undefined,
    // A trained classifier: forward and backward passes through up to two levels' networks.
    // A learned denoiser: one MLP forward pass per slot.
    extraWorkPerEvaluation:
      (s.trained ? 4 * s.trained.model.nets[0].params.length : 0) + (s.learned ? denoiserWork(s.learned) : 0),
  });
}

/** step-heavy with uniform rows: stage i's window of the factor buffer at binding HEAVY_STAGE_BINDING + i. */
function heavyStageWindows(
  heavy: HeavyLayout | null,
  factors: GPUBuffer,
): (readonly [number, GPUBuffer, { offset: number; size: number }])[] {
  if (heavy?.rows !== 'uniform') return [];
  const { blockBytes, blockStride } = heavyUniformBlocks(heavy);
  return Array.from({ length: heavy.stages }, (_, i) => [
    HEAVY_STAGE_BINDING + i,
    factors,
    { offset: i * blockStride, size: blockBytes },
  ]);
}

/** The step kernel's specialisation for this call. */
function kernelConfig(s: Setup): KernelConfig {
  const { spec, mixture, scoreError, table, trained } = s;
  const field = scoreError.field;
  const additive = scoreError.bias !== null || field !== null;
  return {
    kernel: s.kernel,
    dim: spec.dim,
    components: mixture.comps.length,
    targetComponents: mixture.targetCount,
    tableau: s.tableau,
    hasUniform: mixture.comps.some((c) => c.kind === 'uniform'),
    fullCovariance: mixture.fullCovariance,
    negativeFromTargetShift: mixture.negativeFromTargetShift,
    priorScale: s.priorScale,
    tile: s.tile,
    heavy: s.heavy,
    variant: s.variant,
    scoreError: {
      target: scoreError.appliesToTarget && additive,
      negative: scoreError.appliesToNegative && additive,
      bias: scoreError.bias !== null,
      features: field ? field.features : 0,
      offset: mixture.errorOffset,
    },
    extra: {
      count: mixture.extraGroups,
      meanOffset: mixture.extraMeanOffset,
      gammaOffset: mixture.extraGammaOffset,
    },
    fk: s.fk,
    logDensity: s.logDensity !== null,
    uniformTableBytes: s.uniformTableBytes,
    generalUniform: s.generalUniform,
    lanes: s.gauss4?.lanes,
    fastShader: s.gauss4?.shader,
    componentMasks: s.mixture.entries.map((e) => e.mask),
    workgroupSize: s.gauss4?.workgroupSize,
    sampler: table.sampler
      ? { histories: table.sampler.histories, offset: mixture.samplerOffset, stride: table.sampler.stride }
      : null,
    classifier: trained
      ? { layout: classifierLayout(trained.model), target: classifierTarget(trained.model, spec.target) }
      : null,
    denoiser: s.learned ? denoiserLayout(s.learned) : null,
  };
}

interface StepBuffers {
  params: GPUBuffer;
  rows: GPUBuffer;
  factors: GPUBuffer;
  components: GPUBuffer;
  statics: GPUBuffer;
  particles: GPUBuffer;
  states: GPUBuffer;
  weights: GPUBuffer;
  classifier: GPUBuffer | null;
  denoiser: GPUBuffer | null;
  readback: GPUBuffer | null;
  logqReadback: GPUBuffer | null;
}

/**
 * One chunk's buffers. step-gauss4 reads its rows as a per-dispatch window of 16-byte-aligned
 * slots and its tables as vec4s, from uniform bindings where they fit.
 */
function allocate(pool: BufferPool, s: Setup, readsChunks: boolean): StepBuffers {
  const { spec, table, mixture, plan, trained, logDensity } = s;
  const dim = spec.dim;
  const gauss4 = s.kernel === 'step-gauss4';
  const { STORAGE, UNIFORM, COPY_DST, COPY_SRC, MAP_READ } = GPUBufferUsage;
  const tableUsage = gauss4 && s.uniformTableBytes > 0 ? UNIFORM : STORAGE;
  const rowsWindowBytes =
    s.uniformTableBytes > 0
      ? Math.floor(s.uniformTableBytes / GAUSS4_ROW_SLOT_BYTES) * GAUSS4_ROW_SLOT_BYTES
      : plan.stepsPerDispatch * table.stages * GAUSS4_ROW_SLOT_BYTES;
  const staticsPadded = new Float32Array(Math.ceil(mixture.statics.length / 4) * 4);
  staticsPadded.set(mixture.statics);
  const factorWindowFloats = s.heavy
    ? plan.stepsPerDispatch * table.stages * (s.heavy.target + s.heavy.negative) * s.heavy.stride
    : plan.stepsPerDispatch * table.stages * mixture.comps.length * factorStride(dim);
  const particlesBytes = plan.chunkParticles * dim * 4;
  const stateFloats = stateStride({ variant: s.variant, dim, sampler: table.sampler ?? null });
  return {
    rows: gauss4
      ? pool.create('step rows window', rowsWindowBytes, tableUsage | COPY_DST)
      : pool.upload('step rows', packStepRows(table.rows), s.generalUniform?.rows ? UNIFORM : STORAGE),
    components: pool.upload(
      'component infos',
      mixture.componentInfos,
      s.generalUniform?.components ? UNIFORM : tableUsage,
    ),
    statics: pool.upload('statics (group means, eigenbases)', gauss4 ? staticsPadded : mixture.statics, tableUsage),
    factors:
      s.heavy?.rows === 'uniform'
        ? pool.create(
            'heavy entries, a uniform window per stage',
            table.stages * heavyUniformBlocks(s.heavy).blockStride,
            // STORAGE too: binding 2 stays in the kernel's layout (the tiles' code, dead here).
            UNIFORM | STORAGE | COPY_DST,
          )
        : pool.create(
            'component factors window',
            s.uniformTableBytes > 0 ? s.uniformTableBytes : Math.ceil(factorWindowFloats / 4) * 16,
            (s.generalUniform?.factorBytes ? UNIFORM : tableUsage) | COPY_DST,
          ),
    params: pool.create('step params', structBytes(STEP_PARAMS), UNIFORM | COPY_DST),
    particles: pool.create('particles chunk', particlesBytes, STORAGE | COPY_SRC | COPY_DST),
    states: pool.create(
      'per-particle states (apg momentum, sampler histories)',
      plan.chunkParticles * stateFloats * 4,
      STORAGE,
    ),
    weights: logDensity
      ? pool.create('log q chunk', plan.chunkParticles * 4, STORAGE | COPY_SRC | COPY_DST)
      : pool.create('fk log-weights (unused)', 16, STORAGE),
    logqReadback: logDensity ? pool.create('log q readback', plan.chunkParticles * 4, MAP_READ | COPY_DST) : null,
    classifier: trained
      ? pool.upload(
          'classifier levels and rows',
          packClassifier(trained.model, classifierLayout(trained.model), table.rows, wSchedule(trained.w)),
        )
      : null,
    denoiser: s.learned
      ? pool.upload(
          'learned denoiser weights and rows',
          packDenoisers(s.learned, denoiserLayout(s.learned), table.rows),
        )
      : null,
    readback: readsChunks || logDensity ? pool.create('particles readback', particlesBytes, MAP_READ | COPY_DST) : null,
  };
}

/** Each chunk stepped through every dispatch window, then read back (or left on the GPU); returns the dispatch count. */
async function runChunks(
  gpu: GpuContext,
  s: Setup,
  buffers: StepBuffers,
  step: { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup },
  opts: GpuSampleOptions,
): Promise<number> {
  const { device } = gpu;
  const { spec, table, plan, logDensity } = s;
  const dim = spec.dim;
  const windows = tableWindows(s);
  const first = opts.firstParticle ?? 0;
  let dispatches = 0;
  let hostChunk: Float32Array | null = null;
  for (let chunkStart = 0; chunkStart < s.count; chunkStart += plan.chunkParticles) {
    const count = Math.min(plan.chunkParticles, s.count - chunkStart);
    const starts = logDensity?.starts?.(first + chunkStart, count) ?? null;
    if (starts) {
      device.queue.writeBuffer(buffers.particles, 0, starts.x as Float32Array<ArrayBuffer>, 0, count * dim);
      device.queue.writeBuffer(buffers.weights, 0, starts.logq as Float32Array<ArrayBuffer>, 0, count);
    }
    for (let firstStep = 0; firstStep < table.steps; firstStep += plan.stepsPerDispatch) {
      const stepCount = Math.min(plan.stepsPerDispatch, table.steps - firstStep);
      device.queue.writeBuffer(buffers.factors, 0, windows.factors(firstStep, stepCount) as Float32Array<ArrayBuffer>);
      const rows = windows.rows(firstStep, stepCount);
      if (rows) device.queue.writeBuffer(buffers.rows, 0, rows as Float32Array<ArrayBuffer>);
      const initialise = firstStep === 0 && !starts ? 1 : 0;
      const params = {
        particleOffset: first + chunkStart,
        particleCount: count,
        firstStep,
        stepCount,
        seed: spec.seed,
        initialise,
      };
      device.queue.writeBuffer(buffers.params, 0, packStructs(STEP_PARAMS, [params]));
      dispatch(device, `steps ${firstStep}..${firstStep + stepCount}`, step.pipeline, step.bindGroup, plan.grid(count));
      dispatches++;
      const stepsDone = firstStep + stepCount;
      await opts.afterDispatch?.({ chunkStart, count, stepsDone, steps: table.steps, particles: buffers.particles });
    }
    const bytes = count * dim * 4;
    if (logDensity && buffers.readback && buffers.logqReadback) {
      const [x, logq] = await readCopies(gpu, [
        [buffers.particles, buffers.readback, bytes],
        [buffers.weights, buffers.logqReadback, count * 4],
      ]);
      logDensity.onChunk(x, logq, count);
    } else if (opts.onChunk && buffers.readback) {
      // reuseChunk: one host array for every chunk (bounded memory), else a fresh one the callee may keep.
      if (opts.reuseChunk) hostChunk ??= new Float32Array(plan.chunkParticles * dim);
      const into = hostChunk?.subarray(0, count * dim);
      const [chunk] = await readCopies(gpu, [[buffers.particles, buffers.readback, bytes]], into);
      await opts.onChunk(chunk, count);
    }
    opts.onProgress?.(chunkStart + count, s.count);
  }
  return dispatches;
}

/**
 * The per-dispatch windows of the step tables: the factor table (the same for every chunk:
 * each built once, on first use) and, for step-gauss4, the rows in 16-byte-aligned slots.
 */
function tableWindows(s: Setup): {
  factors(firstStep: number, stepCount: number): Float32Array;
  rows(firstStep: number, stepCount: number): Float32Array | null;
} {
  const { table, mixture } = s;
  const cache = new Map<number, Float32Array>();
  const packedRows = s.kernel === 'step-gauss4' ? new Float32Array(packStepRows(table.rows)) : null;
  const rowSlotFloats = GAUSS4_ROW_SLOT_BYTES / 4;
  const words = STEP_ROW.fields.length;
  return {
    factors(firstStep, stepCount) {
      let w = cache.get(firstStep);
      if (w) return w;
      const rows = table.rows.slice(firstStep * table.stages, (firstStep + stepCount) * table.stages);
      w = s.heavy ? heavyFactors(rows, mixture, s.scoreError.blur2, s.heavy) : mixture.factorsFor(rows);
      if (cache.size < 64) cache.set(firstStep, w);
      return w;
    },
    rows(firstStep, stepCount) {
      if (!packedRows) return null;
      const w = new Float32Array(stepCount * table.stages * rowSlotFloats);
      for (let r = 0; r < stepCount * table.stages; r++) {
        const src = (firstStep * table.stages + r) * words;
        w.set(packedRows.subarray(src, src + words), r * rowSlotFloats);
      }
      return w;
    },
  };
}

function wSchedule(w: number | WSchedule): WSchedule {
  return typeof w === 'number' ? { kind: 'constant', w } : w;
}
