// A learned denoiser D(y; s) of the data, with EDM preconditioning (Karras et al. 2022, Table 1;
// the toy of Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself"), in
// the variance-exploding parameterisation y = x_0 + s n, s the VE noise level:
//
//   D(y; s) = c_skip(s) y + c_out(s) F([c_in(s) y, c_noise(s)])
//   c_skip = sd^2 / (s^2 + sd^2),  c_out = s sd / sqrt(s^2 + sd^2),
//   c_in = 1 / sqrt(s^2 + sd^2),   c_noise = log(s) / 4,           sd = sigmaData
//
// F is a small MLP (src/model/classifier/network.ts: `dim + 1` inputs, `dim` outputs, SiLU
// hidden layers, no feature standardisation).
//
// The sampler's processes are x_t = alpha x_0 + sigma eps (src/processes/); x_t / alpha is the
// VE variable at s = sigma / alpha, so the score of p_t is
//   s_t(x) = (alpha D(x / alpha; sigma / alpha) - x) / sigma^2 = kx x + kF F([a x, c_noise])
// with, in f64 on the host (no cancellation at small sigma):
//   a  = c_in / alpha       = 1 / sqrt(sigma^2 + alpha^2 sd^2)
//   kx = (c_skip - 1) / sigma^2 = -a^2
//   kF = alpha c_out / sigma^2  = sd alpha a / sigma
// These four numbers per (model, time) are what the CPU reference and the GPU kernel
// (shaders/denoiser.wgsl, src/gpu/denoiser.ts) both use.
import { Network } from '../classifier/network.ts';

export const DENOISER_FORMAT = 'guidance-sampler/denoiser';
export const DENOISER_VERSION = 1;

/** The model file (JSON): architecture, preconditioning, weights, and how it was made. */
export interface DenoiserFile {
  format: typeof DENOISER_FORMAT;
  version: typeof DENOISER_VERSION;
  dim: number;
  /** Hidden layer widths (>= 1 layer). */
  hidden: number[];
  activation: 'silu';
  sigmaData: number;
  /** The MLP's parameters in Network's layout: W_1 (out x in, row-major), b_1, ..., W_L, b_L. */
  params: number[];
  /** The training configuration (informational; not read by the sampler). */
  training?: unknown;
  /** What it was trained on: spec hash, class (informational). */
  data?: unknown;
}

/** The per-time constants of the score in process space (see the header). */
export interface DenoiserCoefficients {
  a: number;
  cNoise: number;
  kx: number;
  kF: number;
}

/** Number of MLP parameters for a dim and hidden widths. */
export function denoiserParamCount(dim: number, hidden: readonly number[]): number {
  const sizes = [dim + 1, ...hidden, dim];
  let n = 0;
  for (let l = 1; l < sizes.length; l++) n += sizes[l] * sizes[l - 1] + sizes[l];
  return n;
}

/** The score's constants at (alpha, sigma^2), alpha > 0, sigma^2 > 0. */
export function denoiserCoefficients(sigmaData: number, alpha: number, sigma2: number): DenoiserCoefficients {
  if (!(alpha > 0) || !(sigma2 > 0))
    throw new Error(`learned denoiser: needs alpha > 0 and sigma > 0, got alpha ${alpha}, sigma^2 ${sigma2}`);
  const sigma = Math.sqrt(sigma2);
  const a = 1 / Math.sqrt(sigma2 + alpha * alpha * sigmaData * sigmaData);
  return { a, cNoise: Math.log(sigma / alpha) / 4, kx: -a * a, kF: (sigmaData * alpha * a) / sigma };
}

/** EDM's preconditioning at VE noise level s. */
export function edmPreconditioning(sigmaData: number, s: number) {
  const r = Math.sqrt(s * s + sigmaData * sigmaData);
  return {
    cSkip: (sigmaData * sigmaData) / (r * r),
    cOut: (s * sigmaData) / r,
    cIn: 1 / r,
    cNoise: Math.log(s) / 4,
    /** EDM's loss weight lambda(s) = 1 / c_out^2. */
    weight: (r * r) / (s * s * sigmaData * sigmaData),
  };
}

export class Denoiser {
  readonly dim: number;
  readonly hidden: number[];
  readonly sigmaData: number;
  /** F: dim + 1 inputs ([c_in y, c_noise]), dim outputs. */
  readonly net: Network;
  private readonly input: Float64Array;
  private readonly unit: Float64Array;
  private readonly gradIn: Float64Array;

