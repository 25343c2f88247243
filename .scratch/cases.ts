import { parseSpec } from '../src/spec/parse.ts';
import type { ExperimentSpec } from '../src/spec/types.ts';

const g = (mean: number[], cov: unknown, weight = 1) => ({ kind: 'gaussian', weight, mean, cov });
const box = (low: number[], high: number[], weight = 1) => ({ kind: 'uniform', weight, low, high });

export const twoGauss = [
  { name: 'pos', weight: 0.5, components: [g([1], 1)] },
  { name: 'neg', weight: 0.5, components: [g([-1], 1)] },
];
export function mk(raw: Record<string, unknown>): ExperimentSpec {
  return parseSpec({ particles: 2000, seed: 7, ...raw });
}
export const cases: Record<string, (solver: string) => ExperimentSpec> = {
  'gauss cfg uncond': (s) => mk({ dim: 1, classes: twoGauss, target: 'pos', process: { kind: 'ou', T: 10 }, guidance: { kind: 'cfg', w: 3 }, solver: { kind: s, steps: 100 } }),
  'gauss cfg class': (s) => mk({ dim: 1, classes: [...twoGauss, { name: 'far', weight: 1, components: [g([4], 0.25)] }], target: 'pos', process: { kind: 'ou', T: 10 }, guidance: { kind: 'cfg', w: 3, negative: 'neg' }, solver: { kind: s, steps: 100 } }),
  'gauss cfg inline': (s) => mk({ dim: 1, classes: twoGauss, target: 'pos', process: { kind: 'ou', T: 10 }, guidance: { kind: 'cfg', w: 2, negative: { components: [g([0.5], 2)] } }, solver: { kind: s, steps: 100 } }),
  'box1 cfg': (s) => mk({ dim: 1, particles: 1000, classes: [{ name: 'a', weight: 1, components: [box([-1], [1]), box([2], [2.5], 0.5)] }, { name: 'b', weight: 1, components: [box([-3], [-1.5])] }], target: 'a', process: { kind: 'ou', T: 8 }, guidance: { kind: 'cfg', w: 2 }, solver: { kind: s, steps: 100 } }),
  'box2 cfg': (s) => mk({ dim: 2, particles: 500, classes: [{ name: 'a', weight: 1, components: [box([-1, 0], [1, 0.5])] }, { name: 'b', weight: 1, components: [box([-2, -2], [0, -1]), g([1, 1], 0.5)] }], target: 'a', process: { kind: 'ou', T: 8 }, guidance: { kind: 'cfg', w: 1.5 }, solver: { kind: s, steps: 80 } }),
  'full2 classifier': (s) => mk({ dim: 2, classes: [{ name: 'a', weight: 1, components: [g([1, 0], [[1, 0.6], [0.6, 0.5]]), g([-1, 1], [0.3, 0.8])] }, { name: 'b', weight: 2, components: [g([0, -1], [[0.4, -0.2], [-0.2, 0.9]])] }], target: 'a', process: { kind: 'ou', T: 10 }, guidance: { kind: 'classifier', w: 3 }, solver: { kind: s, steps: 100 } }),
  'piecewise': (s) => mk({ dim: 1, classes: twoGauss, target: 'pos', process: { kind: 'ou', T: 10 }, guidance: { kind: 'cfg', w: { kind: 'piecewise', points: [[0.2, 0], [1, 4], [3, -1], [5, 0]] } }, solver: { kind: s, steps: 100 } }),
  'interval': (s) => mk({ dim: 1, classes: twoGauss, target: 'pos', process: { kind: 'ou', T: 10 }, guidance: { kind: 'cfg', w: { kind: 'interval', w: 3, tLow: 0.3, tHigh: 2 } }, solver: { kind: s, steps: 100 } }),
  'vp': (s) => mk({ dim: 1, classes: twoGauss, target: 'pos', process: { kind: 'vp' }, guidance: { kind: 'cfg', w: 3 }, solver: { kind: s, steps: 100 } }),
  've edm': (s) => mk({ dim: 1, classes: twoGauss, target: 'pos', process: { kind: 've', sigmaMax: 80 }, guidance: { kind: 'cfg', w: 3 }, solver: { kind: s, steps: 100 } }),
  'flow': (s) => mk({ dim: 1, classes: twoGauss, target: 'pos', process: { kind: 'flow' }, guidance: { kind: 'cfg', w: 3 }, solver: { kind: s, steps: 100 } }),
};
