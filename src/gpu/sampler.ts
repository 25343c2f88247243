// The WebGPU backend's host: turns a validated spec into buffers, the per-step
// tables, and dispatches of the step kernel over particle chunks, streaming each
// finished chunk back to the caller. Platform-agnostic: the caller brings the
// GpuContext (Node Dawn or the browser).
import type { ExperimentSpec, WSchedule } from '../experiment/types.ts';
import { planGuidance, type GuidancePlan } from '../guidance/guidance.ts';
import { prepareScoreError, type PreparedScoreError } from '../model/score-error.ts';
import { combinesLinearly } from '../guidance/variants.ts';
import { buildModel, groupDataMean } from '../model/mixture.ts';
import type { PerLevelClassifier } from '../studies/classifiers/classifier.ts';
import { classifierLayout, classifierTarget, packClassifier } from './classifier.ts';
import { componentAtTime, makeComponentAtTime } from '../model/components.ts';
import { priorScale } from '../processes/process.ts';
import { buildStepTable, type StepRow, type StepTable } from '../solvers/table.ts';
import type { PreparedComponent } from '../model/components.ts';
import type { FkReport } from '../corrector/fk.ts';
import { runFkPopulation } from './fk.ts';
import { TABLEAUS } from '../solvers/tableau.ts';
import type { GpuContext } from './device.ts';
import {
  createStepPipeline,
  factorStride,
  GAUSS4_ROW_SLOT_BYTES,
  particlesPerInvocation,
  stateStride,
  tileComponents,
  UNIFORM_TABLE_BYTES,
} from './kernel.ts';
import { COMPONENT_INFO, packStructs, STEP_PARAMS, STEP_ROW, structBytes } from './layout.ts';
import { planDispatch, type DispatchPlan } from './planner.ts';

const KIND_GAUSSIAN = 0;
const KIND_GAUSSIAN_FULL = 1;
const KIND_UNIFORM = 2;

export interface DispatchInfo {
  /** Index of the chunk's first particle (relative to firstParticle). */
  chunkStart: number;
  count: number;
  /** Steps completed for this chunk after this dispatch (== steps when the chunk is done). */
  stepsDone: number;
  steps: number;
  /** The chunk's particles on the GPU (row-major count x dim f32), valid until the next dispatch. */
  particles: GPUBuffer;
}

export interface GpuSampleOptions {
  /**
   * Receives each finished chunk read back: row-major count x dim f32 (a fresh array the
   * callee may keep). Without it nothing is read back (use afterDispatch to stay on the GPU).
   */
  onChunk?: (chunk: Float32Array, count: number) => void;
  /**
   * onChunk receives a view of one host array reused for every chunk (valid during the call)
   * instead of a fresh one: bounded memory for a caller that folds chunks into a summary.
   */
  reuseChunk?: boolean;
  /**
   * Called after every dispatch, once its work is submitted: GPU-side metrics bin the
   * particles here without a readback, and a page yields to the browser (await a frame).
   */
  afterDispatch?: (info: DispatchInfo) => void | Promise<void>;
  onProgress?: (done: number, total: number) => void;
  /** Dispatch planner overrides (tests force splitting with these). */
  chunkParticles?: number;
  stepsPerDispatch?: number;
  /** First particle index (default 0): sample particles [first, first + spec.particles). */
  firstParticle?: number;
  /** 'auto' (default) uses the four-particle fast path when the spec qualifies; 'general' never does. */
  kernel?: 'auto' | 'general';
  /** Stage component factors through workgroup memory: 'auto' (default: when there are many) or 'never'. */
  staging?: 'auto' | 'never';
  /** fk only: each step's log-weights and particles, before any resampling (tests compare them with the CPU's). */
  onWeights?: (step: number, logWeights: Float32Array, particles: Float32Array) => void;
  /** fk only: the ancestor of each slot at each resampling. */
  onAncestors?: (step: number, ancestors: Uint32Array) => void;
  /**
   * Classifier guidance with a trained classifier (src/studies/classifiers/): the particles follow
   * s = s_u + w(t) grad_x log p_hat_t(spec.target | x), s_u the exact unconditional score, as
   * src/studies/classifiers/sample.ts's sampleWithClassifier on the CPU. The spec's own guidance is
   * ignored; the general kernel runs it (shaders/classifier.wgsl); no corrector.
   */
  classifier?: { model: PerLevelClassifier; w: number | WSchedule };
  /** Carry log q per particle (src/gpu/log-density.ts validates the spec and calls this). */
  logDensity?: LogDensityHooks;
}

