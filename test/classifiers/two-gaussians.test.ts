// Logistic regression against the exact classifier where it is exactly right, and the
// estimators' sanity: N(+1, 1) vs N(-1, 1) with equal weights stays two equal-variance
// Gaussians at every t (N(+-alpha, alpha^2 + sigma^2)), so log p_t(pos|x) - log p_t(neg|x)
// = 2 alpha x / (alpha^2 + sigma^2) is linear in x and logistic regression on x is the exact
// model family. With 20000 training points per level the maximum-likelihood fit's excess
// cross-entropy is about (parameters)/(2 n) = 5e-5 and its relative guidance error about the
// slope's squared relative error (~1e-4 where the signal is strong), so the tolerances below
// (KL < 1e-3, relative guidance error < 1e-2, slope within 5 standard errors) hold with a wide
// margin; the data are fixed by seed, so the test is deterministic.
//
// Mutation twin: the constant classifier p(c) (no information) must fail the same check: its
// KL is the mutual information I(c; x_t) and its guidance error is E|grad log p_t(c|x)|^2.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { buildModel } from '../../src/model/mixture.ts';
import { processAt } from '../../src/processes/process.ts';
import { sampleNoisedData } from '../../src/studies/classifiers/data.ts';
import { Network } from '../../src/model/classifier/network.ts';
import { trainLogisticNewton } from '../../src/studies/classifiers/train.ts';
import {
  ExactClassifier,
  PerLevelClassifier,
  PriorClassifier,
  type TrainedClassifier,
} from '../../src/model/classifier/classifier.ts';
import { evaluateClassifier, type LevelMetrics } from '../../src/studies/classifiers/evaluate.ts';
import { STREAMS } from '../../src/model/classifier/rng.ts';

const N = 20000;
const SEED = 3;

function twoGaussians(process: unknown) {
  return parseSpec({
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
      { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
    ],
    target: 'pos',
    process,
    solver: { kind: 'euler', steps: 10 },
  });
}

/** The acceptance check of a trained classifier: cross-entropy at the Bayes floor and guidance right. */
function recoversExact(m: LevelMetrics): boolean {
  return (
    Math.abs(m.crossEntropy.value - m.exactCrossEntropy.value) < 1e-3 &&
    m.klDirect.value < 1e-3 &&
    m.relativeGuidanceError < 1e-2
  );
}

const CASES: [string, unknown, number[]][] = [
  ['ou', { kind: 'ou', T: 10 }, [0.01, 0.3, 1, 3]],
  ['vp', { kind: 'vp' }, [0.05, 0.5]],
  ['ve', { kind: 've', sigmaMax: 80 }, [0.1, 2]],
];

describe.each(CASES)(
  '1-D two Gaussians, equal variances (%s): logistic regression is the exact classifier',
  (_name, proc, times) => {
    const spec = twoGaussians(proc);
    const model = buildModel(spec);
    const exact = new ExactClassifier(model, spec.process);
    const logPrior = model.classes.map((c) => c.logPrior);

    it.each(times)('t = %s: CE_hat = CE_exact, KL ~ 0, guidance error ~ 0; the constant classifier fails', (t) => {
      const level = Math.round(t * 1000);
      const train = sampleNoisedData(model, spec.process, t, N, SEED, STREAMS.train(level));
      const test = sampleNoisedData(model, spec.process, t, N, SEED, STREAMS.test(level));
      const net = new Network({ dim: 1, classes: 2, features: 'linear', hidden: [], activation: 'tanh' });
      trainLogisticNewton(net, train);
      const clf = new PerLevelClassifier(['pos', 'neg'], [t], [net]);
      const m = evaluateClassifier(clf, exact, logPrior, test, 0);
      expect(recoversExact(m)).toBe(true);
      // The difference and direct KL estimates agree within Monte Carlo error.
      expect(Math.abs(m.klDifference.value - m.klDirect.value)).toBeLessThan(4 * m.klDifference.se + 1e-4);
      // The fitted log-odds slope is the exact one, 2 alpha / (alpha^2 + sigma^2), within 5 standard
      // errors of the maximum-likelihood slope, 1 / sqrt(sum_i p_i (1 - p_i) (x_i - mean x)^2).
      const { alpha, sigma2 } = processAt(spec.process, t);
      const slope = (net.params[0] - net.params[1]) * net.featInvStd[0];
      const mean = train.x.reduce((a, b) => a + b, 0) / N;
      let info = 0;
      for (let i = 0; i < N; i++) {
        const p = Math.exp(exact.logProb(train.x.subarray(i, i + 1), t)[0]);
        info += p * (1 - p) * (train.x[i] - mean) ** 2;
      }
      expect(Math.abs(slope - (2 * alpha) / (alpha * alpha + sigma2))).toBeLessThan(5 / Math.sqrt(info));

      // Mutation twin: the constant classifier p(c).
      const prior = evaluateClassifier(new PriorClassifier(model), exact, logPrior, test, 0);
      expect(recoversExact(prior)).toBe(false);
      // Its KL is the mutual information: with p(c) = 1/2, CE_prior = log 2 = H(c) exactly.
      expect(prior.klDifference.value).toBeCloseTo(prior.mutualInformation.value, 12);
      expect(prior.guidanceError.value).toBeCloseTo(prior.exactGradientSquare.value, 12);
      expect(prior.relativeGuidanceError).toBe(1);
      expect(prior.guidanceError.value).toBeGreaterThan(100 * m.guidanceError.value);
    });
  },
);

