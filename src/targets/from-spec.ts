// The target of a check, from the experiment plan: which groups, with which exponents, and the tilted
// density's normaliser.
import { type ExperimentPlan, planOf } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { processAt } from '../processes/process.ts';
import { tiltedNormaliser } from './grid.ts';
import { tiltWeight, type TargetDef, type TargetKind } from './definition.ts';

/** The target of `kind` for an experiment plan (or a spec, compiled here). */
export function targetDef(source: ExperimentSpec | ExperimentPlan, kind: TargetKind): TargetDef {
  const experiment = planOf(source);
  const spec = experiment.spec;
  const plan = experiment.guidance;
  const model = plan.model;
  const p = processAt(spec.process, spec.solver.tMin);
  const base = { kind, spec, model, dim: spec.dim, alpha: p.alpha, sigma2: p.sigma2, logZ: 0, logZError: 0 };
  if (kind === 'conditional') return { ...base, groupA: plan.target, coefA: 1, groupB: null, coefB: 0, w: 0 };
  if (kind === 'unconditional') return { ...base, groupA: model.unconditional, coefA: 1, groupB: null, coefB: 0, w: 0 };
  const g = spec.guidance;
  if (g.kind === 'cfg' && g.variant.kind === 'cfgpp') {
    // Its stored w is 0, which would silently make the tilted target the conditional one.
    throw new Error(
      'cfgpp (CFG++) has no tilted target: it is a discrete rule without an ODE limit (its effect grows with the step count); compare it with the conditional or unconditional target',
    );
  }
  if (g.kind === 'cfg' && g.negative.kind === 'learned')
    throw new Error(
      'a learned guidance.negative has no tilted target (its law is the model, not an exact mixture); compare with the conditional target',
    );
  if (g.kind === 'cfg' && g.terms)
    throw new Error(
      "multi-condition guidance (guidance.terms) has no tilted target on the grid (it tilts by more than two laws); compare with the conditional target (the sweep's exact metrics report the KL to the tilted law, normalised by importance sampling)",
    );
  const w = tiltWeight(g);
  const negative = plan.negative ?? model.unconditional;
  const def: TargetDef = {
    ...base,
    groupA: plan.target,
    coefA: 1 + w,
    groupB: w === 0 ? null : negative,
    coefB: -w,
    w,
  };
  if (w !== 0) {
    if (spec.dim > 2)
      throw new Error(`the tilted target is integrated on a grid: dim <= 2 only (this spec has dim ${spec.dim})`);
    const { logZ, logZError } = tiltedNormaliser(def);
    def.logZ = logZ;
    def.logZError = logZError;
  }
  return def;
}