/** The log-density mode's hooks into the sampler (src/gpu/log-density.ts). */
export interface LogDensityHooks {
  /** The step table to run (default: the spec's, from the start time down to tMin). */
  table?: StepTable;
  /** Initial points and log-densities for particles [first, first + count); none: the in-kernel prior draw. */
  starts?: (first: number, count: number) => { x: Float32Array; logq: Float32Array };
  /** Each finished chunk: points (count x dim) and log q (count). */
  onChunk: (x: Float32Array, logq: Float32Array, count: number) => void;
}

export interface GpuSampleInfo {
  adapter: string;
  plan: { chunkParticles: number; chunks: number; stepsPerDispatch: number; dispatches: number };
  /** Which step kernel ran. */
  kernel: 'step' | 'step-gauss4';
  /** Components per workgroup-memory tile (0: none). */
  tile: number;
  /** How step-gauss4 read its per-step tables ('storage' for the general kernel). */
  tables: 'uniform' | 'storage';
  /** The Feynman-Kac corrector's diagnostics, when the spec has one. */
  fk?: FkReport;
}

export async function sampleWebGpu(
  gpu: GpuContext,
  specIn: ExperimentSpec,
  opts: GpuSampleOptions,
): Promise<GpuSampleInfo> {
  const { device } = gpu;
  const trained = opts.classifier ?? null;
  if (trained && specIn.corrector)
    throw new Error('classifier guidance with a trained classifier: no corrector (the spec has one)');
  // Trained-classifier guidance walks the unconditional law as the target group, weight (1, 0),
  // and adds the classifier's term in the kernel; like sampleWithClassifier, with the exact
  // unconditional score (no score-error model).
  const spec: ExperimentSpec = trained
    ? { ...specIn, guidance: { kind: 'none' }, scoreError: { kind: 'none' } }
    : specIn;
  const dim = spec.dim;
  const guidance = trained ? unconditionalPlan(spec) : planGuidance(spec);
  const logDensity = opts.logDensity ?? null;
  // The exact start law is drawn on the host (CpuStepper.initParticles) and uploaded; the
  // in-kernel draw is the prior only, so a run without uploaded starts must not pretend otherwise.
  if (spec.start === 'exact' && !logDensity?.starts) {
    throw new Error(
      'start: "exact" on webgpu needs uploaded start points (the log-density path, e.g. run --log-density); use --backend cpu',
    );
  }
  const table = logDensity?.table ?? buildStepTable(spec, guidance);
  const tableau = TABLEAUS[spec.solver.kind];
  const model = guidance.model;

  const scoreError = prepareScoreError(spec.scoreError ?? { kind: 'none' }, dim);
  const variant = spec.guidance.kind === 'cfg' ? spec.guidance.variant : ({ kind: 'linear' } as const);
  const entries = componentEntries(guidance, scoreError);
  const comps = entries.list.map((e) => model.components[e.component]);
  const fullCovariance = comps.some((c) => c.kind === 'gaussian' && c.basis !== null);
  const infos = entries.list.map((e, k) => {
    const c = comps[k];
    const kind = c.kind === 'uniform' ? KIND_UNIFORM : c.basis !== null ? KIND_GAUSSIAN_FULL : KIND_GAUSSIAN;
    return { kind, mask: e.mask, logWeightTarget: e.logWeightTarget, logWeightNegative: e.logWeightNegative };
  });

  // statics: [target data mean, negative data mean, eigenbases per entry (if any full), score-error parameters]
  const basesOffset = 2 * dim;
  const errorOffset = basesOffset + (fullCovariance ? comps.length * dim * dim : 0);
  const field = scoreError.field;
  const errorFloats = scoreError.bias ? dim : field ? field.features * (2 * dim + 1) : 0;
  // The k-diffusion samplers' per-step coefficients after everything else (src/solvers/samplers.ts).
  const samplerOffset = errorOffset + errorFloats;
  const statics = new Float32Array(samplerOffset + (table.sampler?.coefs.length ?? 0));
  if (table.sampler) statics.set(table.sampler.coefs, samplerOffset);
  statics.set(groupDataMean(model, guidance.target), 0);
  if (guidance.negative) statics.set(groupDataMean(model, guidance.negative), dim);
  if (fullCovariance) {
    comps.forEach((c, k) => {
      if (c.kind === 'gaussian' && c.basis) statics.set(c.basis, basesOffset + k * dim * dim);
    });
  }
  if (scoreError.bias) statics.set(scoreError.bias, errorOffset);
  if (field) {
    for (let f = 0; f < field.features; f++) {
      const o = errorOffset + f * (2 * dim + 1);
      statics.set(field.omega.subarray(f * dim, (f + 1) * dim), o);
      statics.set(field.direction.subarray(f * dim, (f + 1) * dim), o + dim);
      statics[o + 2 * dim] = field.phase[f];
    }
  }

  const fk = spec.corrector?.kind === 'fk';
  if (table.sampler && (trained || logDensity || fk)) {
    throw new Error(`solver.kind: ${spec.solver.kind} runs without a trained classifier, log-density or a corrector`);
  }
  const kernel =
    opts.kernel !== 'general' &&
    !table.sampler &&
    !trained &&
    !logDensity &&
    !fk &&
    comps.every((c) => c.kind === 'gaussian' && c.basis === null) &&
    combinesLinearly(variant) &&
    scoreError.bias === null &&
    field === null
      ? 'step-gauss4'
      : 'step';
  const stride = factorStride(dim);
  // ---- step-gauss4 tables: uniform bindings where one step's tables fit (kernel.ts, gauss4TableBindings) ----
  const gauss4 = kernel === 'step-gauss4';
  const uniformBytes = Math.min(UNIFORM_TABLE_BYTES, gpu.limits.maxUniformBufferBindingSize ?? UNIFORM_TABLE_BYTES);
  const uniformTableBytes =
    gauss4 &&
    table.stages * comps.length * stride * 4 <= uniformBytes &&
    table.stages * GAUSS4_ROW_SLOT_BYTES <= uniformBytes &&
    comps.length * structBytes(COMPONENT_INFO) <= uniformBytes &&
    Math.ceil((2 * dim) / 4) * 16 <= uniformBytes
      ? uniformBytes
      : 0;
  const plan: DispatchPlan = planDispatch({
    particles: spec.particles,
    dim,
    components: comps.length,
    stages: table.stages,
    steps: table.steps,
    fullCovariance,
    factorStride: stride,
    limits: gpu.limits,
    chunkParticles: opts.chunkParticles,
    stepsPerDispatch: opts.stepsPerDispatch,
    particlesPerInvocation: particlesPerInvocation(kernel),
    tableWindows: gauss4
      ? { bindingBytes: uniformTableBytes || gpu.limits.maxStorageBufferBindingSize, rowBytes: GAUSS4_ROW_SLOT_BYTES }
      : undefined,
    // A trained classifier: forward and backward passes through up to two levels' networks.
    extraWorkPerEvaluation: trained ? 4 * trained.model.nets[0].params.length : 0,
  });

  const tile =
    kernel === 'step' && opts.staging !== 'never'
      ? tileComponents(dim, comps.length, gpu.limits.maxComputeWorkgroupStorageSize)
      : 0;
  const pipeline = await createStepPipeline(device, gpu.platform, {
    kernel,
    dim,
    components: comps.length,
    targetComponents: entries.targetCount,
    tableau,
    hasUniform: comps.some((c) => c.kind === 'uniform'),
    fullCovariance,
    negativeFromTargetShift: entries.negativeFromTargetShift,
    priorScale: priorScale(spec.process),
    tile,
    variant,
    scoreError: {
      target: scoreError.appliesToTarget && (scoreError.bias !== null || field !== null),
      negative: scoreError.appliesToNegative && (scoreError.bias !== null || field !== null),
      bias: scoreError.bias !== null,
      features: field ? field.features : 0,
      offset: errorOffset,
    },
    fk,
    logDensity: logDensity !== null,
    uniformTableBytes,
    sampler: table.sampler
      ? { histories: table.sampler.histories, offset: samplerOffset, stride: table.sampler.stride }
      : null,
    classifier: trained
      ? { layout: classifierLayout(trained.model), target: classifierTarget(trained.model, spec.target) }
      : null,
  });

  // Per (row, component entry) factors for a list of rows (one dispatch's window).
  const factorsFor = (windowRows: readonly StepRow[]): Float32Array =>
    buildFactors(windowRows, comps, entries.list, scoreError.blur2, dim);

  if (fk) {
    return runFkPopulation(
      gpu,
      spec,
      {
        pipeline,
        table,
        componentInfos: packStructs(COMPONENT_INFO, infos),
        statics,
        factorsFor,
        tile,
      },
      opts,
    );
  }

  const buffers: GPUBuffer[] = [];
  const makeBuffer = (label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer => {
    const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 4) * 4), usage });
    buffers.push(b);
    return b;
  };
  const upload = (label: string, data: ArrayBuffer | ArrayBufferView, usage = GPUBufferUsage.STORAGE): GPUBuffer => {
    const bytes = ArrayBuffer.isView(data) ? data.byteLength : data.byteLength;
    const b = makeBuffer(label, bytes, usage | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(b, 0, data as ArrayBuffer);
    return b;
  };

  let dispatches = 0;
  try {
    // step-gauss4: rows as a per-dispatch window of 16-byte-aligned slots, tables as vec4s, uniform where they fit.
    const tableUsage = uniformTableBytes > 0 ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE;
    const rowSlotFloats = GAUSS4_ROW_SLOT_BYTES / 4;
    const rowsBuffer = gauss4
      ? makeBuffer(
          'step rows window',
          uniformTableBytes > 0
            ? Math.floor(uniformTableBytes / GAUSS4_ROW_SLOT_BYTES) * GAUSS4_ROW_SLOT_BYTES
            : plan.stepsPerDispatch * table.stages * GAUSS4_ROW_SLOT_BYTES,
          tableUsage | GPUBufferUsage.COPY_DST,
        )
      : upload('step rows', packStructs(STEP_ROW, table.rows));
    const componentsBuffer = upload(
      'component infos',
      packStructs(COMPONENT_INFO, infos),
      gauss4 ? tableUsage : GPUBufferUsage.STORAGE,
    );
    const staticsPadded = new Float32Array(Math.ceil(statics.length / 4) * 4);
    staticsPadded.set(statics);
    const staticsBuffer = upload(
      'statics (group means, eigenbases)',
      gauss4 ? staticsPadded : statics,
      gauss4 ? tableUsage : GPUBufferUsage.STORAGE,
    );
    const factorWindowFloats = plan.stepsPerDispatch * table.stages * comps.length * stride;
    const factorsBuffer = makeBuffer(
      'component factors window',
      uniformTableBytes > 0 ? uniformTableBytes : Math.ceil(factorWindowFloats / 4) * 16,
      (gauss4 ? tableUsage : GPUBufferUsage.STORAGE) | GPUBufferUsage.COPY_DST,
    );
    const packedRows = gauss4 ? new Float32Array(packStructs(STEP_ROW, table.rows)) : null;
    const rowWindow = (firstStep: number, stepCount: number): Float32Array => {
      const w = new Float32Array(stepCount * table.stages * rowSlotFloats);
      const words = STEP_ROW.fields.length;
      for (let r = 0; r < stepCount * table.stages; r++) {
        const src = (firstStep * table.stages + r) * words;
        w.set(packedRows!.subarray(src, src + words), r * rowSlotFloats);
      }
      return w;
    };
    const paramsBuffer = makeBuffer(
      'step params',
      structBytes(STEP_PARAMS),
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    );
    const particlesBytes = plan.chunkParticles * dim * 4;
    const particlesBuffer = makeBuffer(
      'particles chunk',
      particlesBytes,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    );
    const statesBuffer = makeBuffer(
      'per-particle states (apg momentum, sampler histories)',
      plan.chunkParticles * stateStride({ variant, dim, sampler: table.sampler ?? null }) * 4,
      GPUBufferUsage.STORAGE,
    );
    const weightsBuffer = logDensity
      ? makeBuffer(
          'log q chunk',
          plan.chunkParticles * 4,
          GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        )
      : makeBuffer('fk log-weights (unused)', 16, GPUBufferUsage.STORAGE);
    const logqReadback = logDensity
      ? makeBuffer('log q readback', plan.chunkParticles * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST)
      : null;
    const classifierBuffer = trained
      ? upload(
          'classifier levels and rows',
          packClassifier(trained.model, classifierLayout(trained.model), table.rows, wSchedule(trained.w)),
        )
      : null;
    const readback =
      opts.onChunk || logDensity
        ? makeBuffer('particles readback', particlesBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST)
        : null;

    const bindGroup = device.createBindGroup({
      label: 'step bind group',
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: paramsBuffer } },
        { binding: 1, resource: { buffer: rowsBuffer } },
        { binding: 2, resource: { buffer: factorsBuffer } },
        { binding: 3, resource: { buffer: componentsBuffer } },
        { binding: 4, resource: { buffer: staticsBuffer } },
        { binding: 5, resource: { buffer: particlesBuffer } },
        ...(kernel === 'step'
          ? [
              { binding: 6, resource: { buffer: statesBuffer } },
              { binding: 7, resource: { buffer: weightsBuffer } },
            ]
          : []),
        ...(classifierBuffer ? [{ binding: 8, resource: { buffer: classifierBuffer } }] : []),
      ],
    });

    // Factor windows are the same for every chunk: build each once, on first use.
    const windows = new Map<number, Float32Array>();
    const factorWindow = (firstStep: number, stepCount: number): Float32Array => {
      let w = windows.get(firstStep);
      if (w) return w;
      w = factorsFor(table.rows.slice(firstStep * table.stages, (firstStep + stepCount) * table.stages));
      if (windows.size < 64) windows.set(firstStep, w);
      return w;
    };

    const first = opts.firstParticle ?? 0;
    let hostChunk: Float32Array | null = null;
    for (let chunkStart = 0; chunkStart < spec.particles; chunkStart += plan.chunkParticles) {
      const count = Math.min(plan.chunkParticles, spec.particles - chunkStart);
      const [gx, gy] = plan.grid(count);
      const starts = logDensity?.starts?.(first + chunkStart, count) ?? null;
      if (starts) {
        device.queue.writeBuffer(particlesBuffer, 0, starts.x as Float32Array<ArrayBuffer>, 0, count * dim);
        device.queue.writeBuffer(weightsBuffer, 0, starts.logq as Float32Array<ArrayBuffer>, 0, count);
      }
      for (let step = 0; step < table.steps; step += plan.stepsPerDispatch) {
        const stepCount = Math.min(plan.stepsPerDispatch, table.steps - step);
        device.queue.writeBuffer(factorsBuffer, 0, factorWindow(step, stepCount) as Float32Array<ArrayBuffer>);
        if (gauss4) device.queue.writeBuffer(rowsBuffer, 0, rowWindow(step, stepCount) as Float32Array<ArrayBuffer>);
        const params = {
          particleOffset: first + chunkStart,
          particleCount: count,
          firstStep: step,
          stepCount,
          seed: spec.seed,
          initialise: step === 0 && !starts ? 1 : 0,
        };
        device.queue.writeBuffer(paramsBuffer, 0, packStructs(STEP_PARAMS, [params]));
        const encoder = device.createCommandEncoder({ label: `steps ${step}..${step + stepCount}` });
        const pass = encoder.beginComputePass({ label: `step pass ${step}` });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(gx, gy);
        pass.end();
        device.queue.submit([encoder.finish()]);
        dispatches++;
        await opts.afterDispatch?.({
          chunkStart,
          count,
          stepsDone: step + stepCount,
          steps: table.steps,
          particles: particlesBuffer,
        });
      }
      if (logDensity) {
        const [x, logq] = await readChunk(
          gpu,
          [particlesBuffer, readback!, count * dim * 4],
          [weightsBuffer, logqReadback!, count * 4],
        );
        logDensity.onChunk(x, logq, count);
        opts.onProgress?.(chunkStart + count, spec.particles);
        continue;
      }
      if (!opts.onChunk) {
        opts.onProgress?.(chunkStart + count, spec.particles);
        continue;
      }
      const encoder = device.createCommandEncoder({ label: 'readback' });
      encoder.copyBufferToBuffer(particlesBuffer, 0, readback!, 0, count * dim * 4);
      device.queue.submit([encoder.finish()]);
      await gpu.guard(readback!.mapAsync(GPUMapMode.READ, 0, count * dim * 4));
      let chunk: Float32Array;
      if (opts.reuseChunk) {
        hostChunk ??= new Float32Array(plan.chunkParticles * dim);
        chunk = hostChunk.subarray(0, count * dim);
        chunk.set(new Float32Array(readback!.getMappedRange(0, count * dim * 4)));
      } else {
        chunk = new Float32Array(readback!.getMappedRange(0, count * dim * 4).slice(0));
      }
      readback!.unmap();
      opts.onChunk(chunk, count);
      opts.onProgress?.(chunkStart + count, spec.particles);
    }
    // Without a readback nothing above waited for the GPU: wait here so errors surface.
    if (!opts.onChunk) await gpu.guard(device.queue.onSubmittedWorkDone());
    gpu.checkErrors();
  } finally {
    for (const b of buffers) b.destroy();
  }
  return {
    adapter: gpu.adapterInfo.label,
    plan: {
      chunkParticles: plan.chunkParticles,
      chunks: plan.chunks,
      stepsPerDispatch: plan.stepsPerDispatch,
      dispatches,
    },
    kernel,
    tile,
    tables: uniformTableBytes > 0 ? 'uniform' : 'storage',
  };
}

