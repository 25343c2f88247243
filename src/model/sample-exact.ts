// Exact draws of a noised mixture group, x_t ~ p_t(x | group) = sum_k w_k p_t(x | k), f64 on the
// host: pick a component k, draw x_0 from it exactly, then x_t = alpha x_0 + sigma eps. For a
// Gaussian N(m, S) this is N(alpha m, alpha^2 S + sigma^2 I) (x_0 = m + U diag(sqrt lambda) z
// through the eigenbasis of src/model/components.ts); for a box, alpha U(low, high) + sigma eps.
//
// Counter-based (src/rng/philox.ts), keyed by (seed, particle index, stream), so any range of
// particles can be drawn independently, in any order, on any backend. Streams of their own,
// which no sampler stream uses (the sampler uses 0 for x_T and n + 1 for the noise of step n,
// far below these unless a run had ~4e9 steps):
//   EXACT_COMPONENT_STREAM  block 0, word 0: the uniform that picks the component
//   EXACT_DATA_STREAM       x_0 within the component: normals (Gaussian) or uniforms (box),
//                           coordinate i in block floor(i / 4), lane i % 4
//   EXACT_NOISE_STREAM      eps, normals, same layout
import { fillNormals, philoxWords, wordToUnit } from '../rng/philox.ts';
import type { PreparedComponent } from './components.ts';
import type { Group, MixtureModel } from './mixture.ts';

export const EXACT_COMPONENT_STREAM = 0xffffff00;
export const EXACT_DATA_STREAM = 0xffffff01;
export const EXACT_NOISE_STREAM = 0xffffff02;

export interface ExactDrawOptions {
  seed: number;
  /** Particles [first, first + count) of the population (their global indices key the generator). */
  first: number;
  count: number;
  /**
   * Stratified by component: particle i belongs to component entry i mod K (K the group's
   * entries), so that every component gets N/K particles (within one) however small its weight.
   * Needs the population size N; the returned weights w_k N / n_k (n_k particles of entry k
   * among the N) make (1/N) sum_i weight_i f(x_i) unbiased for E_p[f].
   */
  stratified?: { population: number };
}

export interface ExactDraw {
  /** count x dim, row-major. */
  x: Float64Array;
  /** The group entry (index into group.entries) each particle was drawn from. */
  entry: Int32Array;
  /** Importance weights, mean 1 over the population (all 1 unless stratified). */
  weight: Float64Array;
}

const words = new Uint32Array(4);

/** Draws particles of p_t(x | group) at (alpha, sigma^2). */
export function sampleGroupExact(
  model: MixtureModel,
  group: Group,
  alpha: number,
  sigma2: number,
  opts: ExactDrawOptions,
): ExactDraw {
  const d = model.dim;
  const { seed, first, count } = opts;
  const entries = group.entries;
  const K = entries.length;
  const w = entries.map((e) => Math.exp(e.logWeight));
  const total = w.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const wk of w) {
    acc += wk / total;
    cdf.push(acc);
  }
  const x = new Float64Array(count * d);
  const entry = new Int32Array(count);
  const weight = new Float64Array(count).fill(1);
  const z = new Float64Array(Math.ceil(d / 4) * 4);
  const x0 = new Float64Array(d);
  const sigma = Math.sqrt(sigma2);
  const N = opts.stratified?.population;
  if (N !== undefined && !(first + count <= N))
    throw new Error(`sampleGroupExact: particles up to ${first + count} of a population of ${N}`);
  // Below one draw per entry some entries get none, and the weighted mean would miss their mass.
  if (N !== undefined && N < K)
    throw new Error(`sampleGroupExact: a stratified population of ${N} is below the group's ${K} entries`);
  for (let p = 0; p < count; p++) {
    const particle = first + p;
    let k: number;
    if (N !== undefined) {
      k = particle % K;
      // n_k = number of i in [0, N) with i mod K = k.
      const nk = Math.floor(N / K) + (k < N % K ? 1 : 0);
      weight[p] = ((w[k] / total) * N) / nk;
    } else {
      philoxWords(seed, particle, EXACT_COMPONENT_STREAM, 0, words);
      const u = wordToUnit(words[0]);
      k = 0;
      while (k < K - 1 && u > cdf[k]) k++;
    }
    entry[p] = k;
    drawData(model.components[entries[k].component], seed, particle, z, x0);
    fillNormals(seed, particle, EXACT_NOISE_STREAM, d, z);
    for (let i = 0; i < d; i++) x[p * d + i] = alpha * x0[i] + sigma * z[i];
  }
  return { x, entry, weight };
}

/** x_0 ~ the component's data law (exact), into out. z is scratch of length >= 4 ceil(d / 4). */
function drawData(c: PreparedComponent, seed: number, particle: number, z: Float64Array, out: Float64Array): void {
  const d = c.dim;
  if (c.kind === 'uniform') {
    for (let block = 0, i = 0; i < d; block++, i += 4) {
      philoxWords(seed, particle, EXACT_DATA_STREAM, block, words);
      for (let lane = 0; lane < 4 && i + lane < d; lane++) {
        const j = i + lane;
        out[j] = c.low[j] + (c.high[j] - c.low[j]) * wordToUnit(words[lane]);
      }
    }
    return;
  }
  fillNormals(seed, particle, EXACT_DATA_STREAM, d, z);
  if (c.basis === null) {
    for (let j = 0; j < d; j++) out[j] = c.mean[j] + Math.sqrt(c.lambda[j]) * z[j];
    return;
  }
  // x_0 = m + U diag(sqrt lambda) z, S = U diag(lambda) U^T (row-major U).
  for (let i = 0; i < d; i++) {
    let a = c.mean[i];
    for (let j = 0; j < d; j++) a += c.basis[i * d + j] * Math.sqrt(c.lambda[j]) * z[j];
    out[i] = a;
  }
}
