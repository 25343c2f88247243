// One mixture component, prepared once on the host, and its exact noised
// log-density and score at (alpha, sigma). A component of the data law stays
// closed form under x_t = alpha x_0 + sigma eps:
//   Gaussian N(m, S)  ->  N(alpha m, alpha^2 S + sigma^2 I)
//   uniform box       ->  product over coordinates of
//                         [Phi((x - alpha l)/sigma) - Phi((x - alpha h)/sigma)] / (alpha (h - l)).
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { Component } from '../spec/types.ts';
import { LOG_SQRT_2PI, logDiffPhi, logPhiDensity } from './special.ts';

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
    return { kind: 'gaussian', dim, mean, lambda: new Float64Array(dim).fill(cov.variance), basis: null, dataMean: mean };
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

/** Per-component scratch, allocated once per evaluator. */
export interface ComponentScratch {
  y: Float64Array;
}

export function makeScratch(dim: number): ComponentScratch {
  return { y: new Float64Array(dim) };
}

/**
 * log p_t(x | component) with the score grad_x log p_t written to `score`.
 * Requires alpha > 0 or sigma2 > 0; alpha = 0 is fine (the law is then N(0, sigma^2 I)).
 */
export function componentLogDensityAndScore(
  c: PreparedComponent,
  x: Float64Array,
  alpha: number,
  sigma2: number,
  score: Float64Array,
  scratch: ComponentScratch,
): number {
  const d = c.dim;
  if (c.kind === 'gaussian') {
    const y = scratch.y;
    // y = U^T (x - alpha m), coordinates in the eigenbasis.
    if (c.basis === null) {
      for (let i = 0; i < d; i++) y[i] = x[i] - alpha * c.mean[i];
    } else {
      for (let j = 0; j < d; j++) {
        let acc = 0;
        for (let i = 0; i < d; i++) acc += c.basis[i * d + j] * (x[i] - alpha * c.mean[i]);
        y[j] = acc;
      }
    }
    let logDensity = -d * LOG_SQRT_2PI;
    for (let j = 0; j < d; j++) {
      const v = alpha * alpha * c.lambda[j] + sigma2;
      logDensity -= 0.5 * (y[j] * y[j]) / v + 0.5 * Math.log(v);
      y[j] = -y[j] / v; // now the score in the eigenbasis
    }
    if (c.basis === null) {
      for (let i = 0; i < d; i++) score[i] = y[i];
    } else {
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += c.basis[i * d + j] * y[j];
        score[i] = acc;
      }
    }
    return logDensity;
  }
  const sigma = Math.sqrt(sigma2);
  let logDensity = 0;
  for (let i = 0; i < d; i++) {
    const a = (x[i] - alpha * c.low[i]) / sigma;
    const b = (x[i] - alpha * c.high[i]) / sigma;
    // p_i = [Phi(a) - Phi(b)] / (alpha (h - l)) = [Phi(a) - Phi(b)] / ((a - b) sigma): finite at alpha = 0.
    const diff = logDiffPhi(a, b);
    const width = a - b;
    if (width > 0) {
      logDensity += diff.log - Math.log(width) - 0.5 * Math.log(sigma2);
    } else {
      logDensity += logPhiDensity(a) - 0.5 * Math.log(sigma2); // alpha = 0: the box is a point mass at 0
    }
    score[i] = diff.dlog / sigma;
  }
  return logDensity;
}