/** Copies each (source, readback, bytes) and reads them back as fresh f32 arrays. */
async function readChunk(gpu: GpuContext, ...copies: [GPUBuffer, GPUBuffer, number][]): Promise<Float32Array[]> {
  const encoder = gpu.device.createCommandEncoder({ label: 'log-density readback' });
  for (const [src, dst, bytes] of copies) encoder.copyBufferToBuffer(src, 0, dst, 0, bytes);
  gpu.device.queue.submit([encoder.finish()]);
  const out: Float32Array[] = [];
  for (const [, dst, bytes] of copies) {
    await gpu.guard(dst.mapAsync(GPUMapMode.READ, 0, bytes));
    out.push(new Float32Array(dst.getMappedRange(0, bytes).slice(0)));
    dst.unmap();
  }
  return out;
}

/** The plan of trained-classifier guidance: the unconditional law alone, weight (1, 0). */
function unconditionalPlan(spec: ExperimentSpec): GuidancePlan {
  const model = buildModel(spec);
  return { model, target: model.unconditional, negative: null, coefficients: () => [1, 0] };
}

function wSchedule(w: number | WSchedule): WSchedule {
  return typeof w === 'number' ? { kind: 'constant', w } : w;
}

/**
 * The per-(row, component entry) factor table of the step kernel for `rows`, in f32:
 *   gaussian: [logNorm, 1/sigma, invVar[dim], shift[dim]], uniform: [logNorm, 1/sigma, shift[dim], shift2[dim]].
 */
