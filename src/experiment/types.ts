// The experiment spec of shared/SPEC.md after validation: every default filled in,
// weights normalised, covariances in one canonical form. Everything downstream
// (model, solvers, CPU and GPU backends) reads only this shape.
import type { DenoiserFile } from '../model/denoiser/denoiser.ts';

export type Covariance =
  | { kind: 'isotropic'; variance: number }
  | { kind: 'diagonal'; variances: number[] }
  | { kind: 'full'; matrix: number[][] };

export type Component =
  | { kind: 'gaussian'; weight: number; mean: number[]; cov: Covariance }
  | { kind: 'uniform'; weight: number; low: number[]; high: number[] };

/** A mixture: component weights normalised to sum to 1. */
export interface Distribution {
  components: Component[];
}

export interface ClassSpec extends Distribution {
  name: string;
  /** p(c), normalised over classes. */
  weight: number;
}

export type ProcessSpec =
  | { kind: 'ou'; T: number }
  | { kind: 'vp'; betaMin: number; betaMax: number }
  | { kind: 've'; sigmaMax: number }
  | { kind: 'flow' };

export type WSchedule =
  | { kind: 'constant'; w: number }
  | { kind: 'interval'; w: number; tLow: number; tHigh: number; outside: number }
  | { kind: 'piecewise'; points: [number, number][] };

/** An exact law named by a guidance field: the unconditional law, a class, or an inline mixture. */
export type ConditionSpec =
  | { kind: 'unconditional' }
  | { kind: 'class'; name: string }
  | { kind: 'inline'; distribution: Distribution };

export type NegativeSpec = ConditionSpec | LearnedScoreSpec;

/**
 * Optional (beyond SPEC.md v1): one more condition of multi-condition guidance (composable
 * diffusion, Liu et al. 2022; diffusers' multi-prompt guidance), adding w(t) (s_condition -
 * s_negative) to cfg's score. Its weights sum to zero, so the guided score's coefficients
 * still sum to 1 (src/guidance/guidance.ts).
 */
export interface GuidanceTerm {
  condition: ConditionSpec;
  w: WSchedule;
  negative: ConditionSpec;
}

/**
 * Optional (beyond SPEC.md v1): a learned denoiser as a score source (docs/learned-denoisers.md),
 * `guidance.score` (in place of the target's exact score) or a cfg `guidance.negative`. `model`
 * is the validated model file (read from `file` when the spec named one; `file` is then kept
 * for the record).
 */
export interface LearnedScoreSpec {
  kind: 'learned';
  file: string | null;
  model: DenoiserFile;
}

/**
 * Optional (beyond SPEC.md v1): variants of cfg, in terms of the target and negative scores
 * s_c, s_n and w(t) (cfgpp: lambda instead of w). See README "Guidance variants".
 */
export type GuidanceVariant =
  | { kind: 'linear' }
  /** Guidance rescale (Lin et al. 2024): phi = 0 is cfg. */
  | { kind: 'rescale'; phi: number }
  /** Adaptive projected guidance (Sadat et al. 2024): eta = 1, r = null (no cap), beta = 0 is cfg. */
  | { kind: 'apg'; eta: number; r: number | null; beta: number }
  /** Power-law cfg: s = s_c + w (sigma |s_c - s_n|)^alpha (s_c - s_n); alpha = 0 is cfg. */
  | { kind: 'powerlaw'; alpha: number }
  /**
   * CFG-Zero* (Fan et al. 2025, arXiv 2503.18886): s = (1 + w) s_c - w a* s_n with the per-particle
   * optimised scale a* = <s_c, s_n> / |s_n|^2; the first zeroInitSteps steps do not move x.
   */
  | { kind: 'cfgzero'; zeroInitSteps: number }
  /**
   * Tangential CFG (Kwon et al. 2025, arXiv 2503.18137): s_n replaced by its projection on the top
   * right singular vector of the 2 x d matrix [s_c; s_n], then cfg.
   */
  | { kind: 'tangential' }
  /**
   * CFG++ (Chung et al. 2024): a discrete DDIM rule, not a score combination. Its strength is
   * lambda (w is 0); euler only. See src/guidance/variants.ts, cfgppCoefficients.
   */
  | { kind: 'cfgpp'; lambda: number };

/**
 * Guidance on a window of the schedule (diffusers' guidance_start / guidance_stop): guided on the
 * steps n with floor(start N) <= n < floor(stop N), N = solver.steps; w = 0 on the others.
 */
export interface GuidanceWindow {
  start: number;
  stop: number;
}

export type GuidanceSpec =
  | { kind: 'none'; score?: LearnedScoreSpec }
  | {
      kind: 'cfg';
      w: WSchedule;
      negative: NegativeSpec;
      variant: GuidanceVariant;
      window?: GuidanceWindow;
      score?: LearnedScoreSpec;
      /** Multi-condition guidance: further terms (absent: none). */
      terms?: GuidanceTerm[];
    }
  | { kind: 'classifier'; w: WSchedule; window?: GuidanceWindow };

