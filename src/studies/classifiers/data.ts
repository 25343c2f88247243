// Training and test data for noise-level classifiers: pairs (x_t, c) from the noised
// mixture at one time t,
//   c ~ p(c),  k ~ the class's component weights,  x_0 ~ component k,  x_t = alpha x_0 + sigma eps,
// with (alpha, sigma) from src/processes/process.ts. A Gaussian N(m, S) is drawn in its
// eigenbasis (x_0 = m + U diag(sqrt(lambda)) z, the same basis the exact scores use); a box
// uniformly. Sample i of a data set uses counter (i, stream, block, purpose) of the
// classifier generator (src/model/classifier/rng.ts): purpose 0 chooses c and k, 1 draws x_0,
// 2 draws eps. So a data set is a pure function of (seed, stream, n), and sample i does not
// depend on n.
import type { MixtureModel } from '../../model/mixture.ts';
import type { ProcessSpec } from '../../experiment/types.ts';
import { processAt } from '../../processes/process.ts';
import { clfNormals, clfUniform4, clfUniforms } from '../../model/classifier/rng.ts';

export interface Dataset {
  /** Row-major n x dim. */
  x: Float64Array;
  /** Class index (spec order) of each row. */
  c: Int32Array;
  n: number;
  dim: number;
  t: number;
}

const PURPOSE_CHOICE = 0;
const PURPOSE_X0 = 1;
const PURPOSE_EPS = 2;

/** Inverse-CDF choice of an index from probabilities (the last index absorbs rounding). */
function choose(probs: ArrayLike<number>, u: number): number {
  let acc = 0;
  for (let i = 0; i < probs.length - 1; i++) {
    acc += probs[i];
    if (u < acc) return i;
  }
  return probs.length - 1;
}

/** n pairs (x_t, c) at time t of `process`. */
export function sampleNoisedData(
  model: MixtureModel,
  process: ProcessSpec,
  t: number,
  n: number,
  seed: number,
  stream: number,
): Dataset {
  const d = model.dim;
  const { alpha, sigma2 } = processAt(process, t);
  const sigma = Math.sqrt(sigma2);
  const classProbs = model.classes.map((c) => Math.exp(c.logPrior));
  const compProbs = model.classes.map((c) => c.group.entries.map((e) => Math.exp(e.logWeight)));
  const x = new Float64Array(n * d);
  const c = new Int32Array(n);
  const u4 = new Float64Array(4);
  const z = new Float64Array(d);
  const eps = new Float64Array(d);
  const x0 = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    clfUniform4(seed, i, stream, 0, PURPOSE_CHOICE, u4);
    const cls = choose(classProbs, u4[0]);
    const entry = model.classes[cls].group.entries[choose(compProbs[cls], u4[1])];
    const comp = model.components[entry.component];
    if (comp.kind === 'gaussian') {
      clfNormals(seed, i, stream, PURPOSE_X0, d, z);
      for (let j = 0; j < d; j++) z[j] *= Math.sqrt(comp.lambda[j]);
      for (let a = 0; a < d; a++) {
        let acc = comp.mean[a];
        if (comp.basis === null) acc += z[a];
        else for (let j = 0; j < d; j++) acc += comp.basis[a * d + j] * z[j];
        x0[a] = acc;
      }
    } else {
      clfUniforms(seed, i, stream, PURPOSE_X0, d, z);
      for (let a = 0; a < d; a++) x0[a] = comp.low[a] + (comp.high[a] - comp.low[a]) * z[a];
    }
    clfNormals(seed, i, stream, PURPOSE_EPS, d, eps);
    for (let a = 0; a < d; a++) x[i * d + a] = alpha * x0[a] + sigma * eps[a];
    c[i] = cls;
  }
  return { x, c, n, dim: d, t };
}
