// Benchmark workloads, as specs (the same format users write).
import { parseSpec } from '../src/experiment/parse.ts';
import type { ExperimentSpec, SolverKind } from '../src/experiment/types.ts';

export const STANDARD_WORKLOAD_DESCRIPTION =
  '1-D, 4 Gaussian components in 2 classes, cfg w=3 (unconditional negative), OU T=10, euler, uniform grid to tMin=1e-3';

/** 1-D, 4 Gaussian components in 2 classes, cfg (w = 3, unconditional negative), euler. */
export function standardWorkload(particles: number, steps: number): ExperimentSpec {
  return parseSpec(standardRaw(particles, steps, { kind: 'euler' }));
}

/** The standard workload as a raw spec, with its solver and guidance given. */
function standardRaw(
  particles: number,
  steps: number,
  solver: Record<string, unknown>,
  guidance: Record<string, unknown> = { kind: 'cfg', w: 3 },
) {
  return {
    dim: 1,
    classes: [
      {
        name: 'a',
        weight: 0.5,
        components: [
          { kind: 'gaussian', weight: 0.5, mean: [-2], cov: 0.25 },
          { kind: 'gaussian', weight: 0.5, mean: [1], cov: 0.5 },
        ],
      },
      {
        name: 'b',
        weight: 0.5,
        components: [
          { kind: 'gaussian', weight: 0.3, mean: [2], cov: 0.3 },
          { kind: 'gaussian', weight: 0.7, mean: [-0.5], cov: 1 },
        ],
      },
    ],
    target: 'a',
    process: { kind: 'ou', T: 10 },
    guidance,
    solver: { steps, tMin: 1e-3, ...solver },
    particles,
    seed: 1,
  };
}

export interface ScalingPoint {
  particles: number;
  steps: number;
  dim: number;
  /** Gaussian components in all, split between the two classes (at least 1 each when >= 2). */
  components: number;
}

/**
 * The standard workload generalised for the scaling curves: `components` isotropic Gaussians
 * in `dim` dimensions, split between two classes (class a gets the first ceil(K/2)), cfg w = 3
 * against the unconditional law, OU T = 10, euler. At (dim 1, components 4) it has the standard
 * workload's structure (4 components, 2 + 4 group entries), not its numbers. Deterministic.
 */
export function scalingWorkload(p: ScalingPoint): ExperimentSpec {
  const k = Math.max(1, p.components);
  const ka = k === 1 ? 1 : Math.ceil(k / 2);
  const component = (i: number) => {
    // Means spread over [-3, 3] along a direction that turns with i; variances in [0.2, 1].
    const mean = Array.from({ length: p.dim }, (_, j) => 3 * Math.sin(1.7 * i + 0.9 * j + 0.3));
    return { kind: 'gaussian' as const, weight: 1 + (i % 3), mean, cov: 0.2 + 0.8 * ((i * 0.618034) % 1) };
  };
  const classes = [{ name: 'a', weight: 0.5, components: Array.from({ length: ka }, (_, i) => component(i)) }];
  if (k > ka)
    classes.push({ name: 'b', weight: 0.5, components: Array.from({ length: k - ka }, (_, i) => component(ka + i)) });
  return parseSpec({
    dim: p.dim,
    classes,
    target: 'a',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 3 },
    solver: { kind: 'euler', steps: p.steps, tMin: 1e-3 },
    particles: p.particles,
    seed: 1,
  });
}

/**
 * Every solver kind, for the per-solver throughput rows of the baselines benchmark: the standard
 * workload with only solver.kind changed (the samplers' parameters at k-diffusion's defaults,
 * heun-churn and dpm2 with S_churn 40 so their churn runs), at equal steps. A step costs `stages`
 * guided evaluations (euler, em, dpmpp-2m, euler-ancestral, dpmpp-2m-sde, dpmpp-3m-sde, lms 1; heun,
 * heun-churn, dpm2 2; rk4 4).
 */
export const SOLVER_WORKLOADS: readonly { kind: SolverKind; params: Record<string, number> }[] = [
  { kind: 'euler', params: {} },
  { kind: 'heun', params: {} },
  { kind: 'rk4', params: {} },
  { kind: 'em', params: {} },
  { kind: 'dpmpp-2m', params: {} },
  { kind: 'euler-ancestral', params: {} },
  { kind: 'heun-churn', params: { sChurn: 40 } },
  { kind: 'dpm2', params: { sChurn: 40 } },
  { kind: 'dpmpp-2m-sde', params: {} },
  { kind: 'dpmpp-3m-sde', params: {} },
  { kind: 'lms', params: {} },
];

export function solverWorkload(w: (typeof SOLVER_WORKLOADS)[number], particles: number, steps: number): ExperimentSpec {
  return parseSpec(standardRaw(particles, steps, { kind: w.kind, ...w.params }));
}

export const HEAVY_WORKLOAD_DESCRIPTION =
  "NVlabs/edm2's 2-D tree (examples/tree-2d.json: 2 classes x 1016 full-covariance Gaussians), target A, " +
  'cfg w = 1 against the unconditional law, VE sigma 5 .. 0.002, heun on the EDM grid (rho 7)';

/**
 * The heavy-mixture workload: the tree spec (examples/tree-2d.json, read by the caller: this
 * module stays free of Node APIs for the browser page) with its particles and Heun steps set
 * (edm2's toy: 32).
 */
export function heavyWorkload(treeSpec: unknown, particles: number, steps: number): ExperimentSpec {
  const raw = treeSpec as { solver: Record<string, unknown> };
  return parseSpec({ ...raw, solver: { ...raw.solver, steps }, particles });
}

/**
 * The guiders the benchmark runs at equal steps: the standard workload (euler) with its guidance
 * replaced. Each evaluates the target and negative groups once per step; the variants add their
 * rule (a projection, a 2 x 2 fit, a rescale) on top, and take the general kernel where the
 * fast path does not cover them.
 */
export const GUIDER_WORKLOADS: readonly { name: string; guidance: Record<string, unknown> }[] = [
  { name: 'cfg', guidance: { kind: 'cfg', w: 3 } },
  { name: 'cfg window', guidance: { kind: 'cfg', w: 3, start: 0.2, stop: 0.8 } },
  { name: 'classifier (exact)', guidance: { kind: 'classifier', w: 4 } },
  { name: 'rescale', guidance: { kind: 'cfg', w: 3, variant: { kind: 'rescale', phi: 0.7 } } },
  { name: 'powerlaw', guidance: { kind: 'cfg', w: 3, variant: { kind: 'powerlaw', alpha: 0.5 } } },
  { name: 'apg', guidance: { kind: 'cfg', w: 3, variant: { kind: 'apg', eta: 0, r: 1, beta: 0 } } },
  { name: 'cfgpp', guidance: { kind: 'cfg', w: 0, variant: { kind: 'cfgpp', lambda: 0.5 } } },
  { name: 'cfgzero', guidance: { kind: 'cfg', w: 3, variant: { kind: 'cfgzero', zeroInitSteps: 1 } } },
  { name: 'tangential', guidance: { kind: 'cfg', w: 3, variant: { kind: 'tangential' } } },
  // Multi-condition guidance: one more term (its laws walked as extra groups, general kernel).
  {
    name: 'multi-condition (1 term)',
    guidance: { kind: 'cfg', w: 3, terms: [{ condition: 'b', w: 1, negative: 'unconditional' }] },
  },
];

export function guiderWorkload(w: (typeof GUIDER_WORKLOADS)[number], particles: number, steps: number): ExperimentSpec {
  return parseSpec(standardRaw(particles, steps, { kind: 'euler' }, w.guidance));
}
