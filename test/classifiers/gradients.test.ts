// Derivatives of the classifiers against central finite differences: grad_x log p_hat(c|x) of
// logistic regression (linear, quadratic, sum features) and of MLPs (tanh, SiLU), of the
// per-level classifier between two levels (interpolated logits), and of the exact classifier
// (s_c - s_u); the parameter gradient used in training. Also the training data: deterministic
// by seed and stream, and with the noised mixture's exact moments.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { buildModel } from '../../src/model/mixture.ts';
import { processAt } from '../../src/processes/process.ts';
import { Network, type NetworkConfig } from '../../src/model/classifier/network.ts';
import { ClfStream, STREAMS } from '../../src/model/classifier/rng.ts';
import { ExactClassifier, PerLevelClassifier, type TrainedClassifier } from '../../src/model/classifier/classifier.ts';
import { sampleNoisedData } from '../../src/studies/classifiers/data.ts';

const H = 1e-5;

/** Max over classes and coordinates of |analytic - FD| / (1 + |FD|). */
function fdError(clf: TrainedClassifier, x: Float64Array, t: number): number {
  const d = x.length;
  const K = clf.classes.length;
  let worst = 0;
  const g = new Float64Array(d);
  for (let c = 0; c < K; c++) {
    clf.gradLogProb(x, t, c, g);
    for (let i = 0; i < d; i++) {
      const xp = Float64Array.from(x);
      const xm = Float64Array.from(x);
      xp[i] += H;
      xm[i] -= H;
      const fd = (clf.logProb(xp, t)[c] - clf.logProb(xm, t)[c]) / (2 * H);
      worst = Math.max(worst, Math.abs(g[i] - fd) / (1 + Math.abs(fd)));
    }
  }
  return worst;
}

function randomNet(config: NetworkConfig, seed: number): Network {
  const net = new Network(config);
  const rng = new ClfStream(seed, 99);
  net.initialise(rng);
  for (let i = 0; i < net.params.length; i++) net.params[i] += 0.5 * (2 * rng.uniform() - 1); // non-zero biases too
  for (let j = 0; j < net.featMean.length; j++) {
    net.featMean[j] = 0.3 * (2 * rng.uniform() - 1);
    net.featInvStd[j] = 0.5 + rng.uniform();
  }
  return net;
}

function randomPoints(d: number, n: number, seed: number): Float64Array[] {
  const rng = new ClfStream(seed, 7);
  return Array.from({ length: n }, () => Float64Array.from({ length: d }, () => 3 * (2 * rng.uniform() - 1)));
}

const CONFIGS: [string, NetworkConfig][] = [
  ['logistic, linear features', { dim: 3, classes: 3, features: 'linear', hidden: [], activation: 'tanh' }],
  ['logistic, quadratic features', { dim: 3, classes: 3, features: 'quadratic', hidden: [], activation: 'tanh' }],
  ['logistic, sum feature', { dim: 4, classes: 2, features: 'sum', hidden: [], activation: 'tanh' }],
  ['MLP 8-8 tanh', { dim: 3, classes: 3, features: 'linear', hidden: [8, 8], activation: 'tanh' }],
  ['MLP 6 SiLU, quadratic features', { dim: 2, classes: 2, features: 'quadratic', hidden: [6], activation: 'silu' }],
];

describe('grad_x log p_hat(c|x) against finite differences', () => {
  it.each(CONFIGS)('%s: relative error < 1e-7', (_name, config) => {
    const net = randomNet(config, 11);
    const clf = new PerLevelClassifier(
      Array.from({ length: config.classes }, (_, k) => `c${k}`),
      [0.5],
      [net],
    );
    for (const x of randomPoints(config.dim, 8, 3)) expect(fdError(clf, x, 0.5)).toBeLessThan(1e-7);
  });

  it('per-level classifier between two levels (logits interpolated in log t), and beyond the ends', () => {
    const cfg: NetworkConfig = { dim: 2, classes: 3, features: 'linear', hidden: [5], activation: 'tanh' };
    const clf = new PerLevelClassifier(['a', 'b', 'c'], [0.1, 1], [randomNet(cfg, 1), randomNet(cfg, 2)]);
    for (const t of [0.05, 0.1, 0.3, 0.999, 1, 4]) {
      for (const x of randomPoints(2, 4, 5)) expect(fdError(clf, x, t)).toBeLessThan(1e-7);
    }
    // At a level it is that level's network; in between, the logits' weights follow log t.
    const x = Float64Array.of(0.3, -0.7);
    const lp = (t: number) => Array.from(clf.logProb(x, t));
    const alone = (i: number) => Array.from(new PerLevelClassifier(['a', 'b', 'c'], [1], [clf.nets[i]]).logProb(x, 1));
    expect(lp(0.1)).toEqual(alone(0));
    expect(lp(1)).toEqual(alone(1));
    expect(lp(0.01)).toEqual(alone(0));
    expect(clf.bracket(Math.sqrt(0.1)).lam).toBeCloseTo(0.5, 12);
  });

  it('exact classifier: s_c - s_u matches finite differences of log p_t(c|x) (full covariance, box, 2-D)', () => {
    const spec = parseSpec({
      dim: 2,
      classes: [
        {
          name: 'a',
          weight: 0.3,
          components: [
            {
              kind: 'gaussian',
              mean: [1, 0],
              cov: [
                [1, 0.4],
                [0.4, 0.5],
              ],
            },
            { kind: 'uniform', low: [-1, -1], high: [0, 2] },
          ],
        },
        { name: 'b', weight: 0.7, components: [{ kind: 'gaussian', mean: [-1, 1], cov: [0.3, 2] }] },
      ],
      target: 'a',
      process: { kind: 'vp' },
      solver: { kind: 'euler', steps: 10 },
    });
    const exact = new ExactClassifier(buildModel(spec), spec.process);
    for (const t of [0.05, 0.3, 0.8])
      for (const x of randomPoints(2, 6, 9)) expect(fdError(exact, x, t)).toBeLessThan(1e-6);
  });
});

