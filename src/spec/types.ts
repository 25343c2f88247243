// The experiment spec of shared/SPEC.md after validation: every default filled in,
// weights normalised, covariances in one canonical form. Everything downstream
// (model, solvers, CPU and GPU backends) reads only this shape.

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

export type NegativeSpec =
  | { kind: 'unconditional' }
  | { kind: 'class'; name: string }
  | { kind: 'inline'; distribution: Distribution };

export type GuidanceSpec =
  | { kind: 'none' }
  | { kind: 'cfg'; w: WSchedule; negative: NegativeSpec }
  | { kind: 'classifier'; w: WSchedule };

export type GridSpec = { kind: 'uniform' } | { kind: 'edm'; rho: number };

export type SolverKind = 'euler' | 'heun' | 'rk4' | 'em';

export interface SolverSpec {
  kind: SolverKind;
  steps: number;
  tMin: number;
  grid: GridSpec;
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
}

export const SOLVER_KINDS: readonly SolverKind[] = ['euler', 'heun', 'rk4', 'em'];
export const PROCESS_KINDS = ['ou', 'vp', 've', 'flow'] as const;
export const GUIDANCE_KINDS = ['none', 'cfg', 'classifier'] as const;
export const SCHEDULE_KINDS = ['constant', 'interval', 'piecewise'] as const;
export const COMPONENT_KINDS = ['gaussian', 'uniform'] as const;
export const GRID_KINDS = ['uniform', 'edm'] as const;
