// The closed-form divergence of the guided velocity (log-density path) against central finite
// differences of the velocity itself, in f64. Central differences with step 1e-4 have error
// O(h^2 |u'''|) + O(eps |u| / h) ~ 1e-8 here, so 1e-5 (1 + |div|) is a bound, not a fit; a
// mutation twin (the divergence with one term dropped) must miss by far more.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { CpuStepper } from '../../src/cpu/reference.ts';
import { logDiffPhi, logDiffPhiSecond } from '../../src/model/special.ts';
import { logDensityUnsupported } from '../../src/model/divergence.ts';

function spec(dim: number, classes: unknown[], guidance: unknown, extra: Record<string, unknown> = {}) {
  return parseSpec({
    dim,
    classes,
    target: 'a',
    process: { kind: 'ou', T: 3 },
    guidance,
    solver: { kind: 'heun', steps: 8, tMin: 0.01 },
    ...extra,
  });
}

function fdDivergence(
  st: CpuStepper,
  row: ReturnType<() => CpuStepper['table']['rows'][number]>,
  x: Float64Array,
): number {
  const d = x.length;
  const h = 1e-4;
  const up = new Float64Array(d),
    dn = new Float64Array(d);
  let div = 0;
  for (let i = 0; i < d; i++) {
    const xp = Float64Array.from(x),
      xm = Float64Array.from(x);
    xp[i] += h;
    xm[i] -= h;
    st.velocity(xp, row, up, 0);
    st.velocity(xm, row, dn, 0);
    div += (up[i] - dn[i]) / (2 * h);
  }
  return div;
}

function checkSpec(s: ReturnType<typeof parseSpec>, points: number[][]) {
  const st = new CpuStepper(s);
  const out = new Float64Array(s.dim);
  let checked = 0;
  for (const n of [0, 3, 7]) {
    for (let stage = 0; stage < st.table.stages; stage++) {
      const row = st.table.rows[n * st.table.stages + stage];
      st.setTime(row);
      for (const p of points) {
        const x = Float64Array.from(p);
        const fd = fdDivergence(st, row, x);
        st.velocity(x, row, out, 0);
        const div = st.velocityDivergence(x, row);
        expect(Math.abs(div - fd)).toBeLessThan(1e-5 * (1 + Math.abs(fd)));
        checked++;
      }
    }
  }
  return checked;
}

const pt = (d: number, seed: number) => Array.from({ length: d }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 2);

describe('velocityDivergence = finite differences of the velocity', () => {
  for (const d of [1, 2, 5]) {
    it(`Gaussian mixtures (diag and full covariance), cfg w = 3, d = ${d}`, () => {
      const full = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1.5 : 0.3)));
      const s = spec(
        d,
        [
          {
            name: 'a',
            components: [
              { kind: 'gaussian', mean: pt(d, 1), cov: full },
              { kind: 'gaussian', weight: 0.3, mean: pt(d, 2), cov: 0.2 },
            ],
          },
          { name: 'b', components: [{ kind: 'gaussian', mean: pt(d, 3), cov: Array(d).fill(0.5) }] },
        ],
        { kind: 'cfg', w: 3 },
      );
      expect(checkSpec(s, [pt(d, 4), pt(d, 5), pt(d, 6).map((v) => 3 * v)])).toBeGreaterThan(0);
    });

    it(`boxes inside, outside and far outside, against a Gaussian negative, d = ${d}`, () => {
      const s = spec(
        d,
        [
          {
            name: 'a',
            components: [
              { kind: 'uniform', low: Array(d).fill(-1), high: Array(d).fill(0.5) },
              { kind: 'uniform', low: Array(d).fill(1), high: Array(d).fill(1.2) },
            ],
          },
          { name: 'b', components: [{ kind: 'gaussian', mean: Array(d).fill(0), cov: 1 }] },
        ],
        { kind: 'cfg', w: 2, negative: 'b' },
      );
      checkSpec(s, [Array(d).fill(0), Array(d).fill(1.1), Array(d).fill(4), pt(d, 7)]);
    });
  }

  it('score errors: bias, random field, blur (d = 2, both groups)', () => {
    const classes = [
      {
        name: 'a',
        components: [
          { kind: 'gaussian', mean: [1, 0], cov: 0.5 },
          { kind: 'uniform', low: [-2, -1], high: [-1, 1] },
        ],
      },
      { name: 'b', components: [{ kind: 'gaussian', mean: [0, 1], cov: 2 }] },
    ];
    for (const scoreError of [
      { kind: 'bias', value: [0.3, -0.2], applyTo: 'both' },
      { kind: 'field', amplitude: 0.5, lengthScale: 0.7, features: 16, applyTo: 'both' },
      { kind: 'blur', delta: 0.4, applyTo: 'target' },
    ]) {
      checkSpec(spec(2, classes, { kind: 'cfg', w: 1.5 }, { scoreError }), [
        [0.2, 0.1],
        [-1.5, 0.3],
        [3, -2],
      ]);
    }
  });
});