function buildFactors(
  rows: readonly StepRow[],
  comps: readonly PreparedComponent[],
  entries: readonly ComponentEntry[],
  blur2: number,
  dim: number,
): Float32Array {
  const stride = factorStride(dim);
  const w = new Float32Array(rows.length * comps.length * stride);
  const scratch = makeComponentAtTime(dim);
  rows.forEach((row, r) => {
    comps.forEach((c, k) => {
      // A blurred score error sees the data convolved with N(0, delta^2): sigma^2 + alpha^2 delta^2.
      const sigma2 = row.sigma2 + (entries[k].blurred ? row.alpha * row.alpha * blur2 : 0);
      componentAtTime(c, row.alpha, sigma2, scratch);
      const o = (r * comps.length + k) * stride;
      w[o] = scratch.logNorm;
      w[o + 1] = 1 / Math.sqrt(sigma2);
      if (c.kind === 'gaussian') {
        w.set(scratch.invVar, o + 2);
        w.set(scratch.shift, o + 2 + dim);
      } else {
        w.set(scratch.shift, o + 2);
        w.set(scratch.shift2, o + 2 + dim);
      }
    });
  });
  return w;
}

interface ComponentEntry {
  component: number;
  /** Evaluated with the blurred score error's wider law. */
  blurred: boolean;
  mask: number;
  logWeightTarget: number;
  logWeightNegative: number;
}

