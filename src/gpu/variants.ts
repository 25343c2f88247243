// Variants of the fast stepping kernel (shaders/step-gauss4.wgsl) and the autotuner that picks
// one per adapter and workload shape. A variant changes how the work is laid out (particles per
// invocation as lanes of a vec4 or one f32, the workgroup size, uniform or storage tables), never
// what is computed: every variant makes the same f32 operations on the same Philox draws per
// particle, so the choice changes the speed only (test/gpu/variants-kernel.test.ts checks each
// variant against the CPU reference and against the others).
//
// Why variants: the layout that is fastest on lavapipe (four particles per invocation, so that
// each per-step table load, executed lane by lane there, serves four particles) is several
// times slower on SwiftShader (Chrome's software adapter), whose JIT keeps each vec4 of a
// per-coordinate private array in memory; there one f32 per invocation is fastest. Real GPUs
// differ again. So on first use of an adapter for a workload shape, each variant runs a short
// trial of the actual plan (same steps per dispatch, fewer particles) and the fastest is kept:
// in memory for the page or process, and, where the platform has one (Node: a small JSON file
// in the user's cache folder, src/platform/node.ts), in a persistent store.
import type { GpuPlatform, VariantStore } from '../platform/types.ts';
import type { GpuAdapterInfo } from './device.ts';

export interface KernelVariant {
  name: string;
  /** The kernel file: step-gauss4 (state in lanes of module-scope arrays) or step-gauss1 (one particle, function-local state). */
  shader: 'step-gauss4' | 'step-gauss1';
  /** Particles per invocation, one lane of the kernel's `lanes` type each (vec4<f32> or f32). */
  lanes: 1 | 4;
  workgroupSize: number;
  /** 'uniform': tables through uniform bindings where one step's tables fit (else storage); 'storage': always storage. */
  tables: 'uniform' | 'storage';
  /** The largest dimension the variant runs (step-gauss1: its vec4 of coordinates); absent: any. */
  maxDim?: number;
}

/** The step-gauss4 variants; the first is the default (no tuning wanted or possible). */
export const GAUSS4_VARIANTS: readonly KernelVariant[] = [
  { name: 'lanes4-wg64', shader: 'step-gauss4', lanes: 4, workgroupSize: 64, tables: 'uniform' },
  { name: 'lanes4-wg64-storage', shader: 'step-gauss4', lanes: 4, workgroupSize: 64, tables: 'storage' },
  { name: 'single-wg64-storage', shader: 'step-gauss1', lanes: 1, workgroupSize: 64, tables: 'storage', maxDim: 4 },
  { name: 'single-wg64', shader: 'step-gauss1', lanes: 1, workgroupSize: 64, tables: 'uniform', maxDim: 4 },
  { name: 'single-wg256-storage', shader: 'step-gauss1', lanes: 1, workgroupSize: 256, tables: 'storage', maxDim: 4 },
];

/** How the variant of a run was chosen. */
export type VariantReason = 'tuned' | 'cached' | 'forced';

export interface VariantChoice {
  variant: KernelVariant;
  why: VariantReason;
  /** tuned: best trial seconds per variant name (and the trial's particles). */
  trials?: { particles: number; seconds: Record<string, number> };
}

export function variantByName(name: string): KernelVariant {
  const v = GAUSS4_VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`unknown kernel variant '${name}' (known: ${GAUSS4_VARIANTS.map((x) => x.name).join(', ')})`);
  return v;
}

/** The in-memory choices of this page or process (keyed like the store). */
const memory = new Map<string, string>();

/** Forgets the in-memory choices (tests; the persistent store is untouched). */
export function clearTunedVariants(): void {
  memory.clear();
}

/** The shape of a workload that the choice depends on. */
export interface WorkloadShape {
  dim: number;
  components: number;
  stages: number;
  stochastic: boolean;
  particles: number;
}

/** Cache key: the adapter's identity and the workload's shape (particles by power of 4). */
export function variantKey(platform: GpuPlatform, adapter: GpuAdapterInfo, shape: WorkloadShape): string {
  const bucket = Math.round(Math.log(Math.max(1, shape.particles)) / Math.log(4));
  const id = [platform.name, adapter.vendor, adapter.architecture, adapter.device, adapter.description];
  return `${id.join('/')}${adapter.isFallback ? ' (fallback)' : ''}|step-gauss4 d${shape.dim} k${shape.components} s${shape.stages}${shape.stochastic ? ' sde' : ''} n4^${bucket}`;
}

