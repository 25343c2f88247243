// Learned denoisers on the CPU (docs/learned-denoisers.md): the score in process space against the
// denoiser's own definition, the trainer's determinism, the score-error report (a trained model
// beats the untrained one at every noise level), and the CPU reference's use of the model.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { prepareExperiment } from '../../src/experiment/plan.ts';
import { CpuStepper } from '../../src/cpu/reference.ts';
import { Denoiser, denoiserCoefficients, edmPreconditioning } from '../../src/model/denoiser/denoiser.ts';
import { buildModel } from '../../src/model/mixture.ts';
import { processAt } from '../../src/processes/process.ts';
import { emaExponent, trainDenoiser, trainingGroup, untrainedDenoiser } from '../../src/studies/denoisers/train.ts';
import { scoreErrorReport } from '../../src/studies/denoisers/score-error.ts';
import { rawSpec, smallConfig, smallModel } from '../support/denoiser.ts';

const dataSpec = parseSpec(rawSpec({ kind: 'none' }));

describe('the learned score in process space', () => {
  const model = Denoiser.fromFile(smallModel());
  it('is (alpha D(x / alpha; sigma / alpha) - x) / sigma^2 for OU, VP and VE times', () => {
    const x = Float64Array.from([0.7, -0.4]);
    const s = new Float64Array(2);
    const D = new Float64Array(2);
    for (const [proc, t] of [
      [{ kind: 'ou', T: 10 }, 0.01],
      [{ kind: 'ou', T: 10 }, 2],
      [{ kind: 'vp', betaMin: 0.1, betaMax: 20 }, 0.5],
      [{ kind: 've', sigmaMax: 80 }, 0.002],
      [{ kind: 've', sigmaMax: 80 }, 30],
    ] as const) {
      const p = processAt(proc, t);
      model.score(x, p.alpha, p.sigma2, s);
      const y = x.map((v) => v / p.alpha);
      model.denoise(y, Math.sqrt(p.sigma2) / p.alpha, D);
      for (let i = 0; i < 2; i++) {
        const direct = (p.alpha * D[i] - x[i]) / p.sigma2;
        expect(Math.abs(s[i] - direct)).toBeLessThan(1e-9 * (1 + Math.abs(direct)));
      }
    }
  });
  it('uses EDM preconditioning (c_skip + c_out^2 / sd^2 = 1, lambda = 1 / c_out^2)', () => {
    for (const s of [0.002, 0.3, 7]) {
      const p = edmPreconditioning(0.5, s);
      expect(p.cSkip + (p.cOut * p.cOut) / 0.25).toBeCloseTo(1, 12);
      expect(p.weight * p.cOut * p.cOut).toBeCloseTo(1, 12);
      expect(p.cNoise).toBeCloseTo(Math.log(s) / 4, 14);
    }
    const c = denoiserCoefficients(0.5, 1, 4);
    expect(c.kx).toBeCloseTo(-1 / (4 + 0.25), 14);
  });
  it("refuses alpha = 0 (the flow process's start)", () => {
    expect(() => denoiserCoefficients(0.5, 0, 1)).toThrow(/alpha > 0/);
  });
});

describe('training', () => {
  it('is deterministic: the same config gives the same weights bit for bit; another seed others', () => {
    const cfg = smallConfig({ iterations: 20, batch: 16, hidden: [8] });
    const a = trainDenoiser(dataSpec, cfg).file.params;
    const b = trainDenoiser(dataSpec, cfg).file.params;
    const c = trainDenoiser(dataSpec, { ...cfg, seed: 1 }).file.params;
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const dsm = trainDenoiser(dataSpec, { ...cfg, loss: 'dsm' }).file.params;
    expect(trainDenoiser(dataSpec, { ...cfg, loss: 'dsm' }).file.params).toEqual(dsm);
  });
  it("records config, sigma_data and the data spec's hash in the model file", () => {
    const f = trainDenoiser(dataSpec, smallConfig({ iterations: 2, batch: 4, hidden: [4] })).file;
    expect(f.format).toBe('guidance-sampler/denoiser');
    expect(f.params.length).toBe(3 * 4 + 4 + 4 * 2 + 2);
    expect((f.data as { specHash: string }).specHash).toMatch(/^[0-9a-f]{16}$/);
    expect((f.training as { iterations: number }).iterations).toBe(2);
    expect(f.sigmaData).toBeGreaterThan(0.3);
  });
  it("EMA exponent: edm2's std_to_exp (std 0.010 -> gamma ~ 96.3)", () => {
    const g = emaExponent(0.01);
    expect((g + 1) / ((g + 2) ** 2 * (g + 3))).toBeCloseTo(1e-4, 12);
  });
});