/**
 * The component entries the kernel walks, target first. An entry serves both groups when
 * both see it the same way; when the negative holds the whole target at a fixed log-weight
 * shift, the negative's copies are not walked at all (the kernel reuses the target's sums).
 */
function componentEntries(
  guidance: GuidancePlan,
  scoreError: PreparedScoreError,
): { list: ComponentEntry[]; targetCount: number; negativeFromTargetShift: number | null } {
  const blurTarget = scoreError.blur2 > 0 && scoreError.appliesToTarget;
  const blurNegative = scoreError.blur2 > 0 && scoreError.appliesToNegative;
  const sameView = blurTarget === blurNegative;
  const targetLog = new Map(guidance.target.entries.map((e) => [e.component, e.logWeight]));
  const negativeLog = new Map((guidance.negative?.entries ?? []).map((e) => [e.component, e.logWeight]));
  const shift = sameView ? sharedShift(targetLog, negativeLog) : null;
  const list: ComponentEntry[] = [];
  for (const [k, lw] of targetLog) {
    const both = negativeLog.has(k) && sameView && shift === null;
    list.push({
      component: k,
      blurred: blurTarget,
      mask: both ? 3 : 1,
      logWeightTarget: lw,
      logWeightNegative: negativeLog.get(k) ?? 0,
    });
  }
  const targetCount = list.length;
  for (const [k, lw] of negativeLog) {
    if (targetLog.has(k) && sameView) continue; // served by the target's entry or its shared sums
    list.push({ component: k, blurred: blurNegative, mask: 2, logWeightTarget: 0, logWeightNegative: lw });
  }
  return { list, targetCount, negativeFromTargetShift: shift };
}

/**
 * If the negative group holds every target component at the target's log-weight plus one
 * common shift (log p(c) for the unconditional law), that shift; else null.
 */
function sharedShift(target: Map<number, number>, negative: Map<number, number>): number | null {
  if (negative.size === 0) return null;
  let shift: number | null = null;
  for (const [k, lw] of target) {
    const ln = negative.get(k);
    if (ln === undefined) return null;
    const d = ln - lw;
    if (shift === null) shift = d;
    else if (Math.abs(d - shift) > 1e-12 * Math.max(1, Math.abs(shift))) return null;
  }
  return shift;
}
