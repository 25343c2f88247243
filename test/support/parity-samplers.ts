// The f32 rounding-error model of test/support/parity.ts for the k-diffusion samplers
// (src/solvers/samplers.ts), whose state is more than the particle: a multistep sampler carries
// its earlier denoised values H_m, and an error in them reaches later steps through the history
// weights. So the state is X = (x, H_0, ..., H_{h-1}) and, per step,
//   B_{n+1} = |J_n| B_n + M_n,   S_{n+1}^2 = J_n^2 S_n^2 + M_n^2
// with J_n the Jacobian of the f64 step map of X. S is the diagonal of the full covariance
// Sigma_{n+1} = J_n Sigma_n J_n' + diag(M_n^2) of the state's rounding errors: an error of D_n
// and the same one carried in H_0 at the next step enter with the large, opposite weights of a
// multistep update near tMin (1 + 1/(2r) and -1/(2r)), and cancel; per-coordinate variances
// would add them (measured: 20x too loose for dpmpp-2m on flow). (forward differences; the perturbed copies draw
// their particle's own noise) and M_n the magnitudes of the terms rounded in the step (units of u):
//   churn      |preX x| + |preZ| (|z| + 8 r) + |x_hat|  (units of u; then carried through the step)
//   stage i    |b_i| (|D_i| + the denoiser's term magnitudes, RoundoffModel on the row's cx, cs, cMean)
//   stage 1's point |b_1| |cx_1| (|px1 x| + |q10 D_0|)          (D's leading derivative is cx = 1/alpha)
//   history    |bh_m| |H_m|;  noise |az| (|z| + 8 r);  the sums |ax x| + |x_new|
//   H_0 <- hx x + hd D_0: |hx x| + |hd| (|D_0| + its term magnitudes) + |H_0|; the shifts are exact.
// The tolerance on x is the same K u S_N as the tableau solvers' (PARITY_ULPS, parity.ts).
import { CpuStepper } from '../../src/cpu/reference.ts';
import { priorScale } from '../../src/processes/process.ts';
import { fillNormals } from '../../src/rng/philox.ts';
import { COEF, COEF_BH } from '../../src/solvers/samplers.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import { NORMAL_ERROR_ULPS, RoundoffModel, type ParityReference, type VelocityMagnitude } from './parity.ts';

