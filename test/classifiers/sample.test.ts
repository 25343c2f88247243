// The trained-classifier sampler against the CPU reference: with the exact classifier as the
// guidance source, s_u + w grad log p_t(c|x) is the reference's `classifier` guidance
// w s_c + (1 - w) s_u, so the particles must agree one by one (to rounding) for the ODE
// solvers and for Euler-Maruyama (same initial noise, same SDE noise streams).
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { buildModel } from '../../src/model/mixture.ts';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { ExactClassifier, PriorClassifier } from '../../src/model/classifier/classifier.ts';
import { sampleWithClassifier } from '../../src/studies/classifiers/sample.ts';

function spec(solver: string, w: unknown, process: unknown = { kind: 'vp' }) {
  return parseSpec({
    dim: 2,
    classes: [
      {
        name: 'a',
        weight: 0.4,
        components: [
          {
            kind: 'gaussian',
            mean: [1, 0.5],
            cov: [
              [0.5, 0.2],
              [0.2, 0.3],
            ],
          },
          { kind: 'uniform', low: [-1, 1], high: [0, 2] },
        ],
      },
      { name: 'b', weight: 0.6, components: [{ kind: 'gaussian', mean: [-1, -1], cov: 0.4 }] },
    ],
    target: 'a',
    process,
    guidance: { kind: 'classifier', w },
    solver: { kind: solver, steps: 40, tMin: 0.01 },
    particles: 64,
    seed: 9,
  });
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('sampleWithClassifier(exact classifier) = the reference sampler with classifier guidance', () => {
  const cases: [string, unknown, unknown][] = [
    ['euler', 3, { kind: 'vp' }],
    ['heun', 2, { kind: 'ou', T: 4 }],
    [
      'rk4',
      {
        kind: 'piecewise',
        points: [
          [0.1, 0],
          [0.5, 4],
        ],
      },
      { kind: 'vp' },
    ],
    ['em', 3, { kind: 'vp' }],
  ];
  it.each(cases)('%s, w = %j (%j)', (solver, w, proc) => {
    const s = spec(solver, w, proc);
    const ref = sampleCpu(s).particles;
    const g = s.guidance.kind === 'classifier' ? s.guidance.w : null;
    const ours = sampleWithClassifier(s, new ExactClassifier(buildModel(s), s.process), g!);
    expect(ours.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-9);
  });

  it('a constant classifier gives the unconditional sampler (w has no effect), which differs from the guided one', () => {
    const s = spec('euler', 3);
    const model = buildModel(s);
    const uncond = sampleWithClassifier(s, new PriorClassifier(model), 3);
    const w0 = sampleWithClassifier(s, new ExactClassifier(model, s.process), 0);
    expect(maxAbsDiff(uncond, w0)).toBeLessThan(1e-12);
    expect(maxAbsDiff(uncond, sampleCpu(s).particles)).toBeGreaterThan(0.1);
  });
});
