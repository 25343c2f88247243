// One mixture component, prepared once on the host, and its exact noised
// log-density and score at (alpha, sigma). A component of the data law stays
// closed form under x_t = alpha x_0 + sigma eps:
//   Gaussian N(m, S)  ->  N(alpha m, alpha^2 S + sigma^2 I)
//   uniform box       ->  product over coordinates of
//                         [Phi((x - alpha l)/sigma) - Phi((x - alpha h)/sigma)] / (alpha (h - l)).
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { Component } from '../experiment/types.ts';
import { LOG_SQRT_2PI, logDiffPhi, logDiffPhiSecond, logPhiDensity } from './special.ts';

export type PreparedComponent =
  | {
      kind: 'gaussian';
      dim: number;
      mean: Float64Array;
      /** Eigenvalues of the data covariance S (its variances when S is diagonal). */
      lambda: Float64Array;
      /** Row-major eigenbasis U with S = U diag(lambda) U^T, or null when S is diagonal. */
      basis: Float64Array | null;
      /** The component's mean of x_0 (for alpha = 0, where responsibilities are the prior's). */
      dataMean: Float64Array;
    }
  | { kind: 'uniform'; dim: number; low: Float64Array; high: Float64Array; dataMean: Float64Array };

export function prepareComponent(c: Component, dim: number): PreparedComponent {
  if (c.kind === 'uniform') {
    const low = Float64Array.from(c.low);
    const high = Float64Array.from(c.high);
    const dataMean = low.map((l, i) => 0.5 * (l + high[i]));
    return { kind: 'uniform', dim, low, high, dataMean };
  }
  const mean = Float64Array.from(c.mean);
  const cov = c.cov;
  if (cov.kind === 'isotropic') {
    return {
      kind: 'gaussian',
      dim,
      mean,
      lambda: new Float64Array(dim).fill(cov.variance),
      basis: null,
      dataMean: mean,
    };
  }
  if (cov.kind === 'diagonal') {
    return { kind: 'gaussian', dim, mean, lambda: Float64Array.from(cov.variances), basis: null, dataMean: mean };
  }
  // Full covariance: in its eigenbasis the noised covariance alpha^2 S + sigma^2 I is diagonal.
  const evd = new EigenvalueDecomposition(new Matrix(cov.matrix), { assumeSymmetric: true });
  const lambda = Float64Array.from(evd.realEigenvalues);
  const v = evd.eigenvectorMatrix;
  const basis = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) basis[i * dim + j] = v.get(i, j);
  return { kind: 'gaussian', dim, mean, lambda, basis, dataMean: mean };
}

/**
 * What one component needs at one time (alpha, sigma^2), computed once per time on the
 * host so that the per-particle work is multiply-adds (Gaussians) or the box's CDF terms.
 *   gaussian: logNorm = -sum_j log(2 pi v_j)/2, invVar[j] = 1/v_j with v_j = alpha^2 lambda_j + sigma^2,
 *             shift = alpha m (the noised mean)
 *   uniform:  shift = alpha l, shift2 = alpha h, sigma, and logNorm = -log sigma per coordinate
 */
export interface ComponentAtTime {
  logNorm: number;
  invVar: Float64Array;
  shift: Float64Array;
  shift2: Float64Array;
  sigma: number;
}

export function makeComponentAtTime(dim: number): ComponentAtTime {
  return {
    logNorm: 0,
    invVar: new Float64Array(dim),
    shift: new Float64Array(dim),
    shift2: new Float64Array(dim),
    sigma: 0,
  };
}

/** Fills `out` with the component's factors at (alpha, sigma^2). */
export function componentAtTime(c: PreparedComponent, alpha: number, sigma2: number, out: ComponentAtTime): void {
  out.sigma = Math.sqrt(sigma2);
  if (c.kind === 'gaussian') {
    let logNorm = -c.dim * LOG_SQRT_2PI;
    for (let j = 0; j < c.dim; j++) {
      const v = alpha * alpha * c.lambda[j] + sigma2;
      out.invVar[j] = 1 / v;
      logNorm -= 0.5 * Math.log(v);
      out.shift[j] = alpha * c.mean[j];
    }
    out.logNorm = logNorm;
  } else {
    for (let j = 0; j < c.dim; j++) {
      out.shift[j] = alpha * c.low[j];
      out.shift2[j] = alpha * c.high[j];
    }
    out.logNorm = -0.5 * c.dim * Math.log(sigma2);
  }
}

