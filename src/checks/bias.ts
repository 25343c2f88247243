// The bias terms of the large-N checks: how far the sampler's law can be from the exact target
// even when the sampler is correct, because of finite steps, f32 arithmetic and the prior.
//
// Coupling argument. The sampler maps x_T ~ N(0, s^2 I) (the prior) through its numerical flow
// Phi_h; the exact flow Phi maps p_T (the target diffused to the start time) onto p_tMin. Write
// Phi_h(z) = Phi(z) + Delta(z). Then
//   - |Delta| <= D = solver shift + f32 shift, so every statistic of Phi_h(Z) is within a
//     shift of D of the same statistic of Phi(Z): a CDF moves by at most D sup f, a bin by
//     2 D sup f, a mean by D, a variance by 2 sd D + D^2;
//   - Phi is a bijection, so TV(Phi(Z), p_tMin) = TV(prior, p_T) = priorTv: any probability
//     moves by at most priorTv;
//   - moments are not bounded by TV: there W2(Phi(Z), p_tMin) <= L W2(prior, p_T), with L the
//     flow's Lipschitz constant (estimated on probes) and W2(prior, p_T) bounded by the
//     coupling x_T = alpha_T x_0 + sigma_T eps, z = s eps.
// The solver shift is Richardson's estimate |x_N - x_2N| 2^p / (2^p - 1) on probe starts: in
// 1-D a grid covering every start within 8 prior sd (the map is monotone and smooth, so the
// grid resolves its maximum); in d >= 2 the spec's first 512 particles, times a safety factor 2
// (an estimate, not a bound). The f32 shift is the largest GPU-vs-CPU (f64) difference over the
// first 1024 particles, times 2. Euler-Maruyama has no pathwise Richardson estimate: its weak
// error is not bounded here (solverShift 0, and the report says so).
import { CpuStepper } from '../cpu/reference.ts';
import { isStochasticSolver } from '../solvers/samplers.ts';
import type { GpuContext } from '../gpu/device.ts';
import { sampleWebGpu } from '../gpu/sampler.ts';
import { MixtureEvaluator } from '../model/mixture.ts';
import { priorScale, processAt, startTime } from '../processes/process.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { sampleTarget } from '../targets/sample.ts';
import { targetGrid, type Grid } from '../targets/grid.ts';
import { type TargetDef } from '../targets/definition.ts';

export interface BiasTerms {
  /** Largest particle displacement from finite steps (Richardson), 0 for em. */
  solverShift: number;
  solverShiftMethod: string;
  /** Largest GPU (f32) vs CPU (f64) displacement on the pilot particles, times 2 (0 on the CPU backend). */
  f32Shift: number;
  /** Total variation between the prior and the target at the start time. */
  priorTv: number;
  /** W2 bound between the prior and the target at the start time. */
  priorW2: number;
  /** Lipschitz constant of the numerical flow map (estimated on probes). */
  flowLipschitz: number;
  notes: string[];
}

// The k-diffusion samplers' deterministic settings (eta 0, S_churn 0): measured orders, docs/solvers.md.
const ORDER: Record<string, number> = {
  euler: 1,
  heun: 2,
  rk4: 4,
  'dpmpp-2m': 2,
  'heun-churn': 2,
  dpm2: 2,
  'euler-ancestral': 1,
  'dpmpp-2m-sde': 2,
  'dpmpp-3m-sde': 2,
  lms: 2,
};

function runStepper(stepper: CpuStepper, start: Float64Array, count: number): Float64Array {
  const x = start.slice();
  // (no momentum state, as before: the probes step without the apg variant's memory)
  stepper.advanceRange(0, count, x, undefined, null);
  return x;
}

