// The k-diffusion samplers (crowsonkb/k-diffusion, k_diffusion/sampling.py) as linear
// recurrences with host-computed f64 coefficients, one set per step.
//
// These samplers are defined for x = x0 + sigma eps (VE, "EDM") and a denoiser D(x; sigma).
// Every process here is x_t = alpha x0 + sigma_t eps, so y = x / alpha is VE with noise level
// s = sigma_t / alpha (the reparametrisation of Karras et al. 2022, eq. 4 with s(t) = alpha), and
// the guided denoiser is D = E[x0 | x_t] = (x + sigma_t^2 s_guided) / alpha (Tweedie; the guided
// data mean at alpha = 0). Each sampler's update of y, written back in x = alpha y, is
//
//   x <- preX x + preZ z                                           (churn, before the stages)
//   D_0 = D(x, t_0'),  D_1 = D(px1 x + q10 D_0, t_1')                (stages at their own times)
//   x <- ax x + b0 D_0 + b1 D_1 + bh0 H_0 + bh1 H_1 + bh2 H_2 + az z
//   H_2 <- H_1, H_1 <- H_0, H_0 <- hx x + hd D_0                     (x before the update)
// H: what earlier steps pushed, their D_0 (hx = 0, hd = 1) or, for lms, their derivative
// d = (y - D) / s = (x - alpha D) / sigma_t.
//
// with z ~ N(0, I) from stream n + 1 of the counter-based generator (the same noise on every
// backend). The coefficients use sigma_t ratios where the VE ones would divide by alpha = 0
// (flow at t = 1), so the first step from an infinite noise level is the exact limit.
// The CPU (src/cpu/reference.ts) and the kernel (shaders/step.wgsl, DENOISED) both read this table.
// k-diffusion appends sigma = 0 and takes a last denoising step; here the grid ends at tMin > 0
// and every step is the sampler's regular step (the particles stay at tMin, like the ODE solvers').
import type { ProcessSpec, SolverSpec } from '../experiment/types.ts';
import { processAt, timeAtVeSigma } from '../processes/process.ts';
import { TABLEAUS } from './tableau.ts';

/** Coefficient slots per step. */
export const COEF = {
  preX: 0,
  preZ: 1,
  ax: 2,
  az: 3,
  bh0: 4,
  bh1: 5,
  px1: 6,
  q10: 7,
  b0: 8,
  b1: 9,
  hx: 10,
  hd: 11,
  bh2: 12,
} as const;
/** The history weights' slots, H_0, H_1, H_2. */
export const COEF_BH = [COEF.bh0, COEF.bh1, COEF.bh2] as const;
export const SAMPLER_STRIDE = 16;

export interface SamplerTable {
  stride: number;
  /** steps x SAMPLER_STRIDE coefficients (unused slots 0). */
  coefs: Float64Array;
  /** Stage times, steps x stages: where each stage's denoiser is evaluated. */
  stageTimes: Float64Array;
  histories: number;
  /** Whether any step draws noise (preZ or az nonzero). */
  noisy: boolean;
}

interface Level {
  t: number;
  alpha: number;
  /** sigma_t */
  sg: number;
  /** VE noise level sigma_t / alpha (Infinity at alpha = 0). */
  s: number;
  /** log(alpha / sigma_t): DPM-Solver's half log-SNR (-Infinity at alpha = 0). */
  lambda: number;
}

function level(p: ProcessSpec, t: number): Level {
  const c = processAt(p, t);
  const sg = Math.sqrt(c.sigma2);
  return { t, alpha: c.alpha, sg, s: c.alpha > 0 ? sg / c.alpha : Infinity, lambda: Math.log(c.alpha) - Math.log(sg) };
}

export function isDenoisedSampler(kind: SolverSpec['kind']): boolean {
  return TABLEAUS[kind].denoised !== undefined;
}

