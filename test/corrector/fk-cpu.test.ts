// The corrector's discrete-time weights, on the CPU: their continuous-time limit is Skreta
// et al.'s Feynman-Kac weight, and the resampling helpers do what they say.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { CpuStepper } from '../../src/cpu/reference.ts';
import { fkMove } from '../../src/cpu/fk.ts';
import { blockStats, planSystematic, summariseBlocks, systematicAncestors, FK_BLOCK } from '../../src/corrector/fk.ts';
import { processAt } from '../../src/processes/process.ts';
import { normalUpperQuantile } from '../../src/metrics/statistics.ts';
import { MixtureEvaluator } from '../../src/model/mixture.ts';

function twoGaussians(steps: number, guidance: unknown): ReturnType<typeof parseSpec> {
  return parseSpec({
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.3, components: [{ kind: 'gaussian', weight: 1, mean: [1.5], cov: 0.5 }] },
      { name: 'neg', weight: 0.7, components: [{ kind: 'gaussian', weight: 1, mean: [-1], cov: 1 }] },
    ],
    target: 'pos',
    process: { kind: 'ou', T: 4 },
    guidance,
    solver: { kind: 'em', steps, tMin: 1e-3 },
    particles: 1,
    corrector: { kind: 'fk' },
  });
}

// E_z[increment] by a deterministic midpoint rule over the normal's quantiles.
const Z = Array.from({ length: 4000 }, (_, k) => -normalUpperQuantile((k + 0.5) / 4000));

function meanIncrementRate(steps: number, guidance: unknown, t: number, x0: number): number {
  const spec = twoGaussians(steps, guidance);
  const stepper = new CpuStepper(spec);
  const { rows } = stepper.table;
  const n = rows.findIndex((r) => r.t <= t);
  const row = rows[n];
  const next = rows[n + 1];
  const drift = new Float64Array(1);
  const x = new Float64Array(1);
  stepper.setTime(row);
  x[0] = x0;
  stepper.velocity(x, row, drift, 0);
  const logQ = stepper.logTilted(row);
  const drift0 = drift[0];
  stepper.setTime(next);
  let sum = 0;
  const z = new Float64Array(1);
  for (const zk of Z) {
    x[0] = x0;
    drift[0] = drift0;
    z[0] = zk;
    sum += fkMove(stepper, row, next, x, drift, logQ, z).increment;
  }
  // Add back the dropped constant d log noise - (d/2) log v (the same for every particle).
  const constant = Math.log(row.noiseScale) + 0.5 * Math.log(2 * row.backHalfPrecision);
  return (sum / Z.length + constant) / -row.h;
}

/** Skreta et al.'s rate for constant w: -gT gN (g^2 / 2) |s_target - s_negative|^2. */
function continuousRate(w: number, t: number, x0: number, negativeIsUnconditional: boolean): number {
  const spec = twoGaussians(10, { kind: 'cfg', w });
  const stepper = new CpuStepper(spec);
  const ev = new MixtureEvaluator(stepper.guidance.model);
  const p = processAt(spec.process, t);
  ev.setTime(p.alpha, p.sigma2);
  ev.evaluateComponents([x0]);
  const st = new Float64Array(1);
  const sn = new Float64Array(1);
  ev.addGroupScore(stepper.guidance.target, 1, st);
  ev.addGroupScore(negativeIsUnconditional ? stepper.guidance.model.unconditional : stepper.guidance.negative!, 1, sn);
  const gT = 1 + w;
  const gN = -w;
  return -gT * gN * (p.g2 / 2) * (st[0] - sn[0]) ** 2;
}

describe('fk weights: continuous-time limit', () => {
  it.each([
    [3, 1.0, 0.3],
    [3, 0.2, -0.5],
    [1, 2.0, 2.0],
  ])('cfg w = %d at t = %d, x = %d: E[increment] / h tends to w (1 + w) g^2 / 2 |s_c - s_u|^2', (w, t, x0) => {
    const target = continuousRate(w, t, x0, true);
    const coarse = meanIncrementRate(400, { kind: 'cfg', w }, t, x0);
    const fine = meanIncrementRate(4000, { kind: 'cfg', w }, t, x0);
    // First order in h: the error shrinks about tenfold with the step.
    expect(Math.abs(fine - target)).toBeLessThan(0.02 * Math.abs(target) + 1e-3);
    expect(Math.abs(fine - target)).toBeLessThan(0.3 * Math.abs(coarse - target) + 1e-4);
  });

  it('without guidance the mean increment vanishes as h -> 0 (the weights only correct the discretisation)', () => {
    const coarse = meanIncrementRate(400, { kind: 'none' }, 1.0, 0.7);
    const fine = meanIncrementRate(4000, { kind: 'none' }, 1.0, 0.7);
    expect(Math.abs(fine)).toBeLessThan(0.3 * Math.abs(coarse) + 1e-4);
    expect(Math.abs(fine)).toBeLessThan(1e-2);
  });
});

describe('fk resampling helpers', () => {
  const logW = Float64Array.from({ length: 5000 }, (_, i) =>
    i % 7 === 3 ? Number.NaN : Math.sin(i) * 4 + (i % 11 === 0 ? -800 : 0),
  );

  it('systematic ancestors: every copy count is floor or ceil of N w_i, and non-finite weights get none', () => {
    const n = logW.length;
    const anc = systematicAncestors(logW, n, 0.37);
    const copies = new Uint32Array(n);
    for (const a of anc) copies[a]++;
    let max = -Infinity;
    for (const v of logW) if (Number.isFinite(v)) max = Math.max(max, v);
    let total = 0;
    for (const v of logW) if (Number.isFinite(v)) total += Math.exp(v - max);
    for (let i = 0; i < n; i++) {
      const expected = Number.isFinite(logW[i]) ? (n * Math.exp(logW[i] - max)) / total : 0;
      expect(copies[i]).toBeGreaterThanOrEqual(Math.floor(expected - 1e-9));
      expect(copies[i]).toBeLessThanOrEqual(Math.ceil(expected + 1e-9));
    }
    for (let j = 1; j < n; j++) expect(anc[j]).toBeGreaterThanOrEqual(anc[j - 1]);
  });

  it('block plan: slot starts are monotone, end at N, and place the same slots as the global rule', () => {
    const n = logW.length;
    const u = 0.61;
    const blocks = blockStats(logW, n);
    expect(blocks.length).toBe(Math.ceil(n / FK_BLOCK));
    const summary = summariseBlocks(blocks);
    expect(summary.nonFinite).toBe(Array.from(logW).filter((v) => !Number.isFinite(v)).length);
    const plan = planSystematic(blocks, summary, n, u);
    const anc = systematicAncestors(logW, n, u);
    for (let k = 0; k < plan.length; k++) {
      const end = k + 1 < plan.length ? plan[k + 1].slotStart : n;
      expect(end).toBeGreaterThanOrEqual(plan[k].slotStart);
      // Slots planned into block k have their ancestors in block k.
      for (let j = plan[k].slotStart; j < end; j++) expect(Math.floor(anc[j] / FK_BLOCK)).toBe(k);
    }
  });

  it('ESS of equal weights is N, of one dominant weight about 1', () => {
    expect(summariseBlocks(blockStats(new Float64Array(3000), 3000)).ess).toBeCloseTo(3000, 6);
    const one = new Float64Array(3000).fill(-1000);
    one[1234] = 0;
    expect(summariseBlocks(blockStats(one, 3000)).ess).toBeCloseTo(1, 6);
  });
});