/** Probe starts: a grid over 8 prior sd in 1-D, else the spec's first particles. */
function probeStarts(spec: ExperimentSpec, stepper: CpuStepper): { x: Float64Array; count: number; grid: boolean } {
  const s = priorScale(spec.process);
  if (spec.dim === 1) {
    const count = 401;
    return { x: Float64Array.from({ length: count }, (_, i) => s * (-8 + (16 * i) / (count - 1))), count, grid: true };
  }
  const count = Math.min(512, spec.particles);
  const x = new Float64Array(count * spec.dim);
  stepper.initParticles(0, count, x);
  return { x, count, grid: false };
}

/** Solver shift and the flow's Lipschitz constant, on the CPU (f64) reference. */
export function solverTerms(spec: ExperimentSpec): { shift: number; method: string; lipschitz: number } {
  const d = spec.dim;
  const coarse = new CpuStepper(spec);
  const probes = probeStarts(spec, coarse);
  const a = runStepper(coarse, probes.x, probes.count);
  // Lipschitz: 1-D from the grid's slopes; d >= 2 from perturbed probes (first 128), times 2.
  let lipschitz = 0;
  if (probes.grid) {
    for (let i = 1; i < probes.count; i++)
      lipschitz = Math.max(lipschitz, Math.abs(a[i] - a[i - 1]) / Math.abs(probes.x[i] - probes.x[i - 1]));
  } else {
    const m = Math.min(128, probes.count);
    const eps = 1e-4;
    const pert = probes.x.slice(0, m * d);
    for (let p = 0; p < m; p++) pert[p * d + (p % d)] += eps;
    const b = runStepper(coarse, pert, m);
    for (let p = 0; p < m; p++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (b[p * d + j] - a[p * d + j]) ** 2;
      lipschitz = Math.max(lipschitz, Math.sqrt(s) / eps);
    }
    lipschitz *= 2;
  }
  if (isStochasticSolver(spec.solver)) {
    return {
      shift: 0,
      method: `${spec.solver.kind}: weak discretisation error not bounded (solver shift 0)`,
      lipschitz: Math.max(1, lipschitz),
    };
  }
  const fine = new CpuStepper({ ...spec, solver: { ...spec.solver, steps: 2 * spec.solver.steps } });
  const b = runStepper(fine, probes.x, probes.count);
  let worst = 0;
  for (let p = 0; p < probes.count; p++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (a[p * d + j] - b[p * d + j]) ** 2;
    worst = Math.max(worst, Math.sqrt(s));
  }
  const order = ORDER[spec.solver.kind];
  const factor = (2 ** order / (2 ** order - 1)) * (probes.grid ? 1 : 2);
  return {
    shift: worst * factor,
    method: probes.grid
      ? `Richardson (N vs 2N steps, order ${order}) on a 401-point grid over 8 prior sd`
      : `Richardson (N vs 2N steps, order ${order}) on the first ${probes.count} particles, x2 (estimate)`,
    lipschitz,
  };
}

/** Largest |GPU - CPU| over the first `count` particles of the spec, times 2. */
export async function f32Shift(gpu: GpuContext, spec: ExperimentSpec, count = 1024): Promise<number> {
  const n = Math.min(count, spec.particles);
  const small = { ...spec, particles: n };
  const got = new Float32Array(n * spec.dim);
  let at = 0;
  await sampleWebGpu(gpu, small, {
    onChunk: (chunk, c) => {
      got.set(chunk.subarray(0, c * spec.dim), at);
      at += c * spec.dim;
    },
  });
  const stepper = new CpuStepper(small);
  const want = new Float64Array(n * spec.dim);
  stepper.sampleRange(0, n, want);
  let worst = 0;
  for (let p = 0; p < n; p++) {
    let s = 0;
    for (let j = 0; j < spec.dim; j++) s += (got[p * spec.dim + j] - want[p * spec.dim + j]) ** 2;
    if (Number.isFinite(s)) worst = Math.max(worst, Math.sqrt(s));
  }
  return 2 * worst;
}