/** Trials whose marginal time (fastest variant) is shorter than this (seconds) are repeated with 4x the particles. */
const MIN_TRIAL_SECONDS = 0.04;
/** The most particles of a trial. */
const TRIAL_PARTICLES_MAX = 2 ** 18;
/** Particle-steps of the first trial. */
const FIRST_TRIAL_WORK = 2 ** 18;

export interface TuneInput {
  key: string;
  store?: VariantStore;
  /** The run's particles and steps: trials take fewer particles, all the steps. */
  particles: number;
  steps: number;
  /** Runs `variant` on the first `particles` particles of the actual plan, resolves when the GPU is done. */
  trial(variant: KernelVariant, particles: number): Promise<void>;
  /** Variants to choose among (default: those of GAUSS4_VARIANTS that run this dimension). */
  variants?: readonly KernelVariant[];
  dim: number;
  /** Milliseconds (default performance.now); tests pass a fake clock. */
  now?: () => number;
}

/** The variants that run dimension `dim`. */
export function variantsFor(dim: number): KernelVariant[] {
  return GAUSS4_VARIANTS.filter((v) => v.maxDim === undefined || dim <= v.maxDim);
}

/** The cached choice for `key`, or one tuned now (then cached). */
export async function chooseVariant(input: TuneInput): Promise<VariantChoice> {
  const variants = input.variants ?? variantsFor(input.dim);
  const known = memory.get(input.key) ?? input.store?.get(input.key);
  const cached = variants.find((v) => v.name === known);
  if (cached) {
    memory.set(input.key, cached.name);
    return { variant: cached, why: 'cached' };
  }
  const multiple = 256 * 4; // whole workgroups of every variant
  // Trials grow until long enough to time, but never past TRIAL_PARTICLES_MAX: tuning a new shape
  // costs a fast adapter a few seconds at most (a slow one stops growing early).
  const most = Math.min(input.particles, TRIAL_PARTICLES_MAX);
  let particles = Math.min(most, Math.ceil(FIRST_TRIAL_WORK / input.steps / multiple) * multiple);
  let seconds: Record<string, number>;
  for (;;) {
    seconds = await timeTrials(input, variants, particles);
    const best = Math.min(...Object.values(seconds));
    if (best >= MIN_TRIAL_SECONDS || particles >= most) break;
    particles = Math.min(most, particles * 4);
  }
  const winner = variants.reduce((a, b) => (seconds[b.name] < seconds[a.name] ? b : a));
  memory.set(input.key, winner.name);
  input.store?.set(input.key, winner.name);
  return { variant: winner, why: 'tuned', trials: { particles, seconds } };
}

/** A variant this many times slower than the best in the first round is not timed again. */
const SLOW_TRIAL = 2;

/**
 * Each variant's marginal seconds for `particles` particles: a trial at `particles` less one at a
 * quarter of them, times 4/3, so the fixed cost of a call (tables, buffers, readback), which
 * dominates a short trial and differs little between variants, does not decide for a long run
 * (measured on lavapipe: uniform vs storage tables 0.9x end to end at 49k particles, 1.6x at
 * 1M). Best of two interleaved rounds, after an untimed run of each (its compile) on few particles.
 */
async function timeTrials(
  input: TuneInput,
  variants: readonly KernelVariant[],
  particles: number,
): Promise<Record<string, number>> {
  const seconds: Record<string, number> = {};
  const now = input.now ?? (() => performance.now());
  const timed = async (v: KernelVariant, n: number): Promise<number> => {
    const t0 = now();
    await input.trial(v, n);
    return (now() - t0) / 1000;
  };
  const quarter = Math.max(1, Math.floor(particles / 4));
  for (const v of variants) await input.trial(v, Math.min(particles, 4 * v.lanes * v.workgroupSize));
  for (let round = 0; round < 2; round++) {
    // The second round re-times only the variants within SLOW_TRIAL of the best: a clear loser
    // (SwiftShader: lanes4 at ~10x) costs the page no second trial.
    const best = Math.min(...Object.values(seconds));
    for (const v of variants.filter((x) => round === 0 || seconds[x.name] <= SLOW_TRIAL * best)) {
      const marginal = (((await timed(v, particles)) - (await timed(v, quarter))) * particles) / (particles - quarter);
      // A noisy pair can make the difference negative: keep it positive and comparable.
      seconds[v.name] = Math.min(seconds[v.name] ?? Infinity, Math.max(marginal, 1e-9));
    }
  }
  return seconds;
}
