// The "k of n features" case (src/studies/classifiers/k-of-n.ts): n = 6, k = 4, vertices of {0,1}^6 as
// N(v, 1e-3 I), "pos" = at least 4 ones (22 of 64 vertices; under p(x | pos) the number of ones
// is 4, 5, 6 with probabilities 15/22, 6/22, 1/22, mean 4.364). A monotone linear classifier
// (logistic regression on the sum of the coordinates, one per level of the default grid, 11
// levels uniform in log SNR, 3000 training points each) against the exact classifier, sampling 400 particles with
// the probability-flow ODE (euler, 100 steps on the EDM grid, OU T = 6, tMin = 2e-3), the same
// initial noise for both (paired), seed 1. Deterministic.
//
// What it shows (seed 1; seeds 2 and 3 in brackets):
//   w = 1:  exact guidance is plain conditional sampling and keeps the class's spread (no
//           particle below 4 ones, P(4 ones) = 0.68 as in the class); the linear classifier leaks
//           32% [35%, 31%] of the particles below k: it is under-confident at small t, where the
//           sum of the noisy coordinates is a poor statistic for "at least k" (its conditional KL
//           there is 0.06-0.16 nats).
//   w = 15: both collapse onto the prototype 1...1: P(6 ones) = 0.85 exact, 0.88 [0.83, 0.81]
//           linear, against 0.045 under the class. The collapse is a property of guidance at
//           large w itself: at intermediate noise the exact noised classifier p_t(pos|x) also
//           rises toward 1...1. The linear classifier does NOT collapse measurably more: the
//           paired difference of mean counts (linear - exact) is +0.035 [-0.030, -0.048] ones,
//           standard error ~0.01, against the exact guidance's own shift 4.36 -> 5.85. The test
//           asserts the collapse for both and bounds the difference by 0.15 ones (an equivalence
//           margin the test resolves: w = 7 -> 15 moves the exact mean count by ~0.38).
//           (The brief expected the linear classifier to collapse and the exact one to keep the
//           spread; that is not what happens with per-level classifiers trained by cross-entropy.)
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { buildModel } from '../../src/model/mixture.ts';
import { exactOnesDistribution, kOfNSpec, onesHistogram } from '../../src/studies/classifiers/k-of-n.ts';
import { logSnr, runClassifierExperiment } from '../../src/studies/classifiers/experiment.ts';
import { sampleWithClassifier } from '../../src/studies/classifiers/sample.ts';
import { ExactClassifier, type PerLevelClassifier } from '../../src/model/classifier/classifier.ts';

const N = 400;
const spec = parseSpec(
  kOfNSpec({
    n: 6,
    k: 4,
    particles: N,
    seed: 1,
    solver: { kind: 'euler', steps: 100, tMin: 2e-3, grid: { kind: 'edm', rho: 7 } },
  }),
);
const model = buildModel(spec);
const exact = new ExactClassifier(model, spec.process);
let linear: PerLevelClassifier;

function ones(x: Float64Array): number[] {
  return Array.from({ length: N }, (_, p) => {
    let o = 0;
    for (let i = 0; i < 6; i++) o += x[p * 6 + i] > 0.5 ? 1 : 0;
    return o;
  });
}
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const share = (v: number[], f: (o: number) => boolean) => v.filter(f).length / v.length;

beforeAll(async () => {
  const r = await runClassifierExperiment(spec, { models: ['logistic'], w: [], train: 3000, test: 200 });
  expect(r.settings.binaryVertexModel).toBe(true);
  expect((r.settings.logistic as { features: string }).features).toBe('sum');
  // Monotone (positive weight on the sum) at every level except where the SNR is so low that
  // the fitted slope is estimation noise (exact slope ~0.005, standard error ~0.016 at t = 4.1).
  for (const t of r.logisticNonMonotone!) expect(logSnr(spec, t)).toBeLessThan(-8);
  linear = r.classifiers.logistic!;
});

describe('k of n features (n = 6, k = 4): linear vs exact classifier guidance', () => {
  it('the class law of the number of ones is 15/22, 6/22, 1/22 at 4, 5, 6', () => {
    const d = exactOnesDistribution(model, 0);
    expect(d.slice(4)).toEqual([15 / 22, 6 / 22, 1 / 22].map((v) => expect.closeTo(v, 12)));
    expect(d.slice(0, 4)).toEqual([0, 0, 0, 0]);
  });

  it('w = 1: exact guidance keeps the class spread; the linear classifier leaks below k', () => {
    const e = ones(sampleWithClassifier(spec, exact, 1));
    const l = ones(sampleWithClassifier(spec, linear, 1));
    expect(share(e, (o) => o < 4)).toBe(0);
    // P(4 ones) = 15/22 = 0.682 under the class: within 4 binomial standard errors (0.023 each).
    expect(Math.abs(share(e, (o) => o === 4) - 15 / 22)).toBeLessThan(4 * Math.sqrt(((15 / 22) * (7 / 22)) / N));
    expect(share(l, (o) => o < 4)).toBeGreaterThan(0.2);
  });

  it('w = 15: both collapse onto 1...1, by the same amount within 0.15 ones (paired)', () => {
    const xe = sampleWithClassifier(spec, exact, 15);
    const xl = sampleWithClassifier(spec, linear, 15);
    const e = ones(xe);
    const l = ones(xl);
    expect(onesHistogram(xe, N, 6).nonFinite + onesHistogram(xl, N, 6).nonFinite).toBe(0);
    expect(share(e, (o) => o === 6)).toBeGreaterThan(0.75); // 0.045 under the class
    expect(share(l, (o) => o === 6)).toBeGreaterThan(0.75);
    const d = l.map((v, i) => v - e[i]);
    expect(Math.abs(mean(d))).toBeLessThan(0.15);
    // The margin is resolvable: exact guidance at w = 7 is 0.38 ones below w = 15 here.
    const e7 = ones(sampleWithClassifier(spec, exact, 7));
    expect(mean(e) - mean(e7)).toBeGreaterThan(0.3);
  });
});
