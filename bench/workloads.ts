// Standard benchmark workloads, as specs (the same format users write).
import { parseSpec } from '../src/spec/parse.ts';
import type { ExperimentSpec } from '../src/spec/types.ts';

/** 1-D, 4 Gaussian components in 2 classes, cfg (w = 3, unconditional negative), euler. */
export function standardWorkload(particles: number, steps: number): ExperimentSpec {
  return parseSpec({
    dim: 1,
    classes: [
      { name: 'a', weight: 0.5, components: [
        { kind: 'gaussian', weight: 0.5, mean: [-2], cov: 0.25 },
        { kind: 'gaussian', weight: 0.5, mean: [1], cov: 0.5 },
      ] },
      { name: 'b', weight: 0.5, components: [
        { kind: 'gaussian', weight: 0.3, mean: [2], cov: 0.3 },
        { kind: 'gaussian', weight: 0.7, mean: [-0.5], cov: 1 },
      ] },
    ],
    target: 'a',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 3 },
    solver: { kind: 'euler', steps, tMin: 1e-3 },
    particles,
    seed: 1,
  });
}