describe('logDiffPhiSecond', () => {
  it('matches finite differences of logDiffPhi dlog inside, across and 40 sd outside a box', () => {
    for (const [c, w] of [
      [0, 2],
      [0.3, 0.5],
      [-5, 1],
      [8, 3],
      [-40, 2],
      [45, 0.5],
      [2, 1e-4],
      [-30, 1e-5],
    ]) {
      const h = 1e-5 * Math.max(1, Math.abs(c));
      const fd =
        (logDiffPhi(c + h + w / 2, c + h - w / 2).dlog - logDiffPhi(c - h + w / 2, c - h - w / 2).dlog) / (2 * h);
      const v = logDiffPhiSecond(c + w / 2, c - w / 2);
      expect(Math.abs(v - fd)).toBeLessThan(1e-5 * (1 + Math.abs(fd)));
      expect(v).toBeLessThan(0); // log-concave: the box's noised density is a convolution of log-concave laws
    }
  });

  it('mutation twin: dropping |sum r g|^2 from the mixture divergence is detected', () => {
    // Two well-separated Gaussians at a point between them: the responsibility-variance term is O(1).
    const s = spec(
      1,
      [
        {
          name: 'a',
          components: [
            { kind: 'gaussian', mean: [-2], cov: 0.3 },
            { kind: 'gaussian', mean: [2], cov: 0.3 },
          ],
        },
      ],
      { kind: 'none' },
    );
    const st = new CpuStepper(s);
    const row = st.table.rows[st.table.rows.length - 1];
    st.setTime(row);
    const x = Float64Array.of(0.1);
    const fd = fdDivergence(st, row, x);
    st.velocity(x, row, new Float64Array(1), 0);
    const div = st.velocityDivergence(x, row);
    // the wrong formula: cx + cs sum_k r_k div g_k (no score-spread terms)
    const wrong = row.cx + (row.cs * -1) / (row.alpha ** 2 * 0.3 + row.sigma2);
    expect(Math.abs(div - fd)).toBeLessThan(1e-5 * (1 + Math.abs(fd)));
    expect(Math.abs(wrong - fd)).toBeGreaterThan(1);
  });
});

describe('logDensityUnsupported', () => {
  const classes = [
    { name: 'a', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
    { name: 'b', components: [{ kind: 'gaussian', mean: [0], cov: 2 }] },
  ];
  it('refuses nonlinear variants, em and the fk corrector, naming the field', () => {
    expect(
      logDensityUnsupported(spec(1, classes, { kind: 'cfg', w: 1, variant: { kind: 'rescale', phi: 0.7 } }))?.path,
    ).toBe('guidance.variant');
    expect(
      logDensityUnsupported(spec(1, classes, { kind: 'cfg', w: 1 }, { solver: { kind: 'em', steps: 10, tMin: 0.01 } }))
        ?.path,
    ).toBe('solver.kind');
    expect(logDensityUnsupported(spec(1, classes, { kind: 'cfg', w: 1 }))).toBeNull();
    expect(logDensityUnsupported(spec(1, classes, { kind: 'classifier', w: 1 }))).toBeNull();
  });
});