describe('parameter gradient of the training loss', () => {
  it('MLP: lossAndGrad against finite differences in every parameter', () => {
    const net = randomNet({ dim: 2, classes: 3, features: 'quadratic', hidden: [4, 3], activation: 'silu' }, 5);
    const pts = randomPoints(2, 6, 1);
    const x = new Float64Array(12);
    pts.forEach((p, i) => {
      x.set(p, 2 * i);
    });
    const c = Int32Array.of(0, 1, 2, 1, 0, 2);
    const idx = Int32Array.of(0, 1, 2, 3, 4, 5);
    const grad = new Float64Array(net.params.length);
    net.lossAndGrad(x, c, idx, 0, 6, grad);
    const scratch = new Float64Array(net.params.length);
    let worst = 0;
    for (let a = 0; a < net.params.length; a++) {
      const v = net.params[a];
      net.params[a] = v + H;
      const lp = net.lossAndGrad(x, c, idx, 0, 6, scratch.fill(0));
      net.params[a] = v - H;
      const lm = net.lossAndGrad(x, c, idx, 0, 6, scratch.fill(0));
      net.params[a] = v;
      worst = Math.max(worst, Math.abs(grad[a] - (lp - lm) / (2 * H)));
    }
    expect(worst).toBeLessThan(1e-8);
  });
});

describe('training data from the noised mixture', () => {
  const spec = parseSpec({
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.25, components: [{ kind: 'gaussian', mean: [2], cov: 0.5 }] },
      { name: 'neg', weight: 0.75, components: [{ kind: 'uniform', low: [-3], high: [-1] }] },
    ],
    target: 'pos',
    process: { kind: 'ou', T: 5 },
    solver: { kind: 'euler', steps: 10 },
  });
  const model = buildModel(spec);

  it('is a pure function of (seed, stream), and sample i does not depend on n', () => {
    const a = sampleNoisedData(model, spec.process, 0.3, 500, 4, STREAMS.train(2));
    const b = sampleNoisedData(model, spec.process, 0.3, 200, 4, STREAMS.train(2));
    const c = sampleNoisedData(model, spec.process, 0.3, 200, 4, STREAMS.test(2));
    expect(Array.from(a.x.subarray(0, 200))).toEqual(Array.from(b.x));
    expect(Array.from(a.c.subarray(0, 200))).toEqual(Array.from(b.c));
    expect(Array.from(c.x)).not.toEqual(Array.from(b.x));
  });

  it('has the exact class frequencies and per-class moments of x_t (within 5 standard errors)', () => {
    const t = 0.4;
    const n = 40000;
    const { alpha, sigma2 } = processAt(spec.process, t);
    const data = sampleNoisedData(model, spec.process, t, n, 1, STREAMS.train(0));
    const rows = { pos: [] as number[], neg: [] as number[] };
    for (let i = 0; i < n; i++) rows[data.c[i] === 0 ? 'pos' : 'neg'].push(data.x[i]);
    const share = rows.pos.length / n;
    expect(Math.abs(share - 0.25)).toBeLessThan(5 * Math.sqrt((0.25 * 0.75) / n));
    const exact = {
      pos: { mean: 2 * alpha, variance: alpha * alpha * 0.5 + sigma2 },
      neg: { mean: -2 * alpha, variance: (alpha * alpha * 4) / 12 + sigma2 },
    };
    for (const k of ['pos', 'neg'] as const) {
      const v = rows[k];
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
      expect(Math.abs(mean - exact[k].mean)).toBeLessThan(5 * Math.sqrt(exact[k].variance / v.length));
      // Var of the sample variance ~ 2 sigma^4 / n for near-normal data; 5 se, doubled for the box's kurtosis.
      expect(Math.abs(variance - exact[k].variance)).toBeLessThan(10 * exact[k].variance * Math.sqrt(2 / v.length));
    }
  });
});
