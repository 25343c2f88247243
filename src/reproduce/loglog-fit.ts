// Log-log least squares with one intercept per group and a common slope (claim 5, cross-entropy):
//     log y_i = a_{g(i)} + b log x_i + e_i,
// fitted by ordinary least squares (the normal equations solved with ml-matrix). The groups are the
// noise levels: the constant of "MSE = C KL^b" depends on t, the exponent b is what the paper's rate
// predicts. The slope's standard error is the usual s^2 (X'X)^-1 one (s^2 = RSS / (n - p)), and its
// confidence interval uses Student's t with n - p degrees of freedom (exact under normal residuals).
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { Matrix, solve } from 'ml-matrix';

export interface LogLogPoint {
  group: number;
  x: number;
  y: number;
}

export interface LogLogFit {
  slope: number;
  se: number;
  /** Two-sided confidence interval of the slope at `level`. */
  ci: [number, number];
  level: number;
  n: number;
  df: number;
  /** Intercept a_g of each group, in the order the groups first appear. */
  intercepts: Record<number, number>;
  /** Residual standard deviation, in log units. */
  residualSd: number;
}

/** The common-slope fit of log y on log x over points with x, y > 0 (others are an error). */
export function fitLogLog(points: LogLogPoint[], level = 0.95): LogLogFit {
  for (const p of points)
    if (!(p.x > 0 && p.y > 0)) throw new Error(`fitLogLog: x and y must be > 0, got (${p.x}, ${p.y})`);
  const groups = [...new Set(points.map((p) => p.group))];
  const n = points.length;
  const k = groups.length + 1; // intercepts and the slope
  if (n <= k) throw new Error(`fitLogLog: ${n} points cannot fit ${k} parameters`);
  const X = new Matrix(n, k);
  const Y = new Matrix(n, 1);
  points.forEach((p, i) => {
    X.set(i, groups.indexOf(p.group), 1);
    X.set(i, k - 1, Math.log(p.x));
    Y.set(i, 0, Math.log(p.y));
  });
  const XtX = X.transpose().mmul(X);
  const beta = solve(XtX, X.transpose().mmul(Y));
  const resid = Y.sub(X.mmul(beta));
  let rss = 0;
  for (let i = 0; i < n; i++) rss += resid.get(i, 0) ** 2;
  const df = n - k;
  const s2 = rss / df;
  // (X'X)^-1's slope entry: solve against the last unit vector.
  const e = new Matrix(k, 1);
  e.set(k - 1, 0, 1);
  const se = Math.sqrt(s2 * solve(XtX, e).get(k - 1, 0));
  const slope = beta.get(k - 1, 0);
  const q = tQuantile(0.5 + level / 2, df);
  const intercepts: Record<number, number> = {};
  groups.forEach((g, j) => {
    intercepts[g] = beta.get(j, 0);
  });
  return {
    slope,
    se,
    ci: [slope - q * se, slope + q * se],
    level,
    n,
    df,
    intercepts,
    residualSd: Math.sqrt(s2),
  };
}
