// The exact log-density path with learned scores (CPU f64): a learned score's divergence is the
// trace of its network's Jacobian (Denoiser.scoreJacobianWith, one forward and d backward
// passes), so KL(Q||P) and KL(P||Q) exist for learned models too.
//   1. the Jacobian against central finite differences of the score (twin: at a shifted point);
//   2. end to end: the carried l_N = -sum h b_i div u of autoguidance (learned score and learned
//      negative) against -log |det| of the finite-difference Jacobian of the sampler's own map
//      x_T -> x_tMin; they differ by the solver's O(h^2) error only, which falls ~4x from 48 to 96
//      heun steps; twin: the l_N of a model with its first-layer weights x 1.01.
import { describe, expect, it } from 'vitest';
import { cpuLogDensityBackend } from '../../src/cpu/log-density.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { Denoiser, denoiserCoefficients, type DenoiserFile } from '../../src/model/denoiser/denoiser.ts';
import { rawSpec, smallModel } from '../support/denoiser.ts';

const good = smallModel();
const bad = smallModel({ iterations: 20, hidden: [4] });

/** The model file with its first layer's weights scaled (the mutation twin). */
function scaledFirstLayer(file: DenoiserFile, factor: number): DenoiserFile {
  const d = Denoiser.fromFile(file);
  const w0 = d.net.wOffset[0];
  const n = d.net.sizes[0] * d.net.sizes[1];
  const params = Array.from(d.net.params, (v, i) => (i >= w0 && i < w0 + n ? v * factor : v));
  return { ...file, params };
}

describe('a learned score in the log-density path', () => {
  it('its Jacobian matches central finite differences of the score; at a shifted point it does not', () => {
    const model = Denoiser.fromFile(good);
    const x = Float64Array.from([0.4, -0.3]);
    const fd = (at: Float64Array, c: ReturnType<typeof denoiserCoefficients>) => {
      const h = 1e-5;
      const out = new Float64Array(4);
      const sp = new Float64Array(2);
      const sm = new Float64Array(2);
      for (let j = 0; j < 2; j++) {
        const xp = Float64Array.from(at);
        const xm = Float64Array.from(at);
        xp[j] += h;
        xm[j] -= h;
        model.scoreWith(c, xp, sp);
        model.scoreWith(c, xm, sm);
        for (let i = 0; i < 2; i++) out[i * 2 + j] = (sp[i] - sm[i]) / (2 * h);
      }
      return out;
    };
    for (const [alpha, sigma2] of [
      [1, 0.01],
      [1, 1],
      [0.6, 0.64],
    ]) {
      const c = denoiserCoefficients(model.sigmaData, alpha, sigma2);
      const J = new Float64Array(4);
      model.scoreJacobianWith(c, x, J);
      const want = fd(x, c);
      const twin = fd(Float64Array.from([0.45, -0.3]), c);
      const scale = Math.max(...want.map(Math.abs));
      const err = Math.max(...J.map((v, i) => Math.abs(v - want[i])));
      const twinErr = Math.max(...J.map((v, i) => Math.abs(v - twin[i])));
      expect(err).toBeLessThan(1e-6 * scale);
      expect(twinErr).toBeGreaterThan(1e-3 * scale);
      expect(model.scoreDivergenceWith(c, x, new Float64Array(4))).toBeCloseTo(J[0] + J[3], 12);
    }
  });

  it('autoguidance: the carried log-density is -log |det| of the sampler map, to the solver error', async () => {
    const guidance = (score: DenoiserFile) => ({
      kind: 'cfg',
      w: 2,
      score: { kind: 'learned', model: score },
      negative: { kind: 'learned', model: bad },
    });
    const spec = (steps: number, score = good) =>
      parseSpec(rawSpec(guidance(score), { solver: { kind: 'heun', steps, grid: { kind: 'edm', rho: 7 } } }));
    const starts = Float64Array.from([0.5, -2, 3, 1.5, -4, 0.2, 7, -6]); // VE prior scale 10
    const count = starts.length / 2;
    const h = 1e-5;
    /** -log |det d x_tMin / d x_T| of the discrete map, by central differences, per start. */
    const logDetMap = async (steps: number): Promise<number[]> => {
      const pts = new Float64Array(count * 4 * 2);
      for (let p = 0; p < count; p++)
        for (let j = 0; j < 2; j++)
          for (const [k, sign] of [
            [0, 1],
            [1, -1],
          ] as const) {
            const o = ((p * 2 + j) * 2 + k) * 2;
            pts[o] = starts[2 * p];
            pts[o + 1] = starts[2 * p + 1];
            pts[o + j] += sign * h;
          }
      const r = await cpuLogDensityBackend.carry(spec(steps), {
        direction: 'backward',
        initial: pts,
        initialLogDensity: new Float64Array(count * 4),
        first: 0,
        count: count * 4,
      });
      return Array.from({ length: count }, (_, p) => {
        const col = (j: number) => {
          const o = (p * 2 + j) * 2 * 2;
          return [(r.x[o] - r.x[o + 2]) / (2 * h), (r.x[o + 1] - r.x[o + 3]) / (2 * h)];
        };
        const [a, b] = [col(0), col(1)];
        return -Math.log(Math.abs(a[0] * b[1] - a[1] * b[0]));
      });
    };
    const carried = async (steps: number, score = good): Promise<Float64Array> =>
      (
        await cpuLogDensityBackend.carry(spec(steps, score), {
          direction: 'backward',
          initial: starts,
          initialLogDensity: new Float64Array(count),
          first: 0,
          count,
        })
      ).logq;
    const gap = async (steps: number, score = good) => {
      const [l, m] = [await carried(steps, score), await logDetMap(steps)];
      return Math.max(...m.map((v, i) => Math.abs(l[i] - v)));
    };
    const g48 = await gap(48);
    const g96 = await gap(96);
    const twin = await gap(96, scaledFirstLayer(good, 1.01));
    const magnitude = Math.max(...(await logDetMap(96)).map(Math.abs));
    console.log(
      `learned log-density vs FD log-det of the map: |gap| ${g48.toExponential(2)} (48 steps), ${g96.toExponential(2)} (96); twin ${twin.toExponential(2)}; |log det| ~ ${magnitude.toFixed(2)}`,
    );
    expect(g96).toBeLessThan(g48 / 2.5);
    expect(g96).toBeLessThan(2e-3 * magnitude);
    expect(twin).toBeGreaterThan(5 * g96);
  });
});