describe('the score-error report', () => {
  it('a trained model beats the untrained one at every noise level; the error falls with training', () => {
    const mixture = buildModel(dataSpec);
    const group = trainingGroup(mixture, 'a');
    const sigmas = [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
    const cfg = smallConfig({ iterations: 300 });
    const trained = scoreErrorReport(trainDenoiser(dataSpec, cfg).model, mixture, group, { sigmas, n: 500 });
    const fewer = scoreErrorReport(trainDenoiser(dataSpec, { ...cfg, iterations: 30 }).model, mixture, group, {
      sigmas,
      n: 500,
    });
    const untrained = scoreErrorReport(untrainedDenoiser(dataSpec, cfg), mixture, group, { sigmas, n: 500 });
    for (let i = 0; i < sigmas.length; i++) {
      expect(trained[i].mse).toBeLessThan(untrained[i].mse);
      expect(trained[i].denoiser).toBeCloseTo(sigmas[i] ** 4 * trained[i].mse, 10);
    }
    const total = (r: typeof trained) => r.reduce((a, l) => a + l.sigma ** 2 * l.mse, 0);
    expect(total(trained)).toBeLessThan(total(fewer));
  });
});

describe('the CPU reference with learned scores', () => {
  const good = smallModel();
  const bad = smallModel({ iterations: 20, hidden: [4] });
  const spec = parseSpec(
    rawSpec({ kind: 'cfg', w: 2, score: { kind: 'learned', model: good }, negative: { kind: 'learned', model: bad } }),
  );
  it('velocity = cx x + cs ((1 + w) s_good - w s_bad) at every row', () => {
    const plan = prepareExperiment(spec);
    const stepper = new CpuStepper(plan);
    const g = Denoiser.fromFile(good);
    const b = Denoiser.fromFile(bad);
    const x = Float64Array.from([0.3, -0.8]);
    const out = new Float64Array(2);
    const sg = new Float64Array(2);
    const sb = new Float64Array(2);
    for (const row of plan.table.rows.slice(0, 10)) {
      stepper.setTime(row);
      stepper.velocity(x, row, out, 0);
      g.score(x, row.alpha, row.sigma2, sg);
      b.score(x, row.alpha, row.sigma2, sb);
      for (let i = 0; i < 2; i++) {
        const want = row.cx * x[i] + row.cs * (row.gammaTarget * sg[i] + row.gammaNegative * sb[i]);
        expect(Math.abs(out[i] - want)).toBeLessThan(1e-12 * (1 + Math.abs(want)));
      }
    }
  });
  it('a learned score alone (guidance none) follows the model, not the exact score', () => {
    const plan = prepareExperiment(parseSpec(rawSpec({ kind: 'none', score: { kind: 'learned', model: bad } })));
    const exact = prepareExperiment(parseSpec(rawSpec({ kind: 'none' })));
    const a = new CpuStepper(plan);
    const e = new CpuStepper(exact);
    const x = Float64Array.from([0.3, -0.8]);
    const va = new Float64Array(2);
    const ve = new Float64Array(2);
    const row = plan.table.rows[plan.table.rows.length - 2];
    a.setTime(row);
    e.setTime(row);
    a.velocity(x, row, va, 0);
    e.velocity(x, row, ve, 0);
    expect(Math.abs(va[0] - ve[0]) + Math.abs(va[1] - ve[1])).toBeGreaterThan(1e-3);
    // Its divergence is the model's (the network's Jacobian trace, test/denoisers/log-density.test.ts).
    const c = denoiserCoefficients(Denoiser.fromFile(bad).sigmaData, row.alpha, row.sigma2);
    const divModel = Denoiser.fromFile(bad).scoreDivergenceWith(c, x, new Float64Array(4));
    expect(a.velocityDivergence(x, row)).toBeCloseTo(row.cx * 2 + row.cs * divModel, 10);
    e.velocityDivergence(x, row);
    expect(Math.abs(a.velocityDivergence(x, row) - e.velocityDivergence(x, row))).toBeGreaterThan(1e-3);
  });
});
