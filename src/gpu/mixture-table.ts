// The step kernel's mixture tables, laid out from the plan: which component entries the kernel
// walks (target first, with their group masks and log-weights), the per-entry info records
// (COMPONENT_INFO in layout.ts), the per-(row, entry) factor table, and the statics (group data
// means, eigenbases, score-error parameters, the k-diffusion samplers' coefficients).
import type { GuidancePlan } from '../guidance/guidance.ts';
import { componentAtTime, makeComponentAtTime, type PreparedComponent } from '../model/components.ts';
import { groupDataMean, type MixtureModel } from '../model/mixture.ts';
import type { PreparedScoreError } from '../model/score-error.ts';
import type { StepRow, StepTable } from '../solvers/table.ts';
import { componentKind, EXTRA_GROUP_SHIFT, GROUP_MASK } from './codes.ts';
import { factorStride } from './kernel.ts';
import { COMPONENT_INFO, packStructs } from './layout.ts';

export interface MixtureTable {
  entries: ComponentEntry[];
  /** Entries walked for the target group (the first targetCount). */
  targetCount: number;
  /** The negative group's fixed log-weight shift against the target's, when it reuses the target's sums. */
  negativeFromTargetShift: number | null;
  /** The prepared component of each entry. */
  comps: PreparedComponent[];
  fullCovariance: boolean;
  /** COMPONENT_INFO records, packed. */
  componentInfos: ArrayBuffer;
  statics: Float32Array;
  /** Offsets into statics of the score-error parameters and the samplers' coefficients. */
  errorOffset: number;
  samplerOffset: number;
  /**
   * Multi-condition guidance: the number of extra groups (their entries come last), and the
   * offsets into statics of their data means (extra x dim) and their coefficients per step-table
   * row (rows x extra, GuidancePlan.extraGroups order).
   */
  extraGroups: number;
  extraMeanOffset: number;
  extraGammaOffset: number;
  /** The factor table for a list of rows (one dispatch's window). */
  factorsFor(rows: readonly StepRow[]): Float32Array;
}

export function mixtureTable(
  model: MixtureModel,
  guidance: GuidancePlan,
  scoreError: PreparedScoreError,
  table: StepTable,
  dim: number,
): MixtureTable {
  const walked = componentEntries(guidance, scoreError);
  const comps = walked.list.map((e) => model.components[e.component]);
  const fullCovariance = comps.some((c) => c.kind === 'gaussian' && c.basis !== null);
  const infos = walked.list.map((e, k) => ({
    kind: componentKind(comps[k]),
    mask: e.mask,
    logWeightTarget: e.logWeightTarget,
    logWeightNegative: e.logWeightNegative,
  }));
  const { statics, errorOffset, samplerOffset, extraMeanOffset, extraGammaOffset } = buildStatics(
    model,
    guidance,
    scoreError,
    table,
    comps,
    dim,
  );
  return {
    extraGroups: guidance.extraGroups.length,
    extraMeanOffset,
    extraGammaOffset,
    entries: walked.list,
    targetCount: walked.targetCount,
    negativeFromTargetShift: walked.negativeFromTargetShift,
    comps,
    fullCovariance,
    componentInfos: packStructs(COMPONENT_INFO, infos),
    statics,
    errorOffset,
    samplerOffset,
    factorsFor: (rows) => buildFactors(rows, comps, walked.list, scoreError.blur2, dim),
  };
}

/**
 * statics: [target data mean, negative data mean, eigenbases per entry (if any full), score-error
 * parameters, sampler coefficients, extra groups' data means, extra groups' coefficients per row].
 */
function buildStatics(
  model: MixtureModel,
  guidance: GuidancePlan,
  scoreError: PreparedScoreError,
  table: StepTable,
  comps: readonly PreparedComponent[],
  dim: number,
): {
  statics: Float32Array;
  errorOffset: number;
  samplerOffset: number;
  extraMeanOffset: number;
  extraGammaOffset: number;
} {
  const fullCovariance = comps.some((c) => c.kind === 'gaussian' && c.basis !== null);
  const basesOffset = 2 * dim;
  const errorOffset = basesOffset + (fullCovariance ? comps.length * dim * dim : 0);
  const field = scoreError.field;
  const errorFloats = scoreError.bias ? dim : field ? field.features * (2 * dim + 1) : 0;
  // The k-diffusion samplers' per-step coefficients after everything else (src/solvers/samplers.ts).
  const samplerOffset = errorOffset + errorFloats;
  const extra = guidance.extraGroups;
  const extraMeanOffset = samplerOffset + (table.sampler?.coefs.length ?? 0);
  const extraGammaOffset = extraMeanOffset + extra.length * dim;
  const statics = new Float32Array(extraGammaOffset + table.rows.length * extra.length);
  if (table.sampler) statics.set(table.sampler.coefs, samplerOffset);
  extra.forEach((g, k) => {
    statics.set(groupDataMean(model, g), extraMeanOffset + k * dim);
  });
  if (extra.length > 0) {
    table.rows.forEach((row, r) => {
      if (row.extraGammas?.length !== extra.length)
        throw new Error(`step row ${r}: expected ${extra.length} extra gammas`);
      statics.set(row.extraGammas, extraGammaOffset + r * extra.length);
    });
  }
  statics.set(groupDataMean(model, guidance.target), 0);
  if (guidance.negative) statics.set(groupDataMean(model, guidance.negative), dim);
  if (fullCovariance) {
    comps.forEach((c, k) => {
      if (c.kind === 'gaussian' && c.basis) statics.set(c.basis, basesOffset + k * dim * dim);
    });
  }
  if (scoreError.bias) statics.set(scoreError.bias, errorOffset);
  if (field) {
    for (let f = 0; f < field.features; f++) {
      const o = errorOffset + f * (2 * dim + 1);
      statics.set(field.omega.subarray(f * dim, (f + 1) * dim), o);
      statics.set(field.direction.subarray(f * dim, (f + 1) * dim), o + dim);
      statics[o + 2 * dim] = field.phase[f];
    }
  }
  return { statics, errorOffset, samplerOffset, extraMeanOffset, extraGammaOffset };
}