describe('the KL estimates are >= 0 within Monte Carlo error', () => {
  // Three Gaussian modes against a broad Gaussian (examples/three-modes-1d.json): the exact
  // log-odds is not linear, so logistic regression on x is misspecified and its KL is > 0.
  const spec = parseSpec({
    dim: 1,
    classes: [
      {
        name: 'modes',
        weight: 0.5,
        components: [
          { kind: 'gaussian', weight: 0.3, mean: [-2], cov: 0.1 },
          { kind: 'gaussian', weight: 0.5, mean: [0], cov: 0.2 },
          { kind: 'gaussian', weight: 0.2, mean: [3], cov: 0.3 },
        ],
      },
      { name: 'broad', weight: 0.5, components: [{ kind: 'gaussian', mean: [0.5], cov: 4 }] },
    ],
    target: 'modes',
    process: { kind: 'ou', T: 10 },
    solver: { kind: 'euler', steps: 10 },
  });
  const model = buildModel(spec);
  const exact = new ExactClassifier(model, spec.process);
  const logPrior = model.classes.map((c) => c.logPrior);
  const t = 0.1;
  const train = sampleNoisedData(model, spec.process, t, 5000, SEED, STREAMS.train(0));
  const test = sampleNoisedData(model, spec.process, t, 5000, SEED, STREAMS.test(0));
  const fit = (features: 'linear' | 'quadratic'): TrainedClassifier => {
    const net = new Network({ dim: 1, classes: 2, features, hidden: [], activation: 'tanh' });
    trainLogisticNewton(net, train);
    return new PerLevelClassifier(['modes', 'broad'], [t], [net]);
  };
  const cases: [string, TrainedClassifier][] = [
    ['logistic on x (misspecified)', fit('linear')],
    ['logistic on [x, x^2]', fit('quadratic')],
    ['constant p(c)', new PriorClassifier(model)],
  ];

  it.each(cases)('%s', (_name, clf) => {
    const m = evaluateClassifier(clf, exact, logPrior, test, 0);
    expect(m.klDifference.value + 3 * m.klDifference.se).toBeGreaterThanOrEqual(0);
    expect(m.klDirect.value).toBeGreaterThanOrEqual(0);
    // Nobody beats the Bayes floor: neither estimate is below the mutual information's complement.
    expect(m.klDirect.value).toBeLessThanOrEqual(m.mutualInformation.value + 3 * m.mutualInformation.se + 0.05);
  });

  it('ordering: quadratic < linear < constant in KL; the exact classifier as p_hat has KL and guidance error exactly 0', () => {
    const [lin, quad, prior] = cases.map(([, c]) => evaluateClassifier(c, exact, logPrior, test, 0));
    expect(quad.klDirect.value).toBeLessThan(lin.klDirect.value);
    expect(lin.klDirect.value).toBeLessThan(prior.klDirect.value);
    const self = evaluateClassifier(new ExactClassifier(model, spec.process), exact, logPrior, test, 0);
    expect(self.klDifference.value).toBe(0);
    expect(self.klDirect.value).toBe(0);
    expect(self.guidanceError.value).toBe(0);
  });
});

describe('between levels: logits interpolated in alpha/sigma, not in log t', () => {
  // Levels carrying the EXACT logistic classifier (logit_pos - logit_neg = 2 alpha x for OU with
  // these unit-variance classes), so only the interpolation is tested. At low SNR the exact
  // logits are proportional to alpha ~ alpha/sigma, which the alpha/sigma interpolation follows;
  // linear in log t it overshoots (at t = 4.24, halfway in log t between 3 and 6, it gives a
  // slope 2.2x the exact one). Mutation twin: the log-t interpolation must fail the same bound.
  const spec = twoGaussians({ kind: 'ou', T: 10 });
  const model = buildModel(spec);
  const exact = new ExactClassifier(model, spec.process);
  const logPrior = model.classes.map((c) => c.logPrior);
  const times = [0.5, 3, 6];
  const nets = times.map((t) => {
    const net = new Network({ dim: 1, classes: 2, features: 'linear', hidden: [], activation: 'tanh' });
    const a = Math.exp(-t);
    net.params.set([a, -a, 0, 0]); // W = [alpha; -alpha], b = 0, features unstandardised
    return net;
  });

  const errors = (t: number) => {
    const test = sampleNoisedData(model, spec.process, t, 4000, SEED, STREAMS.between(Math.round(t * 100)));
    const snr = evaluateClassifier(
      new PerLevelClassifier(['pos', 'neg'], times, nets, spec.process),
      exact,
      logPrior,
      test,
      0,
    );
    const logt = evaluateClassifier(new PerLevelClassifier(['pos', 'neg'], times, nets), exact, logPrior, test, 0);
    return { snr: snr.relativeGuidanceError, logt: logt.relativeGuidanceError };
  };

  it('t = 1 (between 0.5 and 3): both interpolations are within 5% in relative guidance error', () => {
    const e = errors(1);
    expect(e.snr).toBeLessThan(0.05);
    expect(e.logt).toBeLessThan(0.05);
  });

  it('t = 4.24 (low SNR, between 3 and 6): alpha/sigma within 5%, log t off by > 50%', () => {
    const e = errors(4.24);
    expect(e.snr).toBeLessThan(0.05);
    expect(e.logt).toBeGreaterThan(0.5);
  });
});
