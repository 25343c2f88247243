// The f32 local-error magnitudes of a velocity evaluation whose scores are learned denoisers
// (shaders/denoiser.wgsl), for the per-particle parity model of test/support/parity.ts (its
// VelocityMagnitude): in units of u, the absolute values of the terms rounded on the way,
//   input      |a x_i|, |c_noise|                                  (each an f32 product / constant)
//   layer o    |b_o| + sum_i |W_oi z_i| + sum_i |W_oi| m_i         (the dot product's terms, and the
//              input's own magnitude carried through the weights)
//   SiLU       |silu'(z)| m + 4 |silu(z)|                          (exp, add, divide, multiply)
//   score j    |kx x_j| + |kF F_j| + |kF| m_F,j
//   velocity j |cx x_j| + |cs| (|gT| M_t,j + |gN| M_n,j)
// (the per-row constants are rounded to f32 once, which the first two terms of each product cover).
// Both scores must be learned (the cases of test/gpu/denoiser-parity.test.ts): the exact walk the
// kernel still does is overwritten.
import type { ExperimentPlan } from '../../src/experiment/plan.ts';
import { type Denoiser, type DenoiserCoefficients, denoiserCoefficients } from '../../src/model/denoiser/denoiser.ts';
import type { StepRow } from '../../src/solvers/table.ts';
import type { VelocityMagnitude } from './parity.ts';

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Value and magnitude of F at the input (a x, c_noise), layer by layer in f64. */
function forwardMagnitude(m: Denoiser, c: DenoiserCoefficients, x: ArrayLike<number>): { F: number[]; mF: number[] } {
  const d = m.dim;
  const net = m.net;
  let z: number[] = [];
  let mz: number[] = [];
  for (let i = 0; i < d; i++) {
    z.push(c.a * x[i]);
    mz.push(Math.abs(c.a * x[i]));
  }
  z.push(c.cNoise);
  mz.push(Math.abs(c.cNoise));
  const L = net.layers;
  for (let l = 0; l < L; l++) {
    const nIn = net.sizes[l];
    const nOut = net.sizes[l + 1];
    const W = net.wOffset[l];
    const B = net.bOffset[l];
    const out: number[] = [];
    const mOut: number[] = [];
    for (let o = 0; o < nOut; o++) {
      let acc = net.params[B + o];
      let mag = Math.abs(acc);
      for (let i = 0; i < nIn; i++) {
        const w = net.params[W + o * nIn + i];
        acc += w * z[i];
        mag += Math.abs(w * z[i]) + Math.abs(w) * mz[i];
      }
      if (l + 1 < L) {
        const s = sigmoid(acc);
        const act = acc * s;
        mag = Math.abs(s * (1 + acc * (1 - s))) * mag + 4 * Math.abs(act);
        acc = act;
      }
      out.push(acc);
      mOut.push(mag);
    }
    z = out;
    mz = mOut;
  }
  return { F: z, mF: mz };
}

export class LearnedRoundoff implements VelocityMagnitude {
  private readonly target: Denoiser;
  private readonly negative: Denoiser | null;
  private ct: DenoiserCoefficients | null = null;
  private cn: DenoiserCoefficients | null = null;

  constructor(plan: ExperimentPlan) {
    if (!plan.learned.target) throw new Error('LearnedRoundoff: the target score must be learned');
    this.target = plan.learned.target;
    this.negative = plan.learned.negative;
  }

  setTime(row: StepRow): void {
    this.ct = denoiserCoefficients(this.target.sigmaData, row.alpha, row.sigma2);
    this.cn = this.negative && denoiserCoefficients(this.negative.sigmaData, row.alpha, row.sigma2);
  }

  private scoreMagnitude(m: Denoiser, c: DenoiserCoefficients, x: ArrayLike<number>, j: number): number {
    const { F, mF } = forwardMagnitude(m, c, x);
    return Math.abs(c.kx * x[j]) + Math.abs(c.kF * F[j]) + Math.abs(c.kF) * mF[j];
  }

  velocityMagnitude(xs: ArrayLike<number>, row: StepRow, out: Float64Array): void {
    for (let j = 0; j < out.length; j++) {
      let s = Math.abs(row.gammaTarget) * this.scoreMagnitude(this.target, this.ct!, xs, j);
      if (this.negative && row.gammaNegative !== 0)
        s += Math.abs(row.gammaNegative) * this.scoreMagnitude(this.negative, this.cn!, xs, j);
      out[j] = Math.abs(row.cx * xs[j]) + Math.abs(row.cs) * s;
    }
  }
}
