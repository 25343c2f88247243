// Exact coverage and fidelity of a spec on any LogDensityBackend (issue 13 items 3-4):
//   (i)  Q-set: `particles` sampler particles with log q (backward run), log p = log p_tMin(x | target);
//   (ii) P-set: `pSamples` exact target draws at tMin, stratified by component, carried forward
//        to the start time: log q(y) = log p_start(x_T) - l_N;
//   (iii) KL(Q||P), KL(P||Q) (+ tail diagnostic), KL(Q||tilted), the PRD curve and its summaries.
// Definitions and SEs: docs/coverage-fidelity.md.
import type { LogDensityBackend } from './log-density-backend.ts';
import { logStartDensity } from '../cpu/log-density.ts';
import { planGuidance } from '../guidance/guidance.ts';
import { MixtureEvaluator } from '../model/mixture.ts';
import { sampleGroupExact } from '../model/sample-exact.ts';
import { assertLogDensitySupported } from '../model/divergence.ts';
import { processAt } from '../processes/process.ts';
import type { ExperimentSpec } from '../spec/types.ts';
import { klPQ, klQP, klTilted, prCurve, type Estimate, type PrCurve, type TailDiagnostic } from '../metrics/coverage-fidelity.ts';

export interface ExactCoverageFidelity {
  klQP: Estimate;
  klPQ: Estimate;
  klTilted: Estimate;
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

/** log p_tMin(x | target) and the unnormalised tilted log-density gT log p_T + gN log p_N at tMin. */
function targetAndTilt(spec: ExperimentSpec, x: Float64Array, count: number): { logp: Float64Array; tilt: Float64Array } {
  const g = planGuidance(spec);
  const p = processAt(spec.process, spec.solver.tMin);
  const [gT, gN] = g.coefficients(spec.solver.tMin);
  const ev = new MixtureEvaluator(g.model);
  ev.setTime(p.alpha, p.sigma2);
  const d = spec.dim;
  const logp = new Float64Array(count);
  const tilt = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    ev.evaluateComponents(x.subarray(i * d, (i + 1) * d));
    logp[i] = ev.groupLogDensity(g.target);
    tilt[i] = gT * logp[i] + (g.negative && gN !== 0 ? gN * ev.groupLogDensity(g.negative) : 0);
  }
  return { logp, tilt };
}

/** log p_tMin(x | target) of count points. */
export function targetLogDensityAtTMin(spec: ExperimentSpec, x: Float64Array, count: number): Float64Array {
  return targetAndTilt(spec, x, count).logp;
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
  const draw = sampleGroupExact(g.model, g.target, p.alpha, p.sigma2, { seed: spec.seed, first: 0, count: pSamples, stratified: { population: pSamples } });
  const f = await backend.carry(spec, { direction: 'forward', initial: draw.x, first: 0, count: pSamples });
  const start = logStartDensity(spec, f.x, pSamples);
  const pLogq = start.map((s, i) => s - f.logq[i]);
  const pt = targetAndTilt(spec, draw.x, pSamples);

  const qp = klQP(q.logq, qt.logp);
  const pq = klPQ(pt.logp, pLogq, draw.weight, draw.entry);
  const curve = prCurve({ logq: q.logq, logp: qt.logp }, { logq: pLogq, logp: pt.logp, weight: draw.weight });
  return {
    klQP: { value: qp.value, se: qp.se },
    klPQ: { value: pq.value, se: pq.se },
    klTilted: klTilted(q.logq, qt.tilt),
    recall: curve.recallSummary,
    precision: curve.precisionSummary,
    prCurve: curve,
    tail: pq.tail,
    nonFinite: { q: qp.nonFinite, p: pq.nonFinite },
    particles,
    pSamples,
  };
}