/** Optional (beyond SPEC.md v1): a model of score error, applied to the chosen group's score. */
export type ScoreErrorSpec =
  | { kind: 'none' }
  /** s += value. */
  | { kind: 'bias'; value: number[]; applyTo: ScoreErrorTarget }
  /**
   * s += a smooth seeded random vector field: random Fourier features of an RBF-kernel
   * Gaussian process, e(x) = amplitude sqrt(2/F) sum_f u_f cos(omega_f . x + phi_f),
   * omega_f ~ N(0, I / lengthScale^2), phi_f ~ U(0, 2 pi), u_f ~ N(0, I).
   */
  | { kind: 'field'; amplitude: number; lengthScale: number; features: number; seed: number; applyTo: ScoreErrorTarget }
  /** The score of the data convolved with N(0, delta^2 I): sigma^2 -> sigma^2 + alpha^2 delta^2. */
  | { kind: 'blur'; delta: number; applyTo: ScoreErrorTarget };

export type ScoreErrorTarget = 'target' | 'negative' | 'both';

/**
 * Optional (beyond SPEC.md v1): a Feynman-Kac (sequential Monte Carlo) corrector for the
 * reverse SDE. Particles carry log-weights that make the guided SDE target the tilted law
 * p_t(x|c)^gammaTarget(t) p_t(x|neg)^gammaNegative(t) at every step; when the effective
 * sample size falls below essThreshold x N they are resampled (systematic), and once more
 * at tMin, so the returned particles are equally weighted draws of the tilted law at tMin.
 */
export interface CorrectorSpec {
  kind: 'fk';
  resample: 'systematic';
  /** Resample when ESS < essThreshold * N; in [0, 1] (0: only at tMin). */
  essThreshold: number;
}

export type GridSpec = { kind: 'uniform' } | { kind: 'edm'; rho: number };

export type SolverKind =
  | 'euler'
  | 'heun'
  | 'rk4'
  | 'em'
  | 'dpmpp-2m'
  | 'euler-ancestral'
  | 'heun-churn'
  | 'dpm2'
  | 'dpmpp-2m-sde'
  | 'dpmpp-3m-sde'
  | 'lms';

/** Karras et al. (2022) Algorithm 2's churn parameters, in VE sigma units (sigma/alpha). */
export interface ChurnSpec {
  sChurn: number;
  sTmin: number;
  /** Infinity when the spec gives no upper bound. */
  sTmax: number;
}

export interface SolverSpec {
  kind: SolverKind;
  steps: number;
  tMin: number;
  grid: GridSpec;
  /** euler-ancestral, dpmpp-2m-sde, dpmpp-3m-sde: the noise fraction eta. */
  eta?: number;
  /** Every k-diffusion sampler that draws noise: its scale S_noise. */
  sNoise?: number;
  /** heun-churn, dpm2. */
  churn?: ChurnSpec;
  /** lms: the multistep order, 1 to 4 (k-diffusion's default 4). */
  order?: number;
}

export interface ExperimentSpec {
  dim: number;
  classes: ClassSpec[];
  target: string;
  process: ProcessSpec;
  guidance: GuidanceSpec;
  solver: SolverSpec;
  particles: number;
  seed: number;
  /** Optional (default none). */
  scoreError: ScoreErrorSpec;
  /** Optional (default null: none). */
  corrector: CorrectorSpec | null;
  /**
   * Start law (SPEC.md "Start law"; default "prior"): the process's prior, or the exact noised
   * target law p_T(x | target) at the start time (src/model/sample-exact.ts).
   */
  start: StartKind;
}

export type StartKind = 'prior' | 'exact';
export const START_KINDS: readonly StartKind[] = ['prior', 'exact'];

export const SOLVER_KINDS: readonly SolverKind[] = [
  'euler',
  'heun',
  'rk4',
  'em',
  'dpmpp-2m',
  'euler-ancestral',
  'heun-churn',
  'dpm2',
  'dpmpp-2m-sde',
  'dpmpp-3m-sde',
  'lms',
];
export const PROCESS_KINDS = ['ou', 'vp', 've', 'flow'] as const;
export const GUIDANCE_KINDS = ['none', 'cfg', 'classifier'] as const;
export const SCHEDULE_KINDS = ['constant', 'interval', 'piecewise'] as const;
export const COMPONENT_KINDS = ['gaussian', 'uniform'] as const;
export const GRID_KINDS = ['uniform', 'edm'] as const;
export const VARIANT_KINDS = ['linear', 'rescale', 'apg', 'powerlaw', 'cfgpp', 'cfgzero', 'tangential'] as const;
export const SCORE_ERROR_KINDS = ['none', 'bias', 'field', 'blur'] as const;
export const SCORE_ERROR_TARGETS = ['target', 'negative', 'both'] as const;
export const CORRECTOR_KINDS = ['none', 'fk'] as const;
export const RESAMPLE_KINDS = ['systematic'] as const;
