// The work model of the roofline: the useful operations one particle-step of a workload
// needs, whatever the kernel. Platform-agnostic (a spec in, counts out).
//
// "Useful" means what the mathematics needs per particle, in its cheapest plain form, with
// everything that does not depend on the particle precomputed per step (as the host's step
// table and component factors already are). Counted:
//   - FLOP: an add, subtract, multiply, compare/max or divide is 1; a fused multiply-add is 2.
//   - exp:  one per (component, stage): with one shift M for all components (their max),
//           u_c = exp(logp_c - M) serves every group the component is in, each weighting it by
//           its own constant weight (the "one exp per component"). Counted apart from
//           FLOPs and priced by the adapter's measured exp throughput (bench/peak.ts), i.e. one
//           exp = (measured FLOP/s) / (measured exp/s) FLOP-equivalents.
// Not counted: rescaling of an online (one-pass) log-sum-exp, loop and index arithmetic, loads
// and stores, per-particle recomputation of per-step constants (e.g. 1/sigma), the initial
// noise (once per particle, not per step).
//
// Per stage (velocity evaluation), with d = dim:
//   Gaussian, diagonal covariance (per component):  r = x - mu (d), q = r / v (d, a multiply by
//       the tabled 1/v), sum r q (2d, fma), logNorm - sum/2 (2), max (1), logp - M (1),
//       exp (1 exp)                                                                = 4d + 4, 1 exp
//   Gaussian, full covariance (per component):  r (d), y = U^T r (2d^2), q (d), sum y q (2d),
//       logNorm - sum/2 (2), score = U (-q) (2d^2), max (1), logp - M (1)          = 4d^2 + 4d + 4, 1 exp
//   group entry (per component of each group): p = w u_c (1), sum += p (1),
//       acc += p * score (2d)                                                      = 2d + 2
//   per group: gamma / sum (1)
//   combine: s = gt acc_t + gn acc_n (3d), u = cx x + cs s + c (4d; c = cMean * mean is per
//       step)                                                                      = 7d
// Per step: stage inputs x + h sum_l a_il k_l (2 d per nonzero a_il, h a_il tabled) and the
// update x + h sum_i b_i k_i (2 d per nonzero b_i).
// Boxes (uniform components), SDE noise: not modelled (counts are null).
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { planGuidance } from '../src/guidance/guidance.ts';
import { TABLEAUS } from '../src/solvers/tableau.ts';

export interface WorkModel {
  /** FLOPs per particle-step (see the header for what counts). */
  flopsPerParticleStep: number;
  /** exp evaluations per particle-step. */
  expsPerParticleStep: number;
  /** The structure the counts came from. */
  structure: {
    dim: number;
    stages: number;
    components: number;
    fullCovarianceComponents: number;
    targetEntries: number;
    negativeEntries: number;
  };
}

/** The work model of `spec`, or null where it has parts the model does not count (boxes, SDE). */
export function workModel(spec: ExperimentSpec): WorkModel | null {
  const g = planGuidance(spec);
  const tableau = TABLEAUS[spec.solver.kind];
  if (tableau.stochastic) return null;
  const d = spec.dim;
  const used = new Set<number>();
  for (const e of g.target.entries) used.add(e.component);
  for (const e of g.negative?.entries ?? []) used.add(e.component);
  let componentFlops = 0;
  let full = 0;
  for (const i of used) {
    const c = g.model.components[i];
    if (c.kind !== 'gaussian') return null;
    if (c.basis !== null) {
      full++;
      componentFlops += 4 * d * d + 4 * d + 4;
    } else {
      componentFlops += 4 * d + 4;
    }
  }
  const entries = g.target.entries.length + (g.negative?.entries.length ?? 0);
  const groups = g.negative ? 2 : 1;
  const combine = g.negative ? 7 * d : 5 * d; // without a negative group: s = gt acc_t (d)
  const perStage = componentFlops + entries * (2 * d + 2) + groups + combine;
  const stages = tableau.c.length;
  let stepFlops = 0;
  for (let i = 0; i < stages; i++) for (let l = 0; l < i; l++) if ((tableau.a[i][l] ?? 0) !== 0) stepFlops += 2 * d;
  for (const b of tableau.b) if (b !== 0) stepFlops += 2 * d;
  return {
    flopsPerParticleStep: stages * perStage + stepFlops,
    expsPerParticleStep: stages * used.size,
    structure: {
      dim: d,
      stages,
      components: used.size,
      fullCovarianceComponents: full,
      targetEntries: g.target.entries.length,
      negativeEntries: g.negative?.entries.length ?? 0,
    },
  };
}

export interface PeakRates {
  /** Measured FLOP/s (bench/peak.ts, fma kernel). */
  flops: number;
  /** Measured exp/s (bench/peak.ts, exp kernel). */
  exps: number;
}

export interface Roofline {
  /** Achieved useful GFLOP/s (exps not included). */
  gflops: number;
  /** Achieved Gexp/s. */
  gexps: number;
  /** Achieved FLOP/s over the FMA peak (exps not included). */
  fmaPeakFraction: number;
  /** Achieved exp/s over the exp peak. */
  expPeakFraction: number;
  /**
   * The headline fraction: exps priced at the measured exp cost (peak FLOP/s / peak exp/s FLOPs
   * each), so (FLOP + exp-equivalents) per second over the FMA peak, i.e. the time an ideal
   * kernel running every operation at its measured peak would need, over the time taken.
   */
  peakFraction: number;
  /** FLOPs + exps x (peak FLOP/s / peak exp/s), per particle-step. */
  flopEquivalentsPerParticleStep: number;
  /** The particle-steps per second at which peakFraction would be 1. */
  idealParticleStepsPerSecond: number;
}

export function roofline(model: WorkModel, particleStepsPerSecond: number, peak: PeakRates): Roofline {
  const expCost = peak.flops / peak.exps;
  const eq = model.flopsPerParticleStep + model.expsPerParticleStep * expCost;
  const r = particleStepsPerSecond;
  return {
    gflops: (r * model.flopsPerParticleStep) / 1e9,
    gexps: (r * model.expsPerParticleStep) / 1e9,
    fmaPeakFraction: (r * model.flopsPerParticleStep) / peak.flops,
    expPeakFraction: (r * model.expsPerParticleStep) / peak.exps,
    peakFraction: (r * eq) / peak.flops,
    flopEquivalentsPerParticleStep: eq,
    idealParticleStepsPerSecond: peak.flops / eq,
  };
}
