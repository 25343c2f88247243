// The per-step constant table: everything that does not depend on the particle,
// computed once on the host in f64, one row per (step, stage). The CPU reference
// reads it in f64, the GPU kernels read the same rows in f32.
//
// Velocity of the probability-flow ODE, with s the guided score:
//   u = (log alpha)' (x + sigma^2 s) - sigma sigma' s         (alpha > 0)
// which is dx/dt = f - g^2 s / 2 rearranged; at alpha = 0 (flow at t = 1), where
// (log alpha)' is infinite, x + sigma^2 s = alpha D(x) and u = alpha' D + (sigma'/sigma) x
// with D the guided posterior mean of x_0, which at alpha = 0 is the guided data mean.
// Both cases are u = cx x + cs s + cMean meanGuided; Euler-Maruyama's drift is
// f - g^2 s = (log alpha)' x - g^2 s in the same form.
//
// The cfgpp guidance variant (CFG++) is not an ODE: its one-stage euler rows hold the
// coefficients of the discrete DDIM update instead (cfgppCoefficients), so that x += h u is
// exactly that update; its gammas do not sum to 1.
import type { ExperimentSpec } from '../spec/types.ts';
import { cfgppCoefficients } from '../guidance/variants.ts';
import { processAt, startTime } from '../processes/process.ts';
import type { GuidancePlan } from '../guidance/guidance.ts';
import { timeGrid } from './grid.ts';
import { TABLEAUS } from './tableau.ts';

/** One row's fields, in the order the GPU struct declares them (src/gpu/layout.ts derives it from this). */
export const STEP_ROW_FIELDS = [
  't',
  'alpha',
  'sigma2',
  'cx',
  'cs',
  'cMean',
  'gammaTarget',
  'gammaNegative',
  'h',
  'noiseScale',
] as const;

export type StepRowField = (typeof STEP_ROW_FIELDS)[number];
export type StepRow = Record<StepRowField, number>;

export interface StepTable {
  steps: number;
  stages: number;
  /** Time grid t_0 > ... > t_steps. */
  times: Float64Array;
  /** rows[n * stages + i] for step n, stage i. */
  rows: StepRow[];
}

export function buildStepTable(spec: ExperimentSpec, guidance: GuidancePlan): StepTable {
  const { solver, process } = spec;
  const tableau = TABLEAUS[solver.kind];
  const times = timeGrid(solver.grid, startTime(process), solver.tMin, solver.steps);
  const g = spec.guidance;
  const cfgpp = g.kind === 'cfg' && g.variant.kind === 'cfgpp' ? g.variant : null;
  if (cfgpp && solver.kind !== 'euler') throw new Error(`cfgpp is a discrete DDIM rule: euler only, got ${solver.kind}`);
  const rows: StepRow[] = [];
  for (let n = 0; n < solver.steps; n++) {
    const h = times[n + 1] - times[n]; // negative: time runs backwards
    if (cfgpp) {
      const p = processAt(process, times[n]);
      const c = cfgppCoefficients(p, processAt(process, times[n + 1]), h, cfgpp.lambda);
      rows.push({ t: times[n], alpha: p.alpha, sigma2: p.sigma2, ...c, h, noiseScale: 0 });
      continue;
    }
    for (const ci of tableau.c) {
      const t = ci === 1 ? times[n + 1] : times[n] + ci * h;
      const p = processAt(process, t);
      const [gammaTarget, gammaNegative] = guidance.coefficients(t);
      let cx: number, cs: number, cMean: number;
      if (tableau.stochastic) {
        cx = p.dLogAlpha;
        cs = -p.g2;
        cMean = 0;
      } else if (p.alpha > 0) {
        cx = p.dLogAlpha;
        cs = p.dLogAlpha * p.sigma2 - p.sigmaDSigma;
        cMean = 0;
      } else {
        cx = p.sigmaDSigma / p.sigma2;
        cs = 0;
        cMean = p.dAlpha;
      }
      const noiseScale = tableau.stochastic ? Math.sqrt(p.g2 * -h) : 0;
      rows.push({ t, alpha: p.alpha, sigma2: p.sigma2, cx, cs, cMean, gammaTarget, gammaNegative, h, noiseScale });
    }
  }
  return { steps: solver.steps, stages: tableau.c.length, times, rows };
}