export function buildSamplerTable(solver: SolverSpec, process: ProcessSpec, times: Float64Array): SamplerTable {
  const tableau = TABLEAUS[solver.kind];
  if (!tableau.denoised) throw new Error(`buildSamplerTable: ${solver.kind} is not a denoiser-form sampler`);
  const steps = solver.steps;
  const stages = tableau.c.length;
  const coefs = new Float64Array(steps * SAMPLER_STRIDE);
  const stageTimes = new Float64Array(steps * stages);
  let noisy = false;
  for (let n = 0; n < steps; n++) {
    const c = coefs.subarray(n * SAMPLER_STRIDE, (n + 1) * SAMPLER_STRIDE);
    const l0 = level(process, times[n]);
    const l1 = level(process, times[n + 1]);
    c[COEF.preX] = 1;
    c[COEF.hd] = 1;
    stageTimes[n * stages] = l0.t;
    switch (solver.kind) {
      case 'dpmpp-2m': {
        // DPM-Solver++(2M): Lu et al. 2022 (arXiv 2211.01095), Algorithm 2; k-diffusion
        // sample_dpmpp_2m. In y: y' = (s1/s0) y - expm1(-h) D_d, h = lambda1 - lambda0,
        // D_d = (1 + 1/(2r)) D_n - 1/(2r) D_{n-1}, r = h_{n-1}/h; the first step is first order.
        const h = l1.lambda - l0.lambda;
        const em = -Math.expm1(-h);
        c[COEF.ax] = l1.sg / l0.sg;
        if (n === 0) {
          c[COEF.b0] = l1.alpha * em;
        } else {
          const hLast = l0.lambda - level(process, times[n - 1]).lambda;
          const k = h / (2 * hLast); // 1/(2r); 0 after a step from lambda = -infinity
          c[COEF.b0] = l1.alpha * em * (1 + k);
          c[COEF.bh0] = -l1.alpha * em * k;
        }
        break;
      }
      case 'euler-ancestral': {
        // k-diffusion sample_euler_ancestral with get_ancestral_step(s0, s1, eta):
        //   s_up = min(s1, eta sqrt(s1^2 (s0^2 - s1^2) / s0^2)), s_down = sqrt(s1^2 - s_up^2),
        //   y' = y + (s_down - s0) (y - D) / s0 + s_up S_noise z.
        // (Song et al. 2021's ancestral sampling; eta = 0 is DDIM, i.e. euler in sigma.)
        const eta = solver.eta ?? 1;
        const ratio = l1.s / l0.s;
        const sUp = Math.min(l1.s, eta * l1.s * Math.sqrt(Math.max(0, 1 - ratio * ratio)));
        const sDown = l1.s * Math.sqrt(Math.max(0, 1 - (sUp / l1.s) ** 2));
        // alpha1 (s_down / s0) (x / alpha0) = alpha1 s_down x / sigma0; the D weight is
        // alpha1 (1 - s_down / s0) with s_down / s0 = s_down alpha0 / sigma0.
        c[COEF.ax] = (l1.alpha * sDown) / l0.sg;
        c[COEF.b0] = l1.alpha * (1 - (sDown * l0.alpha) / l0.sg);
        c[COEF.az] = l1.alpha * sUp * (solver.sNoise ?? 1);
        break;
      }
      case 'heun-churn':
      case 'dpm2': {
        // The churn of Karras et al. 2022 (arXiv 2206.00364), Algorithm 2 (k-diffusion
        // sample_heun, sample_dpm_2):
        //   gamma = min(S_churn / N, sqrt 2 - 1) if S_tmin <= s0 <= S_tmax else 0,
        //   s_hat = s0 (1 + gamma),  y_hat = y + sqrt(s_hat^2 - s0^2) S_noise z.
        const ch = solver.churn!;
        const inRange = l0.s >= ch.sTmin && l0.s <= ch.sTmax && Number.isFinite(l0.s);
        const gamma = inRange ? Math.min(ch.sChurn / steps, Math.SQRT2 - 1) : 0;
        let hat = l0;
        if (gamma > 0) {
          hat = level(process, timeAtVeSigma(process, l0.s * (1 + gamma)));
          c[COEF.preX] = hat.alpha / l0.alpha;
          c[COEF.preZ] = hat.alpha * (solver.sNoise ?? 1) * l0.s * Math.sqrt(gamma * (2 + gamma));
          stageTimes[n * stages] = hat.t;
        }
        if (solver.kind === 'heun-churn') {
          // Heun from s_hat (Algorithm 2, lines 7-10):
          //   d = (y_hat - D(y_hat; s_hat)) / s_hat,  y2 = y_hat + (s1 - s_hat) d,
          //   y' = y_hat + (s1 - s_hat) (d + d2) / 2,  d2 = (y2 - D(y2; s1)) / s1.
          // With rho = s1 / s_hat: y' = rho y_hat + (1 - rho)(2 rho - 1)/(2 rho) D_0
          // + (1/rho - 1)/2 D_1 (the weights sum to 1 - rho: exact for a constant D).
          const rho = l1.s / hat.s;
          stageTimes[n * stages + 1] = l1.t;
          c[COEF.px1] = l1.sg / hat.sg;
          c[COEF.q10] = l1.alpha * (1 - rho);
          c[COEF.ax] = l1.sg / hat.sg;
          c[COEF.b0] = (l1.alpha * (1 - rho) * (2 * rho - 1)) / (2 * rho);
          c[COEF.b1] = (l1.alpha * (1 / rho - 1)) / 2;
        } else {
          // DPM-Solver-2 (Lu et al. 2022, arXiv 2206.00927, Algorithm 1 with the midpoint in
          // log sigma, as k-diffusion sample_dpm_2): s_mid = sqrt(s_hat s1),
          //   y2 = y_hat + (s_mid - s_hat) d,  d = (y_hat - D_0) / s_hat,
          //   y' = y_hat + (s1 - s_hat) (y2 - D(y2; s_mid)) / s_mid.
          const mid = level(process, timeAtVeSigma(process, Math.sqrt(hat.s * l1.s)));
          const dt2 = l1.s - hat.s;
          stageTimes[n * stages + 1] = mid.t;
          c[COEF.px1] = mid.sg / hat.sg;
          c[COEF.q10] = mid.alpha * (1 - mid.s / hat.s);
          c[COEF.ax] = l1.sg / hat.sg;
          c[COEF.b0] = l1.alpha * (dt2 / mid.s) * (1 - mid.s / hat.s);
          c[COEF.b1] = (-l1.alpha * dt2) / mid.s;
        }
        break;
      }
      case 'dpmpp-2m-sde':
      case 'dpmpp-3m-sde': {
        // DPM-Solver++(2M) SDE and (3M) SDE: Lu et al. 2022 (arXiv 2211.01095), the SDE variant
        // of section 4 / Appendix; k-diffusion sample_dpmpp_2m_sde (solver_type "midpoint") and
        // sample_dpmpp_3m_sde. In y, with h = lambda1 - lambda0 and h_eta = h (1 + eta):
        //   y' = (s1/s0) e^{-eta h} y + (1 - e^{-h_eta}) D_n + (history terms)
        //        + s1 sqrt(1 - e^{-2 eta h}) S_noise z.
        const eta = solver.eta ?? 1;
        const h = l1.lambda - l0.lambda;
        const hEta = h * (1 + eta);
        const em = -Math.expm1(-hEta);
        const etaH = eta === 0 ? 0 : eta * h; // (0 x the infinite first h of flow is 0 here)
        c[COEF.ax] = (l1.sg / l0.sg) * Math.exp(-etaH);
        c[COEF.b0] = l1.alpha * em;
        c[COEF.az] = l1.sg * Math.sqrt(-Math.expm1(-2 * etaH)) * (solver.sNoise ?? 1);
        const h1 = n >= 1 ? l0.lambda - level(process, times[n - 1]).lambda : NaN;
        if (solver.kind === 'dpmpp-2m-sde') {
          // midpoint: + 0.5 (1 - e^{-h_eta}) (D_n - D_{n-1}) / r,  r = h_{n-1} / h.
          if (n >= 1) {
            const k = (0.5 * em * h) / h1;
            c[COEF.b0] += l1.alpha * k;
            c[COEF.bh0] = -l1.alpha * k;
          }
        } else {
          // phi_2 = (e^{-h_eta} - 1) / h_eta + 1, phi_3 = phi_2 / h_eta - 1/2;
          //   n = 1:  + phi_2 (D_n - D_{n-1}) / r,  r = h_{n-1} / h;
          //   n >= 2: + phi_2 d1 - phi_3 d2, with r0 = h_{n-1}/h, r1 = h_{n-2}/h,
          //     d1_0 = (D_n - D_{n-1}) / r0, d1_1 = (D_{n-1} - D_{n-2}) / r1,
          //     d1 = d1_0 + (d1_0 - d1_1) r0 / (r0 + r1), d2 = (d1_0 - d1_1) / (r0 + r1).
          const phi2 = Number.isFinite(hEta) ? Math.expm1(-hEta) / hEta + 1 : 1;
          const phi3 = Number.isFinite(hEta) ? phi2 / hEta - 0.5 : -0.5;
          if (n === 1) {
            const k = (phi2 * h) / h1;
            c[COEF.b0] += l1.alpha * k;
            c[COEF.bh0] = -l1.alpha * k;
          } else if (n >= 2) {
            const h2 = level(process, times[n - 1]).lambda - level(process, times[n - 2]).lambda;
            const r0 = h1 / h;
            const r1 = h2 / h;
            const sum = r0 + r1;
            // phi_2 d1 - phi_3 d2 = A0 d1_0 + A1 d1_1 (limits taken where r1 is infinite)
            const a0 = phi2 * (1 + (Number.isFinite(r1) ? r0 / sum : 0)) - (Number.isFinite(sum) ? phi3 / sum : 0);
            const a1 = Number.isFinite(sum) ? (phi3 - phi2 * r0) / sum : 0;
            const w0 = a0 / r0;
            const w1 = Number.isFinite(r1) ? a1 / r1 : 0;
            c[COEF.b0] += l1.alpha * w0;
            c[COEF.bh0] = l1.alpha * (-w0 + w1);
            c[COEF.bh1] = -l1.alpha * w1;
          }
        }
        break;
      }
      case 'lms': {
        // Linear multistep (Adams-Bashforth in sigma, variable steps), k-diffusion sample_lms
        // (order p, default 4): y' = y + sum_j c_j d_{n-j}, d = (y - D)/s, c_j the integral over
        // [s_n, s_{n+1}] of the Lagrange basis polynomial of s_{n-j} on the last min(n + 1, p) levels
        // (k-diffusion's linear_multistep_coeff, by scipy quad; here 4-point Gauss-Legendre, exact
        // for these cubics). In x: d = (x - alpha D) / sigma_t, so x' = (alpha1/alpha0) x
        // + alpha1 sum_j c_j d_{n-j}.
        const order = Math.min(n + 1, solver.order ?? 4);
        const sig = (i: number): number => level(process, times[i]).s;
        const coef = (j: number): number => {
          const basis = (tau: number): number => {
            let prod = 1;
            for (let k = 0; k < order; k++) if (k !== j) prod *= (tau - sig(n - k)) / (sig(n - j) - sig(n - k));
            return prod;
          };
          return gaussLegendre4(basis, l0.s, l1.s);
        };
        const c0 = coef(0);
        c[COEF.ax] = l1.alpha / l0.alpha + (l1.alpha * c0) / l0.sg;
        c[COEF.b0] = (-l1.alpha * c0 * l0.alpha) / l0.sg;
        for (let j = 1; j < order; j++) c[COEF_BH[j - 1]] = l1.alpha * coef(j);
        c[COEF.hx] = 1 / l0.sg;
        c[COEF.hd] = -l0.alpha / l0.sg;
        break;
      }
      default:
        throw new Error(`buildSamplerTable: no coefficients for ${solver.kind}`);
    }
    if (c[COEF.preZ] !== 0 || c[COEF.az] !== 0) noisy = true;
  }
  return { stride: SAMPLER_STRIDE, coefs, stageTimes, histories: tableau.denoised.histories, noisy };
}

/** Whether a solver draws noise after the start: em, euler-ancestral with eta > 0, heun-churn with S_churn > 0. */
export function isStochasticSolver(solver: SolverSpec): boolean {
  if (solver.kind === 'euler-ancestral') return (solver.eta ?? 1) > 0;
  if (solver.kind === 'heun-churn' || solver.kind === 'dpm2') return (solver.churn?.sChurn ?? 0) > 0;
  if (solver.kind === 'dpmpp-2m-sde' || solver.kind === 'dpmpp-3m-sde') return (solver.eta ?? 1) > 0;
  return TABLEAUS[solver.kind].stochastic;
}

const GL4_X = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
const GL4_W = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

/** int_a^b f by 4-point Gauss-Legendre (exact for polynomials of degree <= 7). */
function gaussLegendre4(f: (x: number) => number, a: number, b: number): number {
  const mid = 0.5 * (a + b);
  const half = 0.5 * (b - a);
  let acc = 0;
  for (let i = 0; i < 4; i++) acc += GL4_W[i] * f(mid + half * GL4_X[i]);
  return half * acc;
}