export function referenceWithBoundSampler(
  spec: ExperimentSpec,
  chunk = 64,
  /** The velocity's local-error model (default: the exact mixture's, RoundoffModel). */
  makeModel: (stepper: CpuStepper) => VelocityMagnitude = (stepper) => new RoundoffModel(stepper.guidance),
): ParityReference {
  const stepper = new CpuStepper(spec);
  const model = makeModel(stepper);
  const table = stepper.table;
  const sampler = table.sampler;
  if (!sampler)
    throw new Error(`referenceWithBoundSampler: ${spec.solver.kind} is a tableau solver (use referenceWithBound)`);
  const d = spec.dim;
  const H = sampler.histories;
  const stages = table.stages;
  const m = d * (1 + H); // state coordinates per particle
  const copies = m + 1;
  const prior = priorScale(spec.process);
  const zPad = Math.ceil(d / 4) * 4;
  const z = new Float64Array(zPad);
  const pairRadius = (j: number): number => Math.hypot(z[j & ~1], z[j | 1]);

  const particles = new Float64Array(spec.particles * d);
  const bound = new Float64Array(spec.particles * d);
  const rss = new Float64Array(spec.particles * d);
  const xs = new Float64Array(d);
  const mag = new Float64Array(d);
  for (let first = 0; first < spec.particles; first += chunk) {
    const count = Math.min(chunk, spec.particles - first);
    const x = particles.subarray(first * d, (first + count) * d);
    const hist = Array.from({ length: H }, () => new Float64Array(count * d));
    const k = Array.from({ length: stages }, () => new Float64Array(count * d));
    // Per particle, the state's B (x first, then each history) and error covariance (m x m).
    const b = new Float64Array(count * m);
    const v = new Float64Array(count * m * m);
    stepper.initParticles(first, count, x);
    for (let p = 0; p < count; p++) {
      fillNormals(spec.seed, first + p, 0, d, z);
      for (let j = 0; j < d; j++) {
        b[p * m + j] = Math.abs(x[p * d + j]) + prior * (NORMAL_ERROR_ULPS * pairRadius(j) + Math.abs(z[j]));
        v[(p * m + j) * m + j] = b[p * m + j] ** 2;
      }
    }
    const px = new Float64Array(count * copies * d);
    const ph = Array.from({ length: H }, () => new Float64Array(count * copies * d));
    const pk = Array.from({ length: stages }, () => new Float64Array(count * copies * d));
    const delta = new Float64Array(count * m);
    const local = new Float64Array(count * m);
    const bNew = new Float64Array(m);
    const jac = new Float64Array(m * m);
    const js = new Float64Array(m * m);
    // State coordinate i of copy c of particle p, in the packed arrays.
    const coord = (arrX: Float64Array, arrH: Float64Array[], q: number, i: number): [Float64Array, number] =>
      i < d ? [arrX, q * d + i] : [arrH[Math.floor(i / d) - 1], q * d + (i % d)];
    for (let n = 0; n < table.steps; n++) {
      const c = sampler.coefs.subarray(n * sampler.stride, (n + 1) * sampler.stride);
      const xOld = x.slice();
      const hOld = hist.map((a) => a.slice());
      for (let p = 0; p < count; p++) {
        for (let cp = 0; cp < copies; cp++) {
          const q = p * copies + cp;
          px.set(xOld.subarray(p * d, (p + 1) * d), q * d);
          for (let h = 0; h < H; h++) ph[h].set(hOld[h].subarray(p * d, (p + 1) * d), q * d);
          if (cp > 0) {
            const [arr, at] = coord(px, ph, q, cp - 1);
            const dj = 2 ** -20 * Math.max(1, Math.abs(arr[at]));
            delta[p * m + cp - 1] = dj;
            arr[at] += dj;
          }
        }
      }
      stepper.stepDenoised(n, 0, count * copies, px, pk, ph, null, (q) => first + Math.floor(q / copies));
      stepper.stepDenoised(n, first, count, x, k, hist);

      local.fill(0);
      const noisy = c[COEF.preZ] !== 0 || c[COEF.az] !== 0;
      for (let p = 0; p < count; p++) {
        if (noisy) fillNormals(spec.seed, first + p, n + 1, d, z);
        for (let j = 0; j < d; j++) {
          const zMag = noisy ? Math.abs(z[j]) + NORMAL_ERROR_ULPS * pairRadius(j) : 0;
          const xh = c[COEF.preX] * xOld[p * d + j] + c[COEF.preZ] * (noisy ? z[j] : 0);
          // (1 x + 0 z is exact: no churn, no rounding.)
          const churned = c[COEF.preX] !== 1 || c[COEF.preZ] !== 0;
          let e = churned ? Math.abs(c[COEF.preX] * xOld[p * d + j]) + Math.abs(c[COEF.preZ]) * zMag + Math.abs(xh) : 0;
          e += Math.abs(c[COEF.ax] * xh) + Math.abs(x[p * d + j]) + Math.abs(c[COEF.az]) * zMag;
          for (let h = 0; h < H; h++) e += Math.abs(c[COEF_BH[h]] * hOld[h][p * d + j]);
          local[p * m + j] = e;
        }
      }
      for (let i = 0; i < stages; i++) {
        const row = table.rows[n * stages + i];
        model.setTime(row);
        const bi = c[i === 0 ? COEF.b0 : COEF.b1];
        for (let p = 0; p < count; p++) {
          // The churned point and the stage point, as the reference computed them.
          if (noisy) fillNormals(spec.seed, first + p, n + 1, d, z);
          for (let j = 0; j < d; j++) {
            const xh = c[COEF.preX] * xOld[p * d + j] + c[COEF.preZ] * (noisy ? z[j] : 0);
            const dTerm = c[COEF.q10] * k[0][p * d + j];
            xs[j] = i === 0 ? xh : c[COEF.px1] * xh + dTerm;
            if (i > 0) local[p * m + j] += Math.abs(bi * row.cx) * (Math.abs(c[COEF.px1] * xh) + Math.abs(dTerm));
          }
          model.velocityMagnitude(xs, row, mag);
          for (let j = 0; j < d; j++) {
            local[p * m + j] += Math.abs(bi) * (Math.abs(k[i][p * d + j]) + mag[j]);
            // H_0 <- hx x + hd D_0 (x the stage-0 point).
            if (i === 0 && H > 0)
              local[p * m + d + j] =
                Math.abs(c[COEF.hx] * xs[j]) +
                Math.abs(c[COEF.hd]) * (Math.abs(k[0][p * d + j]) + mag[j]) +
                Math.abs(hist[0][p * d + j]);
          }
        }
      }
      // B <- |J| B + M;  Sigma <- J Sigma J' + diag(M^2).
      for (let p = 0; p < count; p++) {
        for (let out = 0; out < m; out++) {
          const [a0, i0] = coord(px, ph, p * copies, out);
          let acc = local[p * m + out];
          for (let inp = 0; inp < m; inp++) {
            const [a1, i1] = coord(px, ph, p * copies + 1 + inp, out);
            jac[out * m + inp] = (a1[i1] - a0[i0]) / delta[p * m + inp];
            acc += Math.abs(jac[out * m + inp]) * b[p * m + inp];
          }
          bNew[out] = acc;
        }
        b.set(bNew, p * m);
        const sig = v.subarray(p * m * m, (p + 1) * m * m);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++) {
            let acc = 0;
            for (let l = 0; l < m; l++) acc += jac[i * m + l] * sig[l * m + j];
            js[i * m + j] = acc;
          }
        }
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++) {
            let acc = i === j ? local[p * m + i] ** 2 : 0;
            for (let l = 0; l < m; l++) acc += js[i * m + l] * jac[j * m + l];
            sig[i * m + j] = acc;
          }
        }
      }
    }
    for (let p = 0; p < count; p++) {
      for (let j = 0; j < d; j++) {
        bound[(first + p) * d + j] = b[p * m + j];
        rss[(first + p) * d + j] = Math.sqrt(v[(p * m + j) * m + j]);
      }
    }
  }
  return { particles, bound, rss };
}
