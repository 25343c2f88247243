// The WebGPU sampler's options and result: the types both the chunked sampler (sampler.ts) and the
// FK population (fk.ts) speak, in a module of their own so that neither imports the other.
import type { FkReport } from '../corrector/fk.ts';
import type { StepTable } from '../solvers/table.ts';
import type { HeavyRows } from './heavy.ts';

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
  onChunk?: (chunk: Float32Array, count: number) => void | Promise<void>;
  /**
   * onChunk receives a view of one host array reused for every chunk (valid until the call and any promise it returns settle: the next chunk waits for it)
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
  /** First particle index (default 0): sample particles [first, first + count). */
  firstParticle?: number;
  /** Particles to sample (default spec.particles); a corrected population is always whole. */
  count?: number;
  /**
   * 'auto' (default) uses the four-particle fast path or the heavy-mixture kernel (src/gpu/heavy.ts)
   * when the spec qualifies; 'general' never does.
   */
  kernel?: 'auto' | 'general';
  /** step-heavy: sets of four particles per invocation (default: src/gpu/heavy.ts's heavyGroups for the adapter; a tuning knob). */
  heavyGroups?: number;
  /** step-heavy: where the kernel reads the entries (default: src/gpu/heavy.ts's heavyRows for the adapter). */
  heavyRows?: HeavyRows;
  /** The general kernel: its tables (factor window, rows, component infos) in uniform bindings or storage (default: src/gpu/kernel.ts's generalTables for the adapter). */
  generalTables?: 'uniform' | 'storage';
  /**
   * The fast kernel's variant (src/gpu/variants.ts): 'auto' (default) takes the cached choice for
   * this adapter and workload shape, or tunes one now on short trials; a variant's name forces it.
   * The particles are the same whichever runs.
   */
  kernelVariant?: string;
  /** Stage component factors through workgroup memory: 'auto' (default: when there are many) or 'never'. */
  staging?: 'auto' | 'never';
  /** fk only: each step's log-weights and particles, before any resampling (tests compare them with the CPU's). */
  onWeights?: (step: number, logWeights: Float32Array, particles: Float32Array) => void;
  /** fk only: the ancestor of each slot at each resampling. */
  onAncestors?: (step: number, ancestors: Uint32Array) => void;
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
  kernel: 'step' | 'step-gauss4' | 'step-heavy';
  /** Components per workgroup-memory tile (0: none). */
  tile: number;
  /** How the kernel read its per-step tables: 'uniform' where any is a uniform binding (step-gauss4's tables, step-heavy's rows, the general kernel's tables on llvmpipe), else 'storage'. */
  tables: 'uniform' | 'storage';
  /**
   * Which kernel variant ran and why: 'tuned' (trial seconds per variant), 'cached', 'forced',
   * or, for the general kernel, name 'general' and 'only' (the heavy-mixture kernel: 'heavy', 'only').
   */
  variant: {
    name: string;
    why: 'tuned' | 'cached' | 'forced' | 'only';
    trials?: { particles: number; seconds: Record<string, number> };
  };
  /** The Feynman-Kac corrector's diagnostics, when the spec has one. */
  fk?: FkReport;
}
