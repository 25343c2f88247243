// Feature maps phi(x) for the classifiers, each with its vector-Jacobian product
// (grad_x of g . phi(x)), which the guidance gradient grad_x log p_hat(c|x) needs.
//   linear:     phi = x                                   (size d)
//   quadratic:  phi = [x, x_i^2, x_i x_j for i < j]       (size d + d + d(d-1)/2)
//   sum:        phi = [sum_i x_i]                          (size 1): a classifier on it is
//               monotone in every coordinate (the "k of n" linear classifier)
export type FeatureKind = 'linear' | 'quadratic' | 'sum';
export const FEATURE_KINDS: readonly FeatureKind[] = ['linear', 'quadratic', 'sum'];

export interface FeatureMap {
  kind: FeatureKind;
  dim: number;
  size: number;
  /** phi(x) into out[0..size). */
  apply(x: ArrayLike<number>, out: Float64Array): void;
  /** out[0..dim) += grad_x (g . phi(x)). */
  vjp(x: ArrayLike<number>, g: ArrayLike<number>, out: Float64Array): void;
}

export function featureMap(kind: FeatureKind, dim: number): FeatureMap {
  switch (kind) {
    case 'linear':
      return {
        kind,
        dim,
        size: dim,
        apply(x, out) {
          for (let i = 0; i < dim; i++) out[i] = x[i];
        },
        vjp(_x, g, out) {
          for (let i = 0; i < dim; i++) out[i] += g[i];
        },
      };
    case 'sum':
      return {
        kind,
        dim,
        size: 1,
        apply(x, out) {
          let s = 0;
          for (let i = 0; i < dim; i++) s += x[i];
          out[0] = s;
        },
        vjp(_x, g, out) {
          for (let i = 0; i < dim; i++) out[i] += g[0];
        },
      };
    case 'quadratic':
      return {
        kind,
        dim,
        size: dim + dim + (dim * (dim - 1)) / 2,
        apply(x, out) {
          let k = 0;
          for (let i = 0; i < dim; i++) out[k++] = x[i];
          for (let i = 0; i < dim; i++) out[k++] = x[i] * x[i];
          for (let i = 0; i < dim; i++) for (let j = i + 1; j < dim; j++) out[k++] = x[i] * x[j];
        },
        vjp(x, g, out) {
          let k = 0;
          for (let i = 0; i < dim; i++) out[i] += g[k++];
          for (let i = 0; i < dim; i++) out[i] += 2 * x[i] * g[k++];
          for (let i = 0; i < dim; i++) {
            for (let j = i + 1; j < dim; j++) {
              out[i] += x[j] * g[k];
              out[j] += x[i] * g[k];
              k++;
            }
          }
        },
      };
  }
}
