// Platform-agnostic helpers shared by the benchmarks (Node and browser pages alike):
// timing with warm-up, medians, and the adapter description that every JSON result carries.
import type { GpuContext } from '../src/gpu/device.ts';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/** Timed runs of one measurement: every sample, and their median, min and max (seconds). */
export interface Timing {
  warmupSeconds: number[];
  secondsPerRun: number[];
  medianSeconds: number;
  minSeconds: number;
  maxSeconds: number;
  /**
   * CPU seconds of this process per timed run (user + system, all threads: on a CPU adapter
   * such as lavapipe that includes its worker threads), where the runtime can tell (Node).
   * On a machine shared with other work this is far steadier than wall time.
   */
  cpuSecondsPerRun?: number[];
  medianCpuSeconds?: number;
}

export function timingOf(seconds: number[], warmupSeconds: number[] = [], cpuSeconds?: number[]): Timing {
  const t: Timing = {
    warmupSeconds,
    secondsPerRun: seconds,
    medianSeconds: median(seconds),
    minSeconds: Math.min(...seconds),
    maxSeconds: Math.max(...seconds),
  };
  if (cpuSeconds && cpuSeconds.length === seconds.length) {
    t.cpuSecondsPerRun = cpuSeconds;
    t.medianCpuSeconds = median(cpuSeconds);
  }
  return t;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Process CPU seconds so far (user + system), or null outside Node. */
export function cpuNow(): number | null {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!p?.cpuUsage) return null;
  const u = p.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Runs `run` `warmup` times untimed-for-the-median (pipeline compilation, JIT), then `repeats` times timed. */
export async function timeRuns(run: () => unknown, repeats: number, warmup = 1): Promise<Timing> {
  const warm: number[] = [];
  for (let r = 0; r < warmup; r++) {
    const t0 = now();
    await run();
    warm.push((now() - t0) / 1000);
  }
  const seconds: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < Math.max(1, repeats); r++) {
    const c0 = cpuNow();
    const t0 = now();
    await run();
    seconds.push((now() - t0) / 1000);
    const c1 = cpuNow();
    if (c0 !== null && c1 !== null) cpu.push(c1 - c0);
  }
  return timingOf(seconds, warm, cpu);
}

/** The adapter as every benchmark result reports it. */
export function adapterDescription(gpu: GpuContext): Record<string, unknown> {
  const l = gpu.limits;
  return {
    ...gpu.adapterInfo,
    features: [...gpu.device.features].sort(),
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  };
}

/** Rounds for JSON: `digits` significant digits (timings do not deserve 17). */
export function sig(x: number, digits = 4): number {
  return Number.isFinite(x) && x !== 0 ? Number(x.toPrecision(digits)) : x;
}

/** Moments of one coordinate of row-major `values` (count x dim), over its finite entries. */
export interface Moments {
  count: number;
  nonFinite: number;
  mean: number;
  /** Unbiased. */
  variance: number;
  /** Fourth central moment (for the standard error of the variance). */
  m4: number;
}

export function momentsOf(values: ArrayLike<number>, dim = 1, coordinate = 0): Moments {
  let n = 0;
  let nonFinite = 0;
  let sum = 0;
  for (let i = coordinate; i < values.length; i += dim) {
    const v = values[i];
    if (Number.isFinite(v)) {
      n++;
      sum += v;
    } else nonFinite++;
  }
  const mean = sum / n;
  let s2 = 0;
  let s4 = 0;
  for (let i = coordinate; i < values.length; i += dim) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    const c = (v - mean) * (v - mean);
    s2 += c;
    s4 += c * c;
  }
  return { count: n, nonFinite, mean, variance: s2 / (n - 1), m4: s4 / n };
}

/**
 * Two samples' moments compared within Monte Carlo error: z-scores of the difference of
 * means (standard error sqrt(var_a/n_a + var_b/n_b)) and of variances (the variance's
 * standard error sqrt((m4 - var^2)/n) each). Samples sharing random numbers (the CPU reference
 * and WebGPU use the same Philox stream) are positively correlated, which only makes |z|
 * smaller: the check is conservative for them.
 */
export function compareMoments(
  a: Moments,
  b: Moments,
  zLimit = 4,
): { meanZ: number; varianceZ: number; zLimit: number; agree: boolean } {
  const seMean = Math.sqrt(a.variance / a.count + b.variance / b.count);
  const seVar = Math.sqrt((a.m4 - a.variance ** 2) / a.count + (b.m4 - b.variance ** 2) / b.count);
  const meanZ = (a.mean - b.mean) / seMean;
  const varianceZ = (a.variance - b.variance) / seVar;
  return {
    meanZ: sig(meanZ, 3),
    varianceZ: sig(varianceZ, 3),
    zLimit,
    agree: Math.abs(meanZ) < zLimit && Math.abs(varianceZ) < zLimit,
  };
}