/**
 * The per-(row, component entry) factor table of the step kernel for `rows`, in f32:
 *   gaussian: [logNorm, 1/sigma, invVar[dim], shift[dim]], uniform: [logNorm, 1/sigma, shift[dim], shift2[dim]].
 */
export function buildFactors(
  rows: readonly StepRow[],
  comps: readonly PreparedComponent[],
  entries: readonly ComponentEntry[],
  blur2: number,
  dim: number,
): Float32Array {
  const stride = factorStride(dim);
  const w = new Float32Array(rows.length * comps.length * stride);
  const scratch = makeComponentAtTime(dim);
  rows.forEach((row, r) => {
    comps.forEach((c, k) => {
      // A blurred score error sees the data convolved with N(0, delta^2): sigma^2 + alpha^2 delta^2.
      const sigma2 = row.sigma2 + (entries[k].blurred ? row.alpha * row.alpha * blur2 : 0);
      componentAtTime(c, row.alpha, sigma2, scratch);
      const o = (r * comps.length + k) * stride;
      w[o] = scratch.logNorm;
      w[o + 1] = 1 / Math.sqrt(sigma2);
      if (c.kind === 'gaussian') {
        w.set(scratch.invVar, o + 2);
        w.set(scratch.shift, o + 2 + dim);
      } else {
        w.set(scratch.shift, o + 2);
        w.set(scratch.shift2, o + 2 + dim);
      }
    });
  });
  return w;
}

export interface ComponentEntry {
  component: number;
  /** Evaluated with the blurred score error's wider law. */
  blurred: boolean;
  mask: number;
  logWeightTarget: number;
  logWeightNegative: number;
}

/**
 * The component entries the kernel walks, target first. An entry serves both groups when
 * both see it the same way; when the negative holds the whole target at a fixed log-weight
 * shift, the negative's copies are not walked at all (the kernel reuses the target's sums).
 */
function componentEntries(
  guidance: GuidancePlan,
  scoreError: PreparedScoreError,
): { list: ComponentEntry[]; targetCount: number; negativeFromTargetShift: number | null } {
  const blurTarget = scoreError.blur2 > 0 && scoreError.appliesToTarget;
  const blurNegative = scoreError.blur2 > 0 && scoreError.appliesToNegative;
  const sameView = blurTarget === blurNegative;
  const targetLog = new Map(guidance.target.entries.map((e) => [e.component, e.logWeight]));
  const negativeLog = new Map((guidance.negative?.entries ?? []).map((e) => [e.component, e.logWeight]));
  const shift = sameView ? sharedShift(targetLog, negativeLog) : null;
  const list: ComponentEntry[] = [];
  for (const [k, lw] of targetLog) {
    const both = negativeLog.has(k) && sameView && shift === null;
    list.push({
      component: k,
      blurred: blurTarget,
      mask: both ? GROUP_MASK.target | GROUP_MASK.negative : GROUP_MASK.target,
      logWeightTarget: lw,
      logWeightNegative: negativeLog.get(k) ?? 0,
    });
  }
  const targetCount = list.length;
  for (const [k, lw] of negativeLog) {
    if (targetLog.has(k) && sameView) continue; // served by the target's entry or its shared sums
    list.push({
      component: k,
      blurred: blurNegative,
      mask: GROUP_MASK.negative,
      logWeightTarget: 0,
      logWeightNegative: lw,
    });
  }
  // Multi-condition guidance: each extra group walks its own entries (exact scores, no blur).
  guidance.extraGroups.forEach((group, g) => {
    for (const e of group.entries) {
      list.push({
        component: e.component,
        blurred: false,
        mask: GROUP_MASK.extra | (g << EXTRA_GROUP_SHIFT),
        logWeightTarget: e.logWeight,
        logWeightNegative: 0,
      });
    }
  });
  return { list, targetCount, negativeFromTargetShift: shift };
}

/**
 * If the negative group holds every target component at the target's log-weight plus one
 * common shift (log p(c) for the unconditional law), that shift; else null.
 */
function sharedShift(target: Map<number, number>, negative: Map<number, number>): number | null {
  if (negative.size === 0) return null;
  let shift: number | null = null;
  for (const [k, lw] of target) {
    const ln = negative.get(k);
    if (ln === undefined) return null;
    const d = ln - lw;
    if (shift === null) shift = d;
    else if (Math.abs(d - shift) > 1e-12 * Math.max(1, Math.abs(shift))) return null;
  }
  return shift;
}
