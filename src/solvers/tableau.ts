// Explicit Runge-Kutta tableaus for the probability-flow ODE, and Euler-Maruyama.
// The CPU reference and the WGSL kernel both step with these same numbers.
import type { SolverKind } from '../experiment/types.ts';

export interface Tableau {
  /** Stage times as fractions of the step: t_n + c_i h. */
  c: number[];
  /** a[i][j], j < i: stage i evaluates at x_n + h sum_j a[i][j] k_j. */
  a: number[][];
  /** Final weights: x_{n+1} = x_n + h sum_i b_i k_i. */
  b: number[];
  stochastic: boolean;
  /**
   * The k-diffusion samplers (src/solvers/samplers.ts): stages evaluate the guided denoiser,
   * not the velocity, and the step is the linear combination in the sampler table; a and b
   * are then unused. histories: denoised values carried from earlier steps.
   */
  denoised?: { histories: number };
}

export const TABLEAUS: Record<SolverKind, Tableau> = {
  euler: { c: [0], a: [[]], b: [1], stochastic: false },
  heun: { c: [0, 1], a: [[], [1]], b: [0.5, 0.5], stochastic: false },
  rk4: {
    c: [0, 0.5, 0.5, 1],
    a: [[], [0.5], [0, 0.5], [0, 0, 1]],
    b: [1 / 6, 1 / 3, 1 / 3, 1 / 6],
    stochastic: false,
  },
  // Euler-Maruyama on the reverse SDE: one drift evaluation plus Gaussian noise.
  em: { c: [0], a: [[]], b: [1], stochastic: true },
  // Stage times of these come from the sampler table (a churned or midpoint noise level).
  'dpmpp-2m': { c: [0], a: [[]], b: [1], stochastic: false, denoised: { histories: 1 } },
  'euler-ancestral': { c: [0], a: [[]], b: [1], stochastic: true, denoised: { histories: 0 } },
  'heun-churn': { c: [0, 1], a: [[], [1]], b: [0.5, 0.5], stochastic: true, denoised: { histories: 0 } },
  dpm2: { c: [0, 0.5], a: [[], [0.5]], b: [0, 1], stochastic: true, denoised: { histories: 0 } },
  'dpmpp-2m-sde': { c: [0], a: [[]], b: [1], stochastic: true, denoised: { histories: 1 } },
  'dpmpp-3m-sde': { c: [0], a: [[]], b: [1], stochastic: true, denoised: { histories: 2 } },
  lms: { c: [0], a: [[]], b: [1], stochastic: false, denoised: { histories: 3 } },
};
