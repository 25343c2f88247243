// A learned denoiser's score error against the exact score of the mixture, per noise level.
//
// At each VE noise level s (x_t = x_0 + s n: alpha = 1, sigma = s; any process's point
// x / alpha at sigma / alpha is this one), on n exact draws x ~ p_s(x | group)
// (src/model/sample-exact.ts, a seed of their own):
//   mse        E |s_hat(x) - s(x)|^2             (the score error)
//   relative   mse / E |s(x)|^2
//   denoiser   E |D_hat(x) - D(x)|^2 = s^4 mse    (D = x + s^2 score, Tweedie)
// each with its Monte Carlo standard error.
import { MixtureEvaluator, type Group, type MixtureModel } from '../../model/mixture.ts';
import { sampleGroupExact } from '../../model/sample-exact.ts';
import type { Denoiser } from '../../model/denoiser/denoiser.ts';

export const DEFAULT_SIGMAS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

export interface ScoreErrorLevel {
  sigma: number;
  mse: number;
  mseSe: number;
  relative: number;
  denoiser: number;
  /** E|s(x)|^2, the exact score's mean square. */
  exactMeanSquare: number;
}

/** Per-level score error of `model` on p(x | group), n points per level. */
export function scoreErrorReport(
  model: Denoiser,
  mixture: MixtureModel,
  group: Group,
  opts: { sigmas?: number[]; n?: number; seed?: number } = {},
): ScoreErrorLevel[] {
  const sigmas = opts.sigmas ?? DEFAULT_SIGMAS;
  const n = opts.n ?? 4000;
  // The evaluation points' own seed: disjoint from any training seed's draws in practice.
  const seed = ((opts.seed ?? 0) ^ 0x5c0fe77) >>> 0;
  const d = mixture.dim;
  const ev = new MixtureEvaluator(mixture);
  const exact = new Float64Array(d);
  const learned = new Float64Array(d);
  return sigmas.map((sigma, level) => {
    const s2 = sigma * sigma;
    const x = sampleGroupExact(mixture, group, 1, s2, { seed, first: level * n, count: n }).x;
    ev.setTime(1, s2);
    let sum = 0;
    let sum2 = 0;
    let ref = 0;
    for (let i = 0; i < n; i++) {
      const xi = x.subarray(i * d, (i + 1) * d);
      ev.evaluateComponents(xi);
      exact.fill(0);
      ev.addGroupScore(group, 1, exact);
      model.score(xi, 1, s2, learned);
      let e = 0;
      for (let j = 0; j < d; j++) {
        e += (learned[j] - exact[j]) ** 2;
        ref += exact[j] ** 2;
      }
      sum += e;
      sum2 += e * e;
    }
    const mse = sum / n;
    const v = (sum2 - n * mse * mse) / (n - 1);
    return {
      sigma,
      mse,
      mseSe: Math.sqrt(Math.max(v, 0) / n),
      relative: mse / (ref / n),
      denoiser: s2 * s2 * mse,
      exactMeanSquare: ref / n,
    };
  });
}
