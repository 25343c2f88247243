// CFG-Zero* and tangential CFG (src/guidance/variants.ts): the replaced negative score against an
// independent computation (least squares; ml-matrix's SVD of [s_c; s_n]), their 1-D identities on
// whole runs (cfgzero is the conditional model, tangential is cfg), zero-init's rows, and the
// spec's validation of the new fields.
import { SingularValueDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { SpecError } from '../../src/experiment/errors.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { prepareExperiment } from '../../src/experiment/plan.ts';
import { negativeFit } from '../../src/guidance/variants.ts';
import { maxAbsDiff } from '../support/compare.ts';

type Raw = Record<string, unknown>;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const mixture1d = (variant: Raw | undefined, w = 3, extra: Raw = {}): Raw => ({
  dim: 1,
  classes: [
    {
      name: 'pos',
      components: [
        { kind: 'gaussian', mean: [1], cov: 0.4 },
        { kind: 'uniform', low: [1.5], high: [2.5] },
      ],
    },
    { name: 'neg', components: [{ kind: 'gaussian', mean: [-1], cov: 0.7 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 6 },
  guidance: { kind: 'cfg', w, ...(variant ? { variant } : {}) },
  solver: { kind: 'heun', steps: 40, tMin: 0.01 },
  particles: 500,
  seed: 9,
  ...extra,
});

describe('negativeFit against independent computations', () => {
  const next = rng(42);
  const cases = Array.from({ length: 20 }, (_, k) => {
    const d = 2 + (k % 6);
    const sT = Array.from({ length: d }, next);
    // Some nearly parallel pairs: where the top singular vector is well separated but G is near rank 1.
    const sN = sT.map((v) => (k % 4 === 0 ? 0.7 * v + 1e-3 * next() : next()));
    return { sT, sN };
  });

  it('tangential: P s_n is the projection of s_n on the top right singular vector of [s_c; s_n] (ml-matrix SVD)', () => {
    for (const { sT, sN } of cases) {
      const svd = new SingularValueDecomposition(new Matrix([sT, sN]), { autoTranspose: true });
      const v1 = svd.rightSingularVectors.getColumn(0);
      const dot = sN.reduce((acc, v, i) => acc + v * v1[i], 0);
      const f = negativeFit('tangential', sT, sN);
      for (let i = 0; i < sT.length; i++) {
        expect(f.onTarget * sT[i] + f.onNegative * sN[i]).toBeCloseTo(dot * v1[i], 10);
      }
    }
  });

  it('cfgzero: a* s_n with a* the least-squares fit of s_n to s_c', () => {
    for (const { sT, sN } of cases) {
      const f = negativeFit('cfgzero', sT, sN);
      expect(f.onTarget).toBe(0);
      // a* minimises |s_c - a s_n|^2: the residual is orthogonal to s_n.
      const residualDot = sT.reduce((acc, v, i) => acc + (v - f.onNegative * sN[i]) * sN[i], 0);
      expect(Math.abs(residualDot)).toBeLessThan(1e-12);
    }
  });

  it('vanishing scores give a zero replacement, never NaN', () => {
    expect(negativeFit('tangential', [0, 0], [0, 0])).toEqual({ onTarget: 0, onNegative: 0 });
    expect(negativeFit('cfgzero', [1, 2], [0, 0])).toEqual({ onTarget: 0, onNegative: 0 });
  });
});

describe('1-D identities on whole runs (CPU, f64)', () => {
  it('tangential CFG in d = 1 is cfg (s_n is its own projection)', () => {
    const cfg = sampleCpu(parseSpec(mixture1d(undefined))).particles;
    const tangential = sampleCpu(parseSpec(mixture1d({ kind: 'tangential' }))).particles;
    expect(maxAbsDiff(tangential, cfg)).toBeLessThan(1e-9);
  });

  it('CFG-Zero* in d = 1 is the conditional model (a* s_n = s_c), whatever w; cfg at the same w is not', () => {
    const conditional = sampleCpu(parseSpec(mixture1d(undefined, 0))).particles;
    const zero = sampleCpu(parseSpec(mixture1d({ kind: 'cfgzero' }, 5))).particles;
    expect(maxAbsDiff(zero, conditional)).toBeLessThan(1e-9);
    const cfg = sampleCpu(parseSpec(mixture1d(undefined, 5))).particles;
    expect(maxAbsDiff(cfg, conditional)).toBeGreaterThan(1e-2);
  });
});

describe('CFG-Zero* zero-init', () => {
  it('the first k steps have no drift and no noise; the rest are the plain variant rows', () => {
    const k = 3;
    const zero = prepareExperiment(
      parseSpec(mixture1d({ kind: 'cfgzero', zeroInitSteps: k }, 3, { solver: { kind: 'em', steps: 20 } })),
    );
    const plain = prepareExperiment(
      parseSpec(mixture1d({ kind: 'cfgzero' }, 3, { solver: { kind: 'em', steps: 20 } })),
    );
    const stages = zero.table.stages;
    zero.table.rows.forEach((row, r) => {
      if (r < k * stages) expect([row.cx, row.cs, row.cMean, row.noiseScale]).toEqual([0, 0, 0, 0]);
      else expect(row).toEqual(plain.table.rows[r]);
    });
    expect(plain.table.rows[0].noiseScale).toBeGreaterThan(0);
  });
});

describe('spec validation of the new variants', () => {
  const issue = (raw: Raw): string => {
    try {
      parseSpec(raw);
    } catch (e) {
      if (e instanceof SpecError) return e.message;
      throw e;
    }
    return 'accepted';
  };
  it('rejects bad zeroInitSteps with the field path', () => {
    for (const bad of [-1, 1.5, 'two']) {
      expect(issue(mixture1d({ kind: 'cfgzero', zeroInitSteps: bad }))).toMatch(/guidance\.variant\.zeroInitSteps/);
    }
    expect(issue(mixture1d({ kind: 'cfgzero', zeroInitSteps: 40 }))).toMatch(/zeroInitSteps: .*below solver\.steps/);
    expect(
      issue(mixture1d({ kind: 'cfgzero', zeroInitSteps: 2 }, 3, { solver: { kind: 'dpmpp-2m', steps: 20 } })),
    ).toMatch(/zeroInitSteps: .*dpmpp-2m/);
  });
  it('rejects unknown fields of tangential and cfgzero (a typo must not run another experiment)', () => {
    expect(issue(mixture1d({ kind: 'tangential', phi: 0.5 }))).toMatch(/guidance\.variant\.phi/);
    expect(issue(mixture1d({ kind: 'cfgzero', zeroInit: 2 }))).toMatch(/guidance\.variant\.zeroInit/);
  });
  it('accepts the defaults', () => {
    expect(parseSpec(mixture1d({ kind: 'cfgzero' })).guidance).toMatchObject({
      variant: { kind: 'cfgzero', zeroInitSteps: 0 },
    });
    expect(parseSpec(mixture1d({ kind: 'tangential' })).guidance).toMatchObject({ variant: { kind: 'tangential' } });
  });
});