/** The target's law at the start time T (same groups and tilt, diffused to T). */
function defAtStart(def: TargetDef): TargetDef {
  const p = processAt(def.spec.process, startTime(def.spec.process));
  return { ...def, alpha: p.alpha, sigma2: p.sigma2, logZ: 0 };
}

/**
 * TV(prior, target at T). Conditional / unconditional: sum_k w_k min(sqrt(KL_k / 2), sqrt(1 - e^-KL_k))
 * (TV is convex; Pinsker and Bretagnolle-Huber), KL of each Gaussian component (a box: its worst
 * point, the box being a mixture of points) against N(0, s^2 I). Tilted (d <= 2): by quadrature.
 */
export function priorTv(def: TargetDef): number {
  const spec = def.spec;
  const s2 = priorScale(spec.process) ** 2;
  const atT = defAtStart(def);
  const d = def.dim;
  if (def.groupB !== null) {
    const g: Grid = targetGrid(atT, d === 1 ? [4096] : [256, 256], undefined, d === 1 ? 4 : 2);
    const n0 = g.cells[0] * g.sub;
    const h0 = (g.high[0] - g.low[0]) / n0;
    const h1 = d === 2 ? (g.high[1] - g.low[1]) / (g.cells[1] * g.sub) : 1;
    let tv = 0;
    let priorMass = 0;
    for (let k = 0; k < g.weight.length; k++) {
      let r2 = 0;
      for (let j = 0; j < d; j++) r2 += g.points[k * d + j] ** 2;
      const q = (Math.exp((-0.5 * r2) / s2) / (2 * Math.PI * s2) ** (d / 2)) * h0 * h1;
      priorMass += q;
      tv += Math.abs(g.weight[k] - q);
    }
    return 0.5 * (tv + (1 - priorMass)) + g.massError;
  }
  const { alpha, sigma2 } = atT;
  let tv = 0;
  for (const e of def.groupA.entries) {
    const c = def.model.components[e.component];
    let kl: number;
    if (c.kind === 'gaussian') {
      let m2 = 0;
      let sum = 0;
      for (let j = 0; j < d; j++) {
        m2 += (alpha * c.mean[j]) ** 2;
        const v = alpha * alpha * c.lambda[j] + sigma2;
        sum += v / s2 - 1 - Math.log(v / s2);
      }
      kl = 0.5 * (sum + m2 / s2);
    } else {
      let m2 = 0;
      for (let j = 0; j < d; j++) m2 += alpha * alpha * Math.max(c.low[j] ** 2, c.high[j] ** 2);
      kl = 0.5 * (d * (sigma2 / s2 - 1 - Math.log(sigma2 / s2)) + m2 / s2);
    }
    tv += Math.exp(e.logWeight) * Math.min(Math.sqrt(kl / 2), Math.sqrt(-Math.expm1(-kl)), 1);
  }
  return tv;
}

/** W2(prior, target at T) <= sqrt(alpha_T^2 E|x_0|^2 + d (s - sigma_T)^2) (the conditional's E|x_0|^2 for a tilt). */
export function priorW2(def: TargetDef): number {
  const spec = def.spec;
  const s = priorScale(spec.process);
  const p = processAt(spec.process, startTime(spec.process));
  let ex2 = 0;
  for (const e of def.groupA.entries) {
    const c = def.model.components[e.component];
    let v = 0;
    for (let j = 0; j < def.dim; j++) {
      v +=
        c.kind === 'gaussian'
          ? c.mean[j] ** 2 + c.lambda[j]
          : (c.low[j] ** 2 + c.low[j] * c.high[j] + c.high[j] ** 2) / 3;
    }
    ex2 += Math.exp(e.logWeight) * v;
  }
  return Math.sqrt(p.alpha * p.alpha * ex2 + def.dim * (s - Math.sqrt(p.sigma2)) ** 2);
}

/**
 * The start law's distance to the target at the start time. With start: "exact" the particles
 * start from p_T(x | target) itself: no prior term against the conditional; against another
 * target (tilted, unconditional) the distance between the two diffused laws is not computed, so
 * the prior's is kept as the allowance and a note says so.
 */
