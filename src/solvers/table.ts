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
import type { ExperimentSpec } from '../experiment/types.ts';
import { cfgppCoefficients } from '../guidance/variants.ts';
import { processAt, startTime, type ProcessCoefficients } from '../processes/process.ts';
import { guidedStep, unguidedCoefficients, type GuidancePlan } from '../guidance/guidance.ts';
import { timeGrid } from './grid.ts';
import { TABLEAUS } from './tableau.ts';
import { buildSamplerTable, type SamplerTable } from './samplers.ts';

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
  'backShrink',
  'backHalfPrecision',
] as const;

export type StepRowField = (typeof STEP_ROW_FIELDS)[number];
export type StepRow = Record<StepRowField, number> & {
  /**
   * Multi-condition guidance (guidance.terms): the extra groups' coefficients at this row, in
   * GuidancePlan.extraGroups order; absent without terms. The GPU reads them from its statics.
   */
  extraGammas?: readonly number[];
};

export interface StepTable {
  steps: number;
  stages: number;
  /** Time grid t_0 > ... > t_steps (increasing on a reversed table). */
  times: Float64Array;
  /** rows[n * stages + i] for step n, stage i. */
  rows: StepRow[];
  /**
   * The row at t_steps = tMin (h = 0): the Feynman-Kac corrector evaluates the tilted law's
   * log-density there after the last step.
   */
  terminal: StepRow;
  /** The k-diffusion samplers' per-step coefficients (src/solvers/samplers.ts); absent for tableau solvers. */
  sampler?: SamplerTable;
}

/**
 * The forward process's transition from t_{n+1} back up to t_n > t_{n+1},
 *   x_{t_n} | x_{t_{n+1}} ~ N(a x_{t_{n+1}}, v I),  a = alpha_n / alpha_{n+1},
 *   v = sigma_n^2 - a^2 sigma_{n+1}^2,
 * is the backward kernel of the corrector's discrete-time weights (src/corrector/).
 * Returned as 1 - a (without cancellation) and 1 / (2 v).
 */
function backwardKernel(
  process: ExperimentSpec['process'],
  tFrom: number,
  tTo: number,
): { backShrink: number; backHalfPrecision: number } {
  const from = processAt(process, tFrom);
  const to = processAt(process, tTo);
  const logRatio = Math.log(from.alpha) - Math.log(to.alpha);
  const a = Math.exp(logRatio);
  const v = from.sigma2 - a * a * to.sigma2;
  return { backShrink: -Math.expm1(logRatio), backHalfPrecision: 1 / (2 * v) };
}

export interface StepTableOptions {
  /**
   * The reversed grid: tMin -> start time through the same time points in reverse, h > 0, so
   * that a point at tMin is carried forward through the same velocity field (the log-density
   * path's forward run, src/backend/log-density.ts). ODE solvers only.
   */
  reverse?: boolean;
}

