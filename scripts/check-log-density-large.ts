// npm run check:log-density-large: issue 13's closed-form acceptance of the webgpu log-density
// mode at 10^6 particles (not in CI). For a Gaussian target and negative the guided ODE is
// linear, so the sampler's law Q at tMin is Gaussian: the flow map is affine, found exactly by
// carrying two points through CpuStepper on a fine rk4 grid (20000 steps). P is the target
// noised to tMin. Estimators: KL(Q||P) = E_Q[log q - log p] over the GPU's particles with their
// carried log q; KL(P||Q) = E_P[log p - log q] over exact samples of P carried forward to the
// start time, log q(y) = log prior(x_T(y)) - l_T. Each must match the closed form within
// 3 SE + a stated solver bias: 2 |KL(Q_h||P) - KL(Q||P)|, Q_h the law of the run's own
// discrete (affine) map, i.e. twice the discretisation's effect on the KL itself.
// LOGQ_LARGE_N overrides N. Exit 0 when every check holds.
import { CpuStepper } from '../src/cpu/reference.ts';
import { acquireGpu } from '../src/gpu/device.ts';
import { sampleLogDensityWebGpu } from '../src/gpu/log-density.ts';
import { nodePlatform } from '../src/platform/node.ts';
import { processAt, priorScale } from '../src/processes/process.ts';
import { fillNormals } from '../src/rng/philox.ts';
import { TABLEAUS } from '../src/solvers/tableau.ts';
import { parseSpec } from '../src/experiment/parse.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { reversedTableSymmetric } from '../test/support/log-density-ref.ts';

const n = Number(process.env.LOGQ_LARGE_N ?? 1e6);
const G = (mean: number[], cov: number) => ({ kind: 'gaussian', weight: 1, mean, cov });
const base = { process: { kind: 'ou', T: 10 }, solver: { kind: 'rk4', steps: 100, tMin: 1e-3 }, particles: n, seed: 1 };
const CASES: { name: string; spec: ExperimentSpec; mean: number[]; v: number }[] = [
  {
    name: 'Gaussian pair: target N(1,1), negative N(0,2), cfg w=3, ou',
    spec: parseSpec({
      ...base,
      dim: 1,
      classes: [{ name: 'p', components: [G([1], 1)] }],
      target: 'p',
      guidance: { kind: 'cfg', w: 3, negative: { components: [G([0], 2)] } },
    }),
    mean: [1],
    v: 1,
  },
  {
    name: 'd=8: target N(m, 0.5 I), negative N(m2, I) (class b), cfg w=2, ou',
    spec: parseSpec({
      ...base,
      dim: 8,
      classes: [
        { name: 'a', components: [G([1, 0, 0, 0, 0, 0, 0, 1], 0.5)] },
        { name: 'b', components: [G([0, 0, 0, 0, 0, 0, 0, -1], 1)] },
      ],
      target: 'a',
      guidance: { kind: 'cfg', w: 2, negative: 'b' },
    }),
    mean: [1, 0, 0, 0, 0, 0, 0, 1],
    v: 0.5,
  },
];

/** The affine flow map x_T -> x_tMin of `steps` rk4 steps (isotropic: x -> A x + B). */
function affineMap(spec: ExperimentSpec, steps: number): { A: number; B: Float64Array } {
  const s = new CpuStepper({ ...spec, solver: { ...spec.solver, steps } });
  const d = spec.dim;
  const x = new Float64Array(2 * d);
  x[d] = 1; // the points 0 and e_1
  const k = s.tableau.c.map(() => new Float64Array(2 * d));
  for (let i = 0; i < steps; i++) s.step(i, 0, 2, x, k);
  return { A: x[d] - x[0], B: x.slice(0, d) };
}

/** KL(N(m1, v1 I) || N(m2, v2 I)). */
function klGauss(m1: ArrayLike<number>, v1: number, m2: ArrayLike<number>, v2: number): number {
  let d2 = 0;
  for (let i = 0; i < m1.length; i++) d2 += (m1[i] - m2[i]) ** 2;
  const d = m1.length;
  return 0.5 * (d * (v1 / v2) + d2 / v2 - d + d * Math.log(v2 / v1));
}