function priorTerms(spec: ExperimentSpec, def: TargetDef, notes: string[]): { priorTv: number; priorW2: number } {
  if (spec.start === 'exact' && def.kind === 'conditional') return { priorTv: 0, priorW2: 0 };
  if (spec.start === 'exact')
    notes.push(
      `start "exact" against the ${def.kind} target: the prior's distance to it is used as the start allowance`,
    );
  return { priorTv: priorTv(def), priorW2: priorW2(def) };
}

export async function biasTerms(spec: ExperimentSpec, def: TargetDef, gpu: GpuContext | null): Promise<BiasTerms> {
  const solver = solverTerms(spec);
  const notes: string[] = [];
  if (isStochasticSolver(spec.solver)) notes.push(solver.method);
  return {
    solverShift: solver.shift,
    solverShiftMethod: solver.method,
    f32Shift: gpu ? await f32Shift(gpu, spec) : 0,
    ...priorTerms(spec, def, notes),
    flowLipschitz: solver.lipschitz,
    notes,
  };
}

/**
 * Sensitivities of the region statistics to a displacement of every particle by at most D,
 * estimated on exact samples of the target (the conditional's for a tilt), times 2:
 *   occupancy: E|grad r_k| per component; HDR: the largest |grad log p| near each level.
 */
export function regionSensitivities(
  def: TargetDef,
  hdrLogLevels: number[],
  samples = 20000,
): { occupancy: Float64Array; hdrGrad: number[] } {
  const d = def.dim;
  const sourceDef: TargetDef = def.groupB === null ? def : { ...def, groupB: null, coefA: 1, coefB: 0, logZ: 0 };
  const xs = sampleTarget(sourceDef, samples, 11);
  const ev = new MixtureEvaluator(def.model);
  ev.setTime(def.alpha, def.sigma2);
  const entries = def.groupA.entries;
  const occ = new Float64Array(entries.length);
  const hdrGrad = hdrLogLevels.map(() => 0);
  const score = new Float64Array(d);
  const mean = new Float64Array(d);
  const r = new Float64Array(entries.length);
  for (let p = 0; p < samples; p++) {
    const x = xs.subarray(p * d, (p + 1) * d);
    ev.evaluateComponents(x);
    score.fill(0);
    ev.addGroupScore(def.groupA, def.coefA, score);
    let l = def.coefA * ev.groupLogDensity(def.groupA) - def.logZ;
    if (def.groupB) {
      ev.addGroupScore(def.groupB, def.coefB, score);
      l += def.coefB * ev.groupLogDensity(def.groupB);
    }
    const gnorm = Math.hypot(...score);
    hdrLogLevels.forEach((c, i) => {
      if (Math.abs(l - c) < 0.5) hdrGrad[i] = Math.max(hdrGrad[i], gnorm);
    });
    // grad r_k = r_k (s_k - sum_j r_j s_j)
    let max = -Infinity;
    entries.forEach((e, k) => {
      r[k] = e.logWeight + ev.componentLog[e.component];
      max = Math.max(max, r[k]);
    });
    let sum = 0;
    for (let k = 0; k < entries.length; k++) sum += r[k] = Math.exp(r[k] - max);
    mean.fill(0);
    for (let k = 0; k < entries.length; k++) {
      r[k] /= sum;
      for (let j = 0; j < d; j++) mean[j] += r[k] * ev.componentScore[entries[k].component * d + j];
    }
    for (let k = 0; k < entries.length; k++) {
      let g2 = 0;
      for (let j = 0; j < d; j++) g2 += (r[k] * (ev.componentScore[entries[k].component * d + j] - mean[j])) ** 2;
      occ[k] += Math.sqrt(g2) / samples;
    }
  }
  return { occupancy: occ.map((v) => 2 * v), hdrGrad: hdrGrad.map((g) => 2 * g) };
}
