// The experiment plan: a validated spec compiled once into everything a sampler needs, in f64.
// Every consumer (CLI, CPU reference, GPU host, checks, sweep, reproductions, explorer,
// benchmarks) takes the plan and reads its tables; nothing downstream re-plans. The plan is
// immutable (frozen): two samplers given one plan step the same model through the same rows.
//
//   spec ──parseSpec──> ExperimentSpec ──prepareExperiment──> ExperimentPlan
//     model + guidance terms (GuidancePlan), per-step rows (StepTable), tableau, score-error
//     model, guidance variant, prior scale and start time
//
// Worker threads receive the spec (a plan holds functions and typed arrays that do not cross
// threads) and compile it again with prepareExperiment: deterministic, so the same plan.
import { type GuidancePlan, NO_EXTRA_GROUPS, planGuidance } from '../guidance/guidance.ts';
import type { PerLevelClassifier } from '../model/classifier/classifier.ts';
import { buildModel } from '../model/mixture.ts';
import { Denoiser } from '../model/denoiser/denoiser.ts';
import { type PreparedScoreError, prepareScoreError } from '../model/score-error.ts';
import { priorScale, startTime } from '../processes/process.ts';
import { buildStepTable, type StepTable } from '../solvers/table.ts';
import { TABLEAUS, type Tableau } from '../solvers/tableau.ts';
import type { ExperimentSpec, GuidanceVariant, WSchedule } from './types.ts';

/** Classifier guidance with a trained per-noise-level classifier (src/studies/classifiers/). */
export interface TrainedGuidance {
  model: PerLevelClassifier;
  w: number | WSchedule;
}

export interface ExperimentPlan {
  /** Brand: tells a plan from a spec where an API takes either. */
  readonly kind: 'experiment-plan';
  /** The validated spec the plan was compiled from (for a trained classifier: its guidance and score error off, see below). */
  readonly spec: ExperimentSpec;
  /** The model's component table, the target and negative groups, gamma(t). */
  readonly guidance: GuidancePlan;
  /** Per-step rows (alpha, sigma, guidance weights, solver coefficients), start time -> tMin (or reversed). */
  readonly table: StepTable;
  readonly tableau: Tableau;
  readonly scoreError: PreparedScoreError;
  readonly variant: GuidanceVariant;
  /** Scale of the prior draw x_T = priorScale z. */
  readonly priorScale: number;
  readonly startTime: number;
  /**
   * A trained classifier: the particles follow s = s_u + w(t) grad log p_hat_t(target | x). The
   * plan's guidance walks the unconditional law with weights (1, 0) and the exact score (no
   * score-error model); the samplers add the classifier's term.
   */
  readonly trained: TrainedGuidance | null;
  /** Whether the table runs tMin -> start time (the log-density path's forward carry). */
  readonly reversed: boolean;
  /**
   * Learned denoisers (docs/learned-denoisers.md) whose scores replace the target's and/or the
   * negative's exact score (guidance.score, a learned guidance.negative); null where exact.
   */
  readonly learned: LearnedScores;
}

export interface LearnedScores {
  target: Denoiser | null;
  negative: Denoiser | null;
}

/** Whether a learned denoiser stands in for the target's or the negative's exact score. */
export function hasLearnedScore(spec: ExperimentSpec): boolean {
  const g = spec.guidance;
  return g.kind !== 'classifier' && (g.score !== undefined || (g.kind === 'cfg' && g.negative.kind === 'learned'));
}

/** The learned models of a spec's guidance. */
export function learnedScores(spec: ExperimentSpec): LearnedScores {
  const g = spec.guidance;
  if (g.kind === 'classifier') return { target: null, negative: null };
  const target = g.score ? Denoiser.fromFile(g.score.model) : null;
  const negative = g.kind === 'cfg' && g.negative.kind === 'learned' ? Denoiser.fromFile(g.negative.model) : null;
  return { target, negative };
}

export interface PrepareOptions {
  /** Guide with a trained classifier instead of the spec's guidance. */
  classifier?: TrainedGuidance;
  /** The reversed grid (tMin -> start time), ODE solvers only (src/solvers/table.ts). */
  reverse?: boolean;
}

const LINEAR: GuidanceVariant = { kind: 'linear' };

/** Compiles a validated spec (parseSpec's output) into its plan. */
export function prepareExperiment(specIn: ExperimentSpec, opts: PrepareOptions = {}): ExperimentPlan {
  const trained = opts.classifier ?? null;
  if (trained && specIn.corrector)
    throw new Error('classifier guidance with a trained classifier: no corrector (the spec has one)');
  const spec: ExperimentSpec = trained
    ? { ...specIn, guidance: { kind: 'none' }, scoreError: { kind: 'none' } }
    : specIn;
  const guidance = trained ? unconditionalGuidance(spec) : planGuidance(spec);
  const reversed = opts.reverse ?? false;
  const plan: ExperimentPlan = {
    kind: 'experiment-plan',
    spec,
    guidance,
    table: buildStepTable(spec, guidance, { reverse: reversed }),
    tableau: TABLEAUS[spec.solver.kind],
    scoreError: prepareScoreError(spec.scoreError ?? { kind: 'none' }, spec.dim),
    variant: spec.guidance.kind === 'cfg' ? spec.guidance.variant : LINEAR,
    priorScale: priorScale(spec.process),
    startTime: startTime(spec.process),
    trained,
    reversed,
    learned: learnedScores(spec),
  };
  return Object.freeze(plan);
}

/** The plan itself, or a spec's plan (compiled here): for APIs that take either. */
export function planOf(x: ExperimentSpec | ExperimentPlan): ExperimentPlan {
  return isPlan(x) ? x : prepareExperiment(x);
}

export function isPlan(x: ExperimentSpec | ExperimentPlan): x is ExperimentPlan {
  return (x as ExperimentPlan).kind === 'experiment-plan';
}

/** The plan of trained-classifier guidance: the unconditional law alone, weight (1, 0). */
function unconditionalGuidance(spec: ExperimentSpec): GuidancePlan {
  const model = buildModel(spec);
  return {
    model,
    target: model.unconditional,
    negative: null,
    coefficients: () => [1, 0],
    ...NO_EXTRA_GROUPS,
  };
}
