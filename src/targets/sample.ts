// Exact samples of the conditional or unconditional target at tMin.
import { fillNormals } from '../rng/philox.ts';
import { normalCdf } from './law1d.ts';
import { type TargetDef } from './definition.ts';

/** Exact samples of the conditional or unconditional target at tMin (deterministic by seed). */
export function sampleTarget(def: TargetDef, count: number, seed: number): Float64Array {
  if (def.groupB !== null) throw new Error('sampleTarget: conditional or unconditional targets only');
  const d = def.dim;
  const out = new Float64Array(count * d);
  const entries = def.groupA.entries;
  const cum = new Float64Array(entries.length);
  let acc = 0;
  entries.forEach((e, i) => {
    acc += Math.exp(e.logWeight);
    cum[i] = acc;
  });
  const z = new Float64Array(Math.ceil((2 * d + 1) / 4) * 4);
  const sd = Math.sqrt(def.sigma2);
  for (let p = 0; p < count; p++) {
    fillNormals(seed, p, 0xabc, 2 * d + 1, z);
    const u = normalCdf(z[2 * d]) * acc;
    let k = 0;
    while (k < entries.length - 1 && cum[k] < u) k++;
    const c = def.model.components[entries[k].component];
    for (let i = 0; i < d; i++) {
      let x0: number;
      if (c.kind === 'uniform') x0 = c.low[i] + normalCdf(z[i]) * (c.high[i] - c.low[i]);
      else if (c.basis === null) x0 = c.mean[i] + Math.sqrt(c.lambda[i]) * z[i];
      else {
        x0 = c.mean[i];
        for (let j = 0; j < d; j++) x0 += c.basis[i * d + j] * Math.sqrt(c.lambda[j]) * z[j];
      }
      out[p * d + i] = def.alpha * x0 + sd * z[d + i];
    }
  }
  return out;
}
