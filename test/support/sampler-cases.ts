// Specs (raw JSON, as in shared/SPEC.md) shared by the GPU sampler tests in Node and in the
// browser. Raw rather than parsed so that a browser page never imports the parser (node:fs).
// Sizes are small (hundreds to a few thousand particles) because the f64 reference and its
// error model (test/support/parity.ts) run on the CPU at ~3 M velocity evaluations/s, boxes
// ~10x slower.
//
// Step grids keep every explicit solver stable: for the boxes, whose scores have a Lipschitz
// constant ~ (1 + w) / sigma^2 near the edges, the EDM grid (uniform in t^(1/7)) makes the last
// steps short enough (|h| L < 1); a uniform grid to tMin = 1e-3 is not (|h| L ~ 100), and a
// parity test of an unstable integration measures nothing but its instability.

export type RawSpec = Record<string, unknown>;
export type Solver = 'euler' | 'heun' | 'rk4' | 'em';

const gauss = (mean: number[], cov: unknown, weight = 1) => ({ kind: 'gaussian', weight, mean, cov });
const box = (low: number[], high: number[], weight = 1) => ({ kind: 'uniform', weight, low, high });

/** Two unit-variance 1-D Gaussians at +-1, equal class weights (SPEC.md's example). */
export const TWO_GAUSSIANS = [
  { name: 'pos', weight: 0.5, components: [gauss([1], 1)] },
  { name: 'neg', weight: 0.5, components: [gauss([-1], 1)] },
];

const EDM = { kind: 'edm', rho: 7 };

export interface ParityCase {
  name: string;
  /** The spec for one solver. */
  spec(solver: Solver): RawSpec;
}

const twoGaussians =
  (extra: RawSpec) =>
  (solver: Solver): RawSpec => ({
    dim: 1,
    classes: TWO_GAUSSIANS,
    target: 'pos',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 3 },
    solver: { kind: solver, steps: 100 },
    particles: 1000,
    seed: 7,
    ...extra,
  });

export const PARITY_CASES: ParityCase[] = [
  { name: 'two 1-D Gaussians, cfg w=3 vs unconditional, ou', spec: twoGaussians({}) },
  {
    name: 'three 1-D classes, cfg w=3 vs the class neg',
    spec: twoGaussians({
      classes: [...TWO_GAUSSIANS, { name: 'far', weight: 1, components: [gauss([4], 0.25)] }],
      guidance: { kind: 'cfg', w: 3, negative: 'neg' },
    }),
  },
  {
    name: 'two 1-D Gaussians, cfg w=2 vs an inline negative',
    spec: twoGaussians({
      guidance: { kind: 'cfg', w: 2, negative: { components: [gauss([0.5], 2), gauss([-2], 0.5, 0.5)] } },
    }),
  },
  {
    name: '1-D box mixture, cfg w=2, ou on the EDM grid',
    spec: (solver) => ({
      dim: 1,
      classes: [
        { name: 'a', weight: 1, components: [box([-1], [1]), box([2], [2.5], 0.5)] },
        { name: 'b', weight: 1, components: [box([-3], [-1.5])] },
      ],
      target: 'a',
      process: { kind: 'ou', T: 8 },
      guidance: { kind: 'cfg', w: 2 },
      solver: { kind: solver, steps: 100, grid: EDM },
      particles: 400,
      seed: 11,
    }),
  },
  {
    name: '2-D box and Gaussian mixture, cfg w=1.5, ou on the EDM grid',
    spec: (solver) => ({
      dim: 2,
      classes: [
        { name: 'a', weight: 1, components: [box([-1, 0], [1, 0.5])] },
        { name: 'b', weight: 1, components: [box([-2, -2], [0, -1]), gauss([1, 1], 0.5)] },
      ],
      target: 'a',
      process: { kind: 'ou', T: 8 },
      guidance: { kind: 'cfg', w: 1.5 },
      solver: { kind: solver, steps: 60, grid: EDM },
      particles: 300,
      seed: 12,
    }),
  },
  {
    name: '2-D full-covariance Gaussian mixture, classifier w=3',
    spec: (solver) => ({
      dim: 2,
      classes: [
        {
          name: 'a',
          weight: 1,
          components: [
            gauss(
              [1, 0],
              [
                [1, 0.6],
                [0.6, 0.5],
              ],
            ),
            gauss([-1, 1], [0.3, 0.8]),
          ],
        },
        {
          name: 'b',
          weight: 2,
          components: [
            gauss(
              [0, -1],
              [
                [0.4, -0.2],
                [-0.2, 0.9],
              ],
            ),
          ],
        },
      ],
      target: 'a',
      process: { kind: 'ou', T: 10 },
      guidance: { kind: 'classifier', w: 3 },
      solver: { kind: solver, steps: 80 },
      particles: 600,
      seed: 13,
    }),
  },
  {
    name: 'two 1-D Gaussians, piecewise w(t) with a negative window',
    spec: twoGaussians({
      guidance: {
        kind: 'cfg',
        w: {
          kind: 'piecewise',
          points: [
            [0.2, 0],
            [1, 4],
            [3, -1],
            [5, 0],
          ],
        },
      },
    }),
  },
  {
    name: 'two 1-D Gaussians, interval w(t)',
    spec: twoGaussians({ guidance: { kind: 'cfg', w: { kind: 'interval', w: 3, tLow: 0.3, tHigh: 2 } } }),
  },
  { name: 'two 1-D Gaussians, cfg w=3, vp', spec: twoGaussians({ process: { kind: 'vp' } }) },
  {
    name: 'two 1-D Gaussians, cfg w=3, ve (sigmaMax 80) on the EDM grid',
    spec: (solver) => ({
      ...twoGaussians({ process: { kind: 've', sigmaMax: 80 } })(solver),
      solver: { kind: solver, steps: 100, grid: EDM },
    }),
  },
  { name: 'two 1-D Gaussians, cfg w=3, flow', spec: twoGaussians({ process: { kind: 'flow' } }) },
];
