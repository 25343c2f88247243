// Every guidance kind of SPEC.md is a combination of two groups' scores,
//   s = gammaTarget(t) s_target + gammaNegative(t) s_negative,
// with gammaTarget + gammaNegative = 1:
//   none:        (1, 0)
//   cfg:         (1 + w, -w)        against the chosen negative
//   classifier:  (w, 1 - w)         against the unconditional law, since
//                s_u + w grad log p_t(c|x) = s_u + w (s_c - s_u) exactly.
// Multi-condition guidance (guidance.terms) adds, per term, w_k(t) (s_condition_k - s_negative_k):
// further groups ("extra groups", after target and negative) whose coefficients sum to 0.
// The coefficients summing to 1 is what lets the ODE velocity be written without
// dividing by alpha (see src/solvers/table.ts).
// The cfgpp variant (CFG++) is the exception: a discrete rule whose coefficients depend on the
// step, not on t alone; src/solvers/table.ts builds its rows (src/guidance/variants.ts,
// cfgppCoefficients), and `coefficients` is not defined for it.
import type { ConditionSpec, ExperimentSpec, GuidanceSpec, GuidanceTerm } from '../experiment/types.ts';
import { addDistribution, buildModel, classGroup, type Group, type MixtureModel } from '../model/mixture.ts';
import { scheduleAt } from './schedule.ts';

export interface GuidancePlan {
  model: MixtureModel;
  target: Group;
  /** null when the guidance needs no second score. */
  negative: Group | null;
  /** [gammaTarget, gammaNegative] at time t (throws for cfgpp: its rows are per step). */
  coefficients(t: number): [number, number];
  /** Multi-condition guidance's further groups (guidance.terms), one per distinct law; [] without terms. */
  extraGroups: Group[];
  /** The extra groups' coefficients at time t (each term: +w(t) on its condition, -w(t) on its negative). */
  extraCoefficients(t: number): number[];
}

/** A plan's extra-group fields without multi-condition terms. */
export const NO_EXTRA_GROUPS: Pick<GuidancePlan, 'extraGroups' | 'extraCoefficients'> = {
  extraGroups: [],
  extraCoefficients: () => [],
};

/**
 * Whether step n of N is guided under guidance.start / guidance.stop (diffusers' guiders:
 * int(start N) <= n < int(stop N)); always without a window.
 */
export function guidedStep(g: GuidanceSpec, n: number, steps: number): boolean {
  if (g.kind === 'none' || !g.window) return true;
  return Math.floor(g.window.start * steps) <= n && n < Math.floor(g.window.stop * steps);
}

/** The coefficients with guidance off (w = 0): cfg (1, 0), the conditional score; classifier (0, 1), the unconditional one. */
export function unguidedCoefficients(g: GuidanceSpec): [number, number] {
  return g.kind === 'classifier' ? [0, 1] : [1, 0];
}

export function guidanceWeightAt(g: GuidanceSpec, t: number): number {
  return g.kind === 'none' ? 0 : scheduleAt(g.w, t);
}

/** Builds the model (with any inline negative appended to its component table) and the guidance. */
export function planGuidance(spec: ExperimentSpec): GuidancePlan {
  const model = buildModel(spec);
  const target = classGroup(model, spec.target);
  const g = spec.guidance;
  switch (g.kind) {
    case 'none':
      return { model, target, negative: null, coefficients: () => [1, 0], ...NO_EXTRA_GROUPS };
    case 'cfg': {
      let negative: Group;
      if (g.negative.kind === 'unconditional') negative = model.unconditional;
      else if (g.negative.kind === 'class') negative = classGroup(model, g.negative.name);
      // A learned negative: its score replaces this group's (the samplers, src/model/denoiser/);
      // the target's group stands in, so the exact walk costs nothing extra.
      else if (g.negative.kind === 'learned') negative = target;
      else negative = addDistribution(model.components, g.negative.distribution, model.dim, 'negative');
      const terms = termGroups(model, g.terms ?? [], target, negative);
      return {
        model,
        target,
        negative,
        extraGroups: terms.extraGroups,
        extraCoefficients: terms.extraCoefficients,
        coefficients: (t) => {
          if (g.variant.kind === 'cfgpp') {
            throw new Error('cfgpp has per-step coefficients (src/solvers/table.ts), not gamma(t)');
          }
          const w = scheduleAt(g.w, t);
          if (!terms.folded) return [1 + w, -w];
          const [dTarget, dNegative] = terms.folded(t);
          return [1 + w + dTarget, -w + dNegative];
        },
      };
    }
    case 'classifier':
      return {
        model,
        target,
        negative: model.unconditional,
        coefficients: (t) => {
          const w = scheduleAt(g.w, t);
          return [w, 1 - w];
        },
        ...NO_EXTRA_GROUPS,
      };
  }
}

/**
 * The extra groups of multi-condition guidance: one per distinct law among the terms' conditions
 * and negatives (inline laws appended to the component table), and their coefficients. A term's
 * law that is the target's or the negative's own group is folded into that group's coefficient
 * instead (`folded`: what it adds to gammaTarget and gammaNegative at t), so that no group is
 * walked twice; with every law folded there are no extra groups at all.
 */
function termGroups(
  model: MixtureModel,
  terms: readonly GuidanceTerm[],
  target: Group,
  negative: Group,
): Pick<GuidancePlan, 'extraGroups' | 'extraCoefficients'> & { folded: ((t: number) => [number, number]) | null } {
  const extraGroups: Group[] = [];
  const byKey = new Map<string, number>();
  const TARGET = -1;
  const NEGATIVE = -2;
  const groupOf = (c: ConditionSpec, name: string): number => {
    const key = c.kind === 'inline' ? name : c.kind === 'class' ? `class:${c.name}` : 'unconditional';
    let g = byKey.get(key);
    if (g === undefined) {
      const group =
        c.kind === 'unconditional'
          ? model.unconditional
          : c.kind === 'class'
            ? classGroup(model, c.name)
            : addDistribution(model.components, c.distribution, model.dim, name);
      if (group === target) g = TARGET;
      else if (group === negative) g = NEGATIVE;
      else {
        g = extraGroups.length;
        extraGroups.push(group);
      }
      byKey.set(key, g);
    }
    return g;
  };
  const slots = terms.map((term, k) => ({
    condition: groupOf(term.condition, `terms[${k}].condition`),
    negative: groupOf(term.negative, `terms[${k}].negative`),
    w: term.w,
  }));
  const coefficients = (t: number): { extra: number[]; target: number; negative: number } => {
    const c = { extra: new Array<number>(extraGroups.length).fill(0), target: 0, negative: 0 };
    const add = (g: number, v: number) => {
      if (g === TARGET) c.target += v;
      else if (g === NEGATIVE) c.negative += v;
      else c.extra[g] += v;
    };
    for (const s of slots) {
      const w = scheduleAt(s.w, t);
      add(s.condition, w);
      add(s.negative, -w);
    }
    return c;
  };
  const anyFolded = slots.some((s) => s.condition < 0 || s.negative < 0);
  return {
    extraGroups,
    extraCoefficients: (t) => coefficients(t).extra,
    folded: anyFolded
      ? (t) => {
          const c = coefficients(t);
          return [c.target, c.negative];
        }
      : null,
  };
}