/**
 * log p_t(x | component), with the score grad_x log p_t written to `score`, from the
 * component's factors at that time. `y` is scratch of length dim.
 * alpha = 0 is fine (the law is then N(0, sigma^2 I)).
 */
export function componentLogDensityAndScore(
  c: PreparedComponent,
  f: ComponentAtTime,
  x: ArrayLike<number>,
  score: Float64Array,
  scoreOffset: number,
  y: Float64Array,
): number {
  const d = c.dim;
  if (c.kind === 'gaussian') {
    let logDensity = f.logNorm;
    if (c.basis === null) {
      for (let j = 0; j < d; j++) {
        const r = x[j] - f.shift[j];
        const q = r * f.invVar[j];
        logDensity -= 0.5 * r * q;
        score[scoreOffset + j] = -q;
      }
      return logDensity;
    }
    // y = U^T (x - alpha m): coordinates in the eigenbasis, where the noised covariance is diagonal.
    for (let j = 0; j < d; j++) {
      let acc = 0;
      for (let i = 0; i < d; i++) acc += c.basis[i * d + j] * (x[i] - f.shift[i]);
      const q = acc * f.invVar[j];
      logDensity -= 0.5 * acc * q;
      y[j] = -q; // the score in the eigenbasis
    }
    for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += c.basis[i * d + j] * y[j];
      score[scoreOffset + i] = acc;
    }
    return logDensity;
  }
  let logDensity = f.logNorm;
  for (let i = 0; i < d; i++) {
    const a = (x[i] - f.shift[i]) / f.sigma;
    const b = (x[i] - f.shift2[i]) / f.sigma;
    // p_i = [Phi(a) - Phi(b)] / (alpha (h - l)) and alpha (h - l) = (a - b) sigma: this form is
    // finite at alpha = 0, where the box is a point mass at 0 and p_i = phi(x / sigma) / sigma.
    const diff = logDiffPhi(a, b);
    const width = a - b;
    logDensity += width > 0 ? diff.log - Math.log(width) : logPhiDensity(a);
    score[scoreOffset + i] = diff.dlog / f.sigma;
  }
  return logDensity;
}

/**
 * div_x of the component's score (its Laplacian of log p_t) at x, from the same factors:
 * Gaussian -tr((alpha^2 S + sigma^2 I)^-1) = -sum_j invVar_j (basis-free); box
 * sum_i d^2/dx_i^2 log[Phi(a_i) - Phi(b_i)] = sum_i logDiffPhiSecond(a_i, b_i) / sigma^2.
 */
export function componentScoreDivergence(c: PreparedComponent, f: ComponentAtTime, x: ArrayLike<number>): number {
  let div = 0;
  if (c.kind === 'gaussian') {
    for (let j = 0; j < c.dim; j++) div -= f.invVar[j];
    return div;
  }
  for (let i = 0; i < c.dim; i++) {
    const a = (x[i] - f.shift[i]) / f.sigma;
    const b = (x[i] - f.shift2[i]) / f.sigma;
    div += logDiffPhiSecond(a, b);
  }
  return div / (f.sigma * f.sigma);
}

/**
 * out (dim x dim, row-major) += coef * the Jacobian of the component's score at x (the Hessian
 * of log p_t), from the same factors as componentScoreDivergence (its trace):
 * Gaussian -U diag(invVar) U^T (-diag(invVar) without a basis); box diagonal,
 * logDiffPhiSecond(a_i, b_i) / sigma^2 (a product of 1-D factors).
 */
export function addComponentScoreJacobian(
  c: PreparedComponent,
  f: ComponentAtTime,
  x: ArrayLike<number>,
  coef: number,
  out: Float64Array,
): void {
  const d = c.dim;
  if (c.kind === 'gaussian') {
    if (c.basis === null) {
      for (let j = 0; j < d; j++) out[j * d + j] -= coef * f.invVar[j];
      return;
    }
    for (let i = 0; i < d; i++) {
      for (let l = 0; l < d; l++) {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += c.basis[i * d + j] * f.invVar[j] * c.basis[l * d + j];
        out[i * d + l] -= coef * acc;
      }
    }
    return;
  }
  const s2 = f.sigma * f.sigma;
  for (let i = 0; i < d; i++) {
    const a = (x[i] - f.shift[i]) / f.sigma;
    const b = (x[i] - f.shift2[i]) / f.sigma;
    out[i * d + i] += (coef * logDiffPhiSecond(a, b)) / s2;
  }
}
