// Small learned denoisers for the tests (src/model/denoiser/, src/studies/denoisers/): a 2-D
// two-class mixture, its specs with a learned score and negative, trained in about a second.
import { parseSpec } from '../../src/experiment/parse.ts';
import type { DenoiserFile } from '../../src/model/denoiser/denoiser.ts';
import { DEFAULT_TRAIN, trainDenoiser, type DenoiserTrainConfig } from '../../src/studies/denoisers/train.ts';

export const TWO_CLASS = {
  dim: 2,
  classes: [
    {
      name: 'a',
      weight: 0.6,
      components: [
        { kind: 'gaussian', weight: 1, mean: [1, 0.5], cov: [0.2, 0.1] },
        { kind: 'gaussian', weight: 0.5, mean: [0.5, -1], cov: 0.1 },
      ],
    },
    { name: 'b', weight: 0.4, components: [{ kind: 'uniform', weight: 1, low: [-2, -1], high: [-0.5, 1] }] },
  ],
};

export function smallConfig(over: Partial<DenoiserTrainConfig> = {}): DenoiserTrainConfig {
  return { ...DEFAULT_TRAIN, group: 'a', hidden: [16, 16], iterations: 150, batch: 64, ...over };
}

/** A trained model file for class `group` of TWO_CLASS. */
export function smallModel(over: Partial<DenoiserTrainConfig> = {}): DenoiserFile {
  return trainDenoiser(
    parseSpec({ ...TWO_CLASS, target: 'a', process: { kind: 'ou' }, solver: { kind: 'euler', steps: 1 } }),
    smallConfig(over),
  ).file;
}

/** A spec over TWO_CLASS with the given guidance (raw). */
export function rawSpec(guidance: object, extra: object = {}): Record<string, unknown> {
  return {
    ...TWO_CLASS,
    target: 'a',
    process: { kind: 've', sigmaMax: 10 },
    guidance,
    solver: { kind: 'heun', steps: 12, grid: { kind: 'edm', rho: 7 } },
    particles: 64,
    seed: 3,
    ...extra,
  };
}
