// The one interface every backend implements for the exact log-density path (issue 13):
// carry particles through the guided probability-flow ODE with their log-density, by the
// instantaneous change of variables d log q / dt = -div u, integrated through the same
// Runge-Kutta tableau as the particle.
//
// CONTRACT (CPU in f64, src/cpu/log-density.ts; WGSL in f32 implement exactly this):
//   per step n, with h_n = t_{n+1} - t_n (signed) and xs_i the tableau's stage points (the same
//   points the particle's own update uses):
//     l_{n+1} = l_n - h_n * sum_i b_i * divU(xs_i, t_i),   divU = cx * dim + cs * div s
//   backward (start time -> tMin, the sampler's own direction):
//     x_0 = initial ?? the start law's draw (prior, or spec.start = "exact"),
//     l_0 = initialLogDensity ?? log p_start(x_0);  then l_N = log q(x_tMin).
//   forward (tMin -> start time, the same time points reversed, h_n > 0):
//     x_0 = initial (required), l_0 = initialLogDensity ?? 0;  then x_N is the start-time point
//     and log q(initial) = log p_start(x_N) - l_N (the caller does this subtraction, since only
//     it knows which start law the backward run used).
// Only linear guidance and ODE solvers define q this way; any other spec is refused with an
// Error naming the field (logDensityUnsupported in src/model/divergence.ts).
import type { ExperimentSpec } from '../experiment/types.ts';

export interface CarryOptions {
  direction: 'backward' | 'forward';
  /** count x dim start points (f64), or undefined: the spec's start law for particles [first, first + count). */
  initial?: Float64Array;
  /** count initial log-densities; see the contract above for the default. */
  initialLogDensity?: Float64Array;
  /** Global index of the first particle (keys the generator when `initial` is absent). */
  first: number;
  count: number;
}

export interface CarryResult {
  /** count x dim end points, f64. */
  x: Float64Array;
  /** count accumulated log-densities l_N. */
  logq: Float64Array;
  /** Particles whose x or l is not finite at the end (kept, counted, never dropped). */
  nonFinite: number;
}

export interface LogDensityBackend {
  readonly name: string;
  carry(spec: ExperimentSpec, opts: CarryOptions): Promise<CarryResult>;
}
