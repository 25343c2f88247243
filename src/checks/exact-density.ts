// Exact coverage and fidelity of a spec on any LogDensityBackend (issue 13 items 3-4):
//   (i)  Q-set: `particles` sampler particles with log q (backward run), log p = log p_tMin(x | target);
//   (ii) P-set: `pSamples` exact target draws at tMin, stratified by component, carried forward
//        to the start time: log q(y) = log p_start(x_T) - l_N;
//   (iii) KL(Q||P), KL(P||Q) (+ tail diagnostic), KL(Q||tilted), the PRD curve and its summaries.
// Definitions and SEs: docs/coverage-fidelity.md.
import type { LogDensityBackend } from '../backend/log-density.ts';
import { logStartDensity } from '../cpu/log-density.ts';
import { planGuidance } from '../guidance/guidance.ts';
import { MixtureEvaluator } from '../model/mixture.ts';
import { sampleGroupExact } from '../model/sample-exact.ts';
import { assertLogDensitySupported } from '../model/divergence.ts';
import { processAt } from '../processes/process.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import {
  klPQ,
  klQP,
  klTilted,
  prCurve,
  type Estimate,
  type PrCurve,
  type TailDiagnostic,
  type TiltNormaliser,
} from '../metrics/coverage-fidelity.ts';
import { type TargetDef } from '../targets/definition.ts';
import { targetDef } from '../targets/from-spec.ts';
import { tiltedNormaliser } from '../targets/grid.ts';

export interface ExactCoverageFidelity {
  klQP: Estimate;
  klPQ: Estimate;
  klTilted: Estimate;
  /** How Z of the tilted law was found (quadrature in d <= 2, else importance sampling from Q) and its error. */
  tiltZ: TiltNormaliser;
  /** PRD summaries: recall = max F_8, precision = max F_1/8 over the curve. */
  recall: number;
  precision: number;
  prCurve: PrCurve;
  tail: TailDiagnostic;
  /** Non-finite particles (x or log q) in the Q-set and the P-set: counted, excluded from the means. */
  nonFinite: { q: number; p: number };
  particles: number;
  pSamples: number;
}

/**
 * log p_tMin(x | target) and the unnormalised tilted log-density gT log p_T + gN log p_N at tMin
 * (+ sum_g c_g log p_g over multi-condition guidance's extra groups).
 */
function targetAndTilt(
  spec: ExperimentSpec,
  x: Float64Array,
  count: number,
): { logp: Float64Array; tilt: Float64Array } {
  const g = planGuidance(spec);
  const p = processAt(spec.process, spec.solver.tMin);
  const [gT, gN] = g.coefficients(spec.solver.tMin);
  const extra = g.extraCoefficients(spec.solver.tMin);
  const ev = new MixtureEvaluator(g.model);
  ev.setTime(p.alpha, p.sigma2);
  const d = spec.dim;
  const logp = new Float64Array(count);
  const tilt = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    ev.evaluateComponents(x.subarray(i * d, (i + 1) * d));
    logp[i] = ev.groupLogDensity(g.target);
    tilt[i] = gT * logp[i] + (g.negative && gN !== 0 ? gN * ev.groupLogDensity(g.negative) : 0);
    extra.forEach((c, k) => {
      if (c !== 0) tilt[i] += c * ev.groupLogDensity(g.extraGroups[k]);
    });
  }
  return { logp, tilt };
}

/**
 * log Z of the tilt gT log p_T + gN log p_N at tMin (the same unnormalised density as targetAndTilt)
 * by quadrature, d <= 2 (tiltedNormaliser: midpoint rule over the tilt's effective support, error
 * the half-resolution difference). null above d = 2; a tilt that does not decay on the grid's box
 * gives null with the reason, and importance sampling is used instead.
 */
