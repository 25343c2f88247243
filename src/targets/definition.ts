// Exact target laws for the large-N checks: the conditional p(x|c), the unconditional p(x), and
// the tilted density p(x|c)^(1+w) p_neg(x)^(-w) / Z, all at the sampler's end time tMin (what
// the particles are: SPEC.md). Three ways in, each with its accuracy stated:
//
// - 1-D projections u.x of the conditional and unconditional laws are closed form in any d
//   (src/targets/law1d.ts: a Gaussian's projection is Gaussian; a box's along an axis is a
//   uniform plus a normal): CDF to f64 rounding (cdfError 1e-15).
// - The tilted density has no closed form: in 1-D (and along the axes of 2-D) it is
//   integrated on a grid; normaliser, CDF and moments by trapezoid/Simpson with cdfError the
//   difference against the half-resolution grid plus the linear-interpolation error
//   (h^2/8 max |f'|) plus the mass outside the grid.
// - 2-D cell masses (histograms, HDR levels, expectations of anything) by midpoint quadrature
//   on S x S sub-points per cell; massError = the largest cell difference against S/2.
//   In d > 2 those come from exact samples of the target instead (Monte Carlo with its own
//   DKW error, conditional and unconditional only).
import type { ExperimentSpec, GuidanceSpec } from '../experiment/types.ts';
import { MixtureEvaluator, type Group, type MixtureModel } from '../model/mixture.ts';

export type TargetKind = 'conditional' | 'unconditional' | 'tilted';
export const TARGET_KINDS: readonly TargetKind[] = ['conditional', 'unconditional', 'tilted'];

/**
 * A target's (unnormalised) log-density at tMin: coefA log p_A(x) + coefB log p_B(x), with
 * p_A the target class (or p(x)) and p_B the guidance's negative; minus logZ normalises it.
 */
export interface TargetDef {
  kind: TargetKind;
  spec: ExperimentSpec;
  model: MixtureModel;
  dim: number;
  alpha: number;
  sigma2: number;
  groupA: Group;
  coefA: number;
  groupB: Group | null;
  coefB: number;
  /** The guidance weight of the tilt (0 for conditional / unconditional). */
  w: number;
  /** log of the normaliser of the tilted density (0 for the others: they are normalised). */
  logZ: number;
  /** Absolute accuracy of logZ's quadrature (relative accuracy of the normalised density). */
  logZError: number;
}

/**
 * The w of the tilted target for a guidance spec: cfg's w (constant; an interval schedule's
 * w; a piecewise schedule's value at its last point, the small-t end); classifier guidance at w
 * is cfg at w - 1 against p(x); none is w = 0.
 */
export function tiltWeight(g: GuidanceSpec): number {
  // cfgpp stores w = 0 (its strength is lambda); targetDef refuses its tilted target.
  if (g.kind === 'none') return 0;
  const s = g.w;
  const w = s.kind === 'constant' || s.kind === 'interval' ? s.w : s.points[0][1];
  return g.kind === 'classifier' ? w - 1 : w;
}

/** Evaluates a target's normalised log-density (and its class responsibilities) at points. */
export class TargetEvaluator {
  readonly def: TargetDef;
  private readonly ev: MixtureEvaluator;
  constructor(def: TargetDef) {
    this.def = def;
    this.ev = new MixtureEvaluator(def.model);
    this.ev.setTime(def.alpha, def.sigma2);
  }
  logDensity(x: ArrayLike<number>): number {
    this.ev.evaluateComponents(x);
    return this.current();
  }
  /** log-density at the point of the last call, plus responsibilities of groupA's entries into resp. */
  logDensityAndResponsibilities(x: ArrayLike<number>, resp: Float64Array): number {
    this.ev.evaluateComponents(x);
    const entries = this.def.groupA.entries;
    let max = -Infinity;
    for (let e = 0; e < entries.length; e++) {
      resp[e] = entries[e].logWeight + this.ev.componentLog[entries[e].component];
      max = Math.max(max, resp[e]);
    }
    let sum = 0;
    for (let e = 0; e < entries.length; e++) {
      resp[e] = Math.exp(resp[e] - max);
      sum += resp[e];
    }
    for (let e = 0; e < entries.length; e++) resp[e] /= sum;
    return this.current();
  }
  private current(): number {
    const d = this.def;
    let l = d.coefA * this.ev.groupLogDensity(d.groupA);
    if (d.groupB && d.coefB !== 0) l += d.coefB * this.ev.groupLogDensity(d.groupB);
    return l - d.logZ;
  }
}