  constructor(dim: number, hidden: readonly number[], sigmaData: number) {
    if (!(sigmaData > 0)) throw new Error(`Denoiser: sigmaData must be > 0, got ${sigmaData}`);
    this.dim = dim;
    this.hidden = [...hidden];
    this.sigmaData = sigmaData;
    this.net = new Network({ dim: dim + 1, classes: dim, features: 'linear', hidden: [...hidden], activation: 'silu' });
    this.input = new Float64Array(dim + 1);
    this.unit = new Float64Array(dim);
    this.gradIn = new Float64Array(dim + 1);
  }

  /** F at the network input already formed in `input` (dim + 1 values); a view, overwritten by the next call. */
  raw(input: ArrayLike<number>): Float64Array {
    return this.net.forward(input);
  }

  /** out = D(y; s), VE space. */
  denoise(y: ArrayLike<number>, s: number, out: Float64Array): void {
    const p = edmPreconditioning(this.sigmaData, s);
    const d = this.dim;
    for (let i = 0; i < d; i++) this.input[i] = p.cIn * y[i];
    this.input[d] = p.cNoise;
    const F = this.net.forward(this.input);
    for (let i = 0; i < d; i++) out[i] = p.cSkip * y[i] + p.cOut * F[i];
  }

  /** out = the score of p_t at x from precomputed coefficients (denoiserCoefficients). */
  scoreWith(c: DenoiserCoefficients, x: ArrayLike<number>, out: Float64Array): void {
    const d = this.dim;
    for (let i = 0; i < d; i++) this.input[i] = c.a * x[i];
    this.input[d] = c.cNoise;
    const F = this.net.forward(this.input);
    for (let i = 0; i < d; i++) out[i] = c.kx * x[i] + c.kF * F[i];
  }

  /**
   * The Jacobian of scoreWith's score at x into out (dim x dim, row-major, overwritten):
   * ds_i/dx_j = kx [i = j] + kF a dF_i/dy_j, F's Jacobian in its first dim inputs y = a x, by one
   * forward and dim backward passes (exact, f64): what the log-density path needs of a learned score.
   */
  scoreJacobianWith(c: DenoiserCoefficients, x: ArrayLike<number>, out: Float64Array): void {
    const d = this.dim;
    for (let i = 0; i < d; i++) this.input[i] = c.a * x[i];
    this.input[d] = c.cNoise;
    this.net.forward(this.input);
    for (let i = 0; i < d; i++) {
      this.unit.fill(0);
      this.unit[i] = 1;
      this.gradIn.fill(0);
      this.net.backward(this.input, this.unit, 1, null, this.gradIn);
      for (let j = 0; j < d; j++) out[i * d + j] = (i === j ? c.kx : 0) + c.kF * c.a * this.gradIn[j];
    }
  }

  /** div_x of scoreWith's score at x: the trace of scoreJacobianWith (`scratch`: dim x dim). */
  scoreDivergenceWith(c: DenoiserCoefficients, x: ArrayLike<number>, scratch: Float64Array): number {
    this.scoreJacobianWith(c, x, scratch);
    let tr = 0;
    for (let i = 0; i < this.dim; i++) tr += scratch[i * this.dim + i];
    return tr;
  }

  /** out = the score of p_t at x, for x_t = alpha x_0 + sigma eps. */
  score(x: ArrayLike<number>, alpha: number, sigma2: number, out: Float64Array): void {
    this.scoreWith(denoiserCoefficients(this.sigmaData, alpha, sigma2), x, out);
  }

  /** The model file (training and data are the caller's, informational). */
  toFile(training?: unknown, data?: unknown): DenoiserFile {
    return {
      format: DENOISER_FORMAT,
      version: DENOISER_VERSION,
      dim: this.dim,
      hidden: [...this.hidden],
      activation: 'silu',
      sigmaData: this.sigmaData,
      params: Array.from(this.net.params),
      ...(training === undefined ? {} : { training }),
      ...(data === undefined ? {} : { data }),
    };
  }

  /** A denoiser from a validated model file (src/experiment/parse-learned.ts validates). */
  static fromFile(f: DenoiserFile): Denoiser {
    const m = new Denoiser(f.dim, f.hidden, f.sigmaData);
    if (f.params.length !== m.net.params.length)
      throw new Error(`Denoiser.fromFile: expected ${m.net.params.length} params, got ${f.params.length}`);
    m.net.params.set(f.params);
    return m;
  }
}

/** FNV-1a (64-bit, hex) of a string: the data spec hash a model file records. */
export function fnv1a64(s: string): string {
  let h = 0xcbf29ce484222325n;
  const p = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * p) & mask;
  }
  return h.toString(16).padStart(16, '0');
}