export function tiltLogZQuadrature(spec: ExperimentSpec): { logZ: number; error: number } | { unavailable: string } {
  if (spec.dim > 2) return { unavailable: `dim ${spec.dim} > 2` };
  const g = planGuidance(spec);
  if (g.extraGroups.length > 0) return { unavailable: 'multi-condition guidance: the tilt has more than two groups' };
  const [gT, gN] = g.coefficients(spec.solver.tMin);
  const base = targetDef(spec, 'conditional');
  const negative = g.negative && gN !== 0 ? g.negative : null;
  // w = gT - 1 sizes targetBox's search for mass moved away from both classes.
  const def: TargetDef = {
    ...base,
    groupA: g.target,
    coefA: gT,
    groupB: negative,
    coefB: negative ? gN : 0,
    w: gT - 1,
  };
  if (negative === null && gT === 1) return { logZ: 0, error: 0 }; // the normalised target itself
  try {
    const { logZ, logZError } = tiltedNormaliser(def);
    return { logZ, error: logZError };
  } catch (e) {
    return { unavailable: (e as Error).message };
  }
}

/** The unnormalised tilted log-density gT log p_T + gN log p_N at tMin of count points. */
export function tiltUnnormalised(spec: ExperimentSpec, x: Float64Array, count: number): Float64Array {
  return targetAndTilt(spec, x, count).tilt;
}

/** log p_tMin(x | target) of count points. */
export function targetLogDensityAtTMin(spec: ExperimentSpec, x: Float64Array, count: number): Float64Array {
  return targetAndTilt(spec, x, count).logp;
}

/** KL(Q || tilted law) and how its normaliser was found; none for a learned negative (no exact tilted law). */
function tiltedKl(
  spec: ExperimentSpec,
  logq: Float64Array,
  tilt: Float64Array,
): { tiltZ: TiltNormaliser; kt: { value: number; se: number } } {
  const g = spec.guidance;
  if (g.kind === 'cfg' && g.negative.kind === 'learned') {
    const note = "a learned negative's law is the model, not an exact mixture: no tilted target";
    return {
      tiltZ: { method: 'none', logZ: Number.NaN, error: Number.NaN, note },
      kt: { value: Number.NaN, se: Number.NaN },
    };
  }
  const quad = tiltLogZQuadrature(spec);
  const kt = klTilted(logq, tilt, 'logZ' in quad ? quad.logZ : undefined);
  const tiltZ: TiltNormaliser =
    'logZ' in quad
      ? { method: 'quadrature', logZ: quad.logZ, error: quad.error }
      : { method: 'importance sampling', logZ: kt.logZ, error: kt.logZSe, note: `no quadrature: ${quad.unavailable}` };
  return { tiltZ, kt };
}

export async function exactCoverageFidelity(
  spec: ExperimentSpec,
  backend: LogDensityBackend,
  opts: { particles: number; pSamples: number },
): Promise<ExactCoverageFidelity> {
  assertLogDensitySupported(spec);
  const { particles, pSamples } = opts;
  const q = await backend.carry(spec, { direction: 'backward', first: 0, count: particles });
  const qt = targetAndTilt(spec, q.x, particles);

  const g = planGuidance(spec);
  const p = processAt(spec.process, spec.solver.tMin);
  // Stratified by component where every stratum gets at least two draws (its variance is then
  // estimable); with fewer P-samples than that (many components), plain draws.
  const stratify = pSamples >= 2 * g.target.entries.length;
  const draw = sampleGroupExact(g.model, g.target, p.alpha, p.sigma2, {
    seed: spec.seed,
    first: 0,
    count: pSamples,
    ...(stratify ? { stratified: { population: pSamples } } : {}),
  });
  const f = await backend.carry(spec, { direction: 'forward', initial: draw.x, first: 0, count: pSamples });
  const start = logStartDensity(spec, f.x, pSamples);
  const pLogq = start.map((s, i) => s - f.logq[i]);
  const pt = targetAndTilt(spec, draw.x, pSamples);

  const qp = klQP(q.logq, qt.logp);
  const pq = klPQ(pt.logp, pLogq, draw.weight, stratify ? draw.entry : undefined);
  const { tiltZ, kt } = tiltedKl(spec, q.logq, qt.tilt);
  const curve = prCurve({ logq: q.logq, logp: qt.logp }, { logq: pLogq, logp: pt.logp, weight: draw.weight });
  return {
    klQP: { value: qp.value, se: qp.se },
    klPQ: { value: pq.value, se: pq.se },
    klTilted: { value: kt.value, se: kt.se },
    tiltZ,
    recall: curve.recallSummary,
    precision: curve.precisionSummary,
    prCurve: curve,
    tail: pq.tail,
    nonFinite: { q: qp.nonFinite, p: pq.nonFinite },
    particles,
    pSamples,
  };
}