export function buildStepTable(spec: ExperimentSpec, guidance: GuidancePlan, opts: StepTableOptions = {}): StepTable {
  const { solver, process } = spec;
  const tableau = TABLEAUS[solver.kind];
  let times = timeGrid(solver.grid, startTime(process), solver.tMin, solver.steps);
  if (opts.reverse) {
    if (tableau.stochastic) throw new Error('solver.kind: a reversed step table needs an ODE solver, got em');
    times = times.slice().reverse();
  }
  const g = spec.guidance;
  const cfgpp = g.kind === 'cfg' && g.variant.kind === 'cfgpp' ? g.variant : null;
  if (cfgpp && opts.reverse) throw new Error('guidance.variant: cfgpp is a discrete rule and has no reversed table');
  if (cfgpp && solver.kind !== 'euler')
    throw new Error(`cfgpp is a discrete DDIM rule: euler only, got ${solver.kind}`);
  const zeroInitSteps = g.kind === 'cfg' && g.variant.kind === 'cfgzero' ? g.variant.zeroInitSteps : 0;
  if (zeroInitSteps > 0 && opts.reverse)
    throw new Error('guidance.variant.zeroInitSteps: zero-init steps have no reversed table');
  // guidance.start / stop: every stage of an unguided step has w = 0 (src/guidance/guidance.ts).
  const off = unguidedCoefficients(g);
  const gammasAt = (t: number, n: number): [number, number] => {
    const step = opts.reverse ? solver.steps - 1 - n : n;
    return guidedStep(g, step, solver.steps) ? guidance.coefficients(t) : [off[0], off[1]];
  };
  // Multi-condition guidance: the extra groups' coefficients, switched off with the window too.
  const extraCount = guidance.extraGroups.length;
  const extrasAt = (t: number, n: number): { extraGammas?: readonly number[] } => {
    if (extraCount === 0) return {};
    const step = opts.reverse ? solver.steps - 1 - n : n;
    return {
      extraGammas: guidedStep(g, step, solver.steps)
        ? guidance.extraCoefficients(t)
        : new Array<number>(extraCount).fill(0),
    };
  };
  const noNoise = { noiseScale: 0, backShrink: 0, backHalfPrecision: 0 };
  // One stage of step n at time t: the drift's coefficients and noise, with the guidance weights of step n.
  const stageRow = (
    t: number,
    n: number,
    p: ProcessCoefficients,
    cx: number,
    cs: number,
    cMean: number,
    h: number,
    noise: typeof noNoise,
  ): StepRow => {
    const [gammaTarget, gammaNegative] = gammasAt(t, n);
    return {
      t,
      alpha: p.alpha,
      sigma2: p.sigma2,
      cx,
      cs,
      cMean,
      gammaTarget,
      gammaNegative,
      h,
      ...noise,
      ...extrasAt(t, n),
    };
  };
  const rows: StepRow[] = [];
  let sampler: SamplerTable | undefined;
  if (tableau.denoised) {
    if (opts.reverse)
      throw new Error(`solver.kind: a reversed step table needs euler, heun or rk4, got ${solver.kind}`);
    // The stages evaluate the guided denoiser D = (x + sigma^2 s) / alpha (the guided data mean
    // at alpha = 0) at the sampler's stage times: the same cx x + cs s + cMean m form.
    sampler = buildSamplerTable(solver, process, times);
    const stages = tableau.c.length;
    for (let n = 0; n < solver.steps; n++) {
      for (let i = 0; i < stages; i++) {
        const t = sampler.stageTimes[n * stages + i];
        const p = processAt(process, t);
        const cx = p.alpha > 0 ? 1 / p.alpha : 0;
        const cs = p.alpha > 0 ? p.sigma2 / p.alpha : 0;
        const cMean = p.alpha > 0 ? 0 : 1;
        rows.push(stageRow(t, n, p, cx, cs, cMean, times[n + 1] - times[n], noNoise));
      }
    }
  }
  for (let n = 0; n < (sampler ? 0 : solver.steps); n++) {
    const h = times[n + 1] - times[n]; // negative: time runs backwards (positive on a reversed table)
    if (cfgpp) {
      const p = processAt(process, times[n]);
      const c = cfgppCoefficients(p, processAt(process, times[n + 1]), h, cfgpp.lambda);
      rows.push({
        t: times[n],
        alpha: p.alpha,
        sigma2: p.sigma2,
        ...c,
        h,
        noiseScale: 0,
        backShrink: 0,
        backHalfPrecision: 0,
      });
      continue;
    }
    for (const ci of tableau.c) {
      const t = ci === 1 ? times[n + 1] : times[n] + ci * h;
      const p = processAt(process, t);
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
      // CFG-Zero*'s zero-init: the first steps leave x where it is (no drift, no noise).
      if (n < zeroInitSteps) [cx, cs, cMean] = [0, 0, 0];
      const noiseScale = tableau.stochastic && n >= zeroInitSteps ? Math.sqrt(p.g2 * -h) : 0;
      const back = tableau.stochastic
        ? backwardKernel(process, times[n], times[n + 1])
        : { backShrink: 0, backHalfPrecision: 0 };
      rows.push(stageRow(t, n, p, cx, cs, cMean, h, { noiseScale, ...back }));
    }
  }
  const tEnd = times[solver.steps];
  const pEnd = processAt(process, tEnd);
  // (cfgpp's coefficients are per step; the terminal row only serves the fk corrector.)
  const [gammaTarget, gammaNegative] = cfgpp ? [0, 0] : guidance.coefficients(tEnd);
  const terminal: StepRow = {
    t: tEnd,
    alpha: pEnd.alpha,
    sigma2: pEnd.sigma2,
    cx: tableau.stochastic ? pEnd.dLogAlpha : 0,
    cs: tableau.stochastic ? -pEnd.g2 : 0,
    cMean: 0,
    gammaTarget,
    gammaNegative,
    h: 0,
    noiseScale: 0,
    backShrink: 0,
    backHalfPrecision: 0,
  };
  return { steps: solver.steps, stages: tableau.c.length, times, rows, terminal, ...(sampler ? { sampler } : {}) };
}