function logNormal(x: ArrayLike<number>, o: number, m: ArrayLike<number>, v: number, d: number): number {
  let q = 0;
  for (let i = 0; i < d; i++) q += (x[o + i] - m[i]) ** 2;
  return (-0.5 * q) / v - 0.5 * d * Math.log(2 * Math.PI * v);
}

function meanSe(xs: Float64Array): { value: number; se: number } {
  let s = 0;
  let s2 = 0;
  for (const x of xs) s += x;
  const m = s / xs.length;
  for (const x of xs) s2 += (x - m) ** 2;
  return { value: m, se: Math.sqrt(s2 / (xs.length - 1) / xs.length) };
}

const gpu = await acquireGpu(nodePlatform);
let ok = true;
for (const c of CASES) {
  const { spec } = c;
  const d = spec.dim;
  const pEnd = processAt(spec.process, spec.solver.tMin);
  const pm = c.mean.map((m) => pEnd.alpha * m);
  const pv = pEnd.alpha ** 2 * c.v + pEnd.sigma2;
  const prior = priorScale(spec.process) ** 2;
  const exact = affineMap(spec, 20000);
  const own = affineMap(spec, spec.solver.steps);
  const klQP = klGauss(exact.B, exact.A ** 2 * prior, pm, pv);
  const klPQ = klGauss(pm, pv, exact.B, exact.A ** 2 * prior);
  const biasQP = 2 * Math.abs(klGauss(own.B, own.A ** 2 * prior, pm, pv) - klQP);
  const biasPQ = 2 * Math.abs(klGauss(pm, pv, own.B, own.A ** 2 * prior) - klPQ);
  const t0 = performance.now();
  const back = await sampleLogDensityWebGpu(gpu, spec);
  const rQP = new Float64Array(n);
  for (let p = 0; p < n; p++) rQP[p] = back.logq[p] - logNormal(back.particles, p * d, pm, pv, d);
  // Exact P samples (philox stream of another seed), l_0 = 0, carried forward.
  const y = new Float64Array(n * d);
  const z = new Float64Array(Math.ceil(d / 4) * 4);
  for (let p = 0; p < n; p++) {
    fillNormals(spec.seed + 1000, p, 0, d, z);
    for (let i = 0; i < d; i++) y[p * d + i] = pm[i] + Math.sqrt(pv) * z[i];
  }
  const table = reversedTableSymmetric(new CpuStepper(spec).table, TABLEAUS[spec.solver.kind].c);
  const fwd = await sampleLogDensityWebGpu(gpu, spec, { starts: { x: y, logq: new Float64Array(n) }, table });
  const rPQ = new Float64Array(n);
  for (let p = 0; p < n; p++)
    rPQ[p] =
      logNormal(y, p * d, pm, pv, d) - (logNormal(fwd.particles, p * d, new Float64Array(d), prior, d) - fwd.logq[p]);
  const eQP = meanSe(rQP);
  const ePQ = meanSe(rPQ);
  const row = (label: string, e: { value: number; se: number }, exactKl: number, bias: number) => {
    const pass = Math.abs(e.value - exactKl) <= 3 * e.se + bias;
    ok &&= pass;
    return `${label}: estimate ${e.value.toExponential(4)} +- ${e.se.toExponential(2)}, closed form ${exactKl.toExponential(4)}, |diff| ${Math.abs(e.value - exactKl).toExponential(2)} <= 3 SE + bias ${bias.toExponential(2)}: ${pass ? 'PASS' : 'FAIL'}`;
  };
  console.log(
    `${c.name}, N = ${n}, rk4 ${spec.solver.steps} steps (${((performance.now() - t0) / 1000).toFixed(1)} s on ${gpu.adapterInfo.label})`,
  );
  console.log('  ' + row('KL(Q||P)', eQP, klQP, biasQP));
  console.log('  ' + row('KL(P||Q)', ePQ, klPQ, biasPQ));
}
gpu.device.destroy();
process.exit(ok ? 0 : 1);
