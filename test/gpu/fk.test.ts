// The Feynman-Kac corrector on the GPU (src/gpu/fk.ts) against the f64 CPU reference
// (src/cpu/fk.ts) and against the exact tilted law.
//
// 1. Parity before resampling (essThreshold 0: the only resampling is after the last step).
//    Before it, a corrected particle moves exactly as the plain em sampler's, so its position is
//    held to test/support/parity.ts's per-particle tolerance K u S_N. Its log-weight is held to
//      K u M_w + |S| tol_x
//    where M_w is the sum of the absolute values of every term added into it (the CPU reports
//    it: the f32 rounding scale of the sum, as in parity.ts's model) and |S| tol_x carries the
//    position's own tolerance through log q_N (S = grad log q_N, the guided score at tMin).
// 2. Resampling: given the GPU's own weights, its ancestors are f64 systematic resampling's
//    except where a slot falls within the f32 prefix's rounding of a boundary (a handful in
//    10^4), and never a particle of zero weight.
// 3. In law: FK-corrected cfg against the exact tilted law p(x|c)^(1+w) p(x)^(-w) at tMin
//    (src/targets/), and a time-varying w whose tilted law at tMin is the plain
//    conditional. One SMC population's particles are not independent, so the test runs P
//    independent populations (different seeds) and compares the P estimates of each functional
//    with its exact value by a two-sided Student t test on P - 1 degrees of freedom. SMC
//    estimates are asymptotically normal (Chopin 2004; their O(1/N) bias is far below their
//    O(1/sqrt N) spread at N = 8192), so the levels below are asymptotic. Mutation twins: plain
//    cfg (no corrector) and the corrected population translated by 0.1 must both fail.
//
// False-failure budget: FK_FAMILY_ALPHA = 1e-6 over the listed t tests (Bonferroni).

import { expect, it } from 'vitest';
import { CpuStepper } from '../../src/cpu/reference.ts';
import { sampleCpuFk } from '../../src/cpu/fk.ts';
import { resampleUniform, systematicAncestors } from '../../src/corrector/fk.ts';
import { sampleWebGpu } from '../../src/gpu/sampler.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import { target1d } from '../../src/targets/one-d.ts';
import { targetDef } from '../../src/targets/from-spec.ts';
import { populationTTest } from '../../src/checks/population.ts';
import { describeGpu } from '../support/gpu.ts';
import { compareWithBound, F32_U, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';
import { TWO_GAUSSIANS, type RawSpec } from '../support/sampler-cases.ts';

const FK_FAMILY_ALPHA = 1e-6;
const FK_T_TESTS = [
  'cfg w=3: mean',
  'cfg w=3: variance',
  'cfg w=3: P(x < q10)',
  'cfg w=3: P(x > q90)',
  'cfg w=3: normaliser',
  'ramped w: mean',
  'ramped w: variance',
] as const;
const ALPHA_EACH = FK_FAMILY_ALPHA / FK_T_TESTS.length;

const fkSpec = (over: RawSpec = {}): RawSpec => ({
  dim: 1,
  classes: TWO_GAUSSIANS,
  target: 'pos',
  process: { kind: 'ou', T: 8 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'em', steps: 30, tMin: 1e-3 },
  particles: 4096,
  seed: 11,
  corrector: { kind: 'fk', essThreshold: 0 },
  ...over,
});

const PARITY_CASES: { name: string; spec: RawSpec }[] = [
  { name: '1-D two Gaussians, cfg w = 3, ou', spec: fkSpec() },
  {
    name: '2-D box and Gaussian, classifier guidance on an interval, vp, blurred target score',
    spec: fkSpec({
      dim: 2,
      classes: [
        { name: 'box', weight: 0.4, components: [{ kind: 'uniform', weight: 1, low: [0, -1], high: [1.5, 1] }] },
        {
          name: 'blob',
          weight: 0.6,
          components: [
            {
              kind: 'gaussian',
              weight: 1,
              mean: [-1, 0.5],
              cov: [
                [0.5, 0.2],
                [0.2, 0.4],
              ],
            },
          ],
        },
      ],
      target: 'box',
      process: { kind: 'vp' },
      guidance: { kind: 'classifier', w: { kind: 'interval', w: 3, tLow: 0.1, tHigh: 0.7, outside: 1 } },
      scoreError: { kind: 'blur', delta: 0.1 },
      particles: 2048,
    }),
  },
];

async function gpuWeightsBeforeFinalResample(gpu: Parameters<typeof sampleWebGpu>[0], spec: ExperimentSpec) {
  let weights: Float32Array | null = null;
  let particles: Float32Array | null = null;
  let ancestors: Uint32Array | null = null;
  await sampleWebGpu(gpu, spec, {
    onWeights: (n, w, x) => {
      if (n === spec.solver.steps - 1) {
        weights = w;
        particles = x;
      }
    },
    onAncestors: (_, a) => (ancestors = a),
  });
  return { weights: weights!, particles: particles!, ancestors: ancestors! };
}

await describeGpu('fk corrector', (gpu) => {
  it.each(PARITY_CASES)('parity before resampling: $name', async ({ spec: raw }) => {
    const spec = parseSpec(raw);
    const { dim, particles: n } = spec;
    const out = await gpuWeightsBeforeFinalResample(gpu, spec);

    let cpuW: Float64Array | null = null;
    let cpuX: Float64Array | null = null;
    let magnitudes: Float64Array | null = null;
    sampleCpuFk(spec, {
      onWeights: (step, w, x, m) => {
        if (step === spec.solver.steps - 1) [cpuW, cpuX, magnitudes] = [w.slice(), x.slice(), m.slice()];
      },
    });

    // Positions: the plain em sampler's tolerance (the same trajectories before resampling).
    const ref = referenceWithBound(parseSpec({ ...raw, corrector: undefined }));
    for (let i = 0; i < n * dim; i++)
      expect(Math.abs(ref.particles[i] - cpuX![i])).toBeLessThan(1e-12 * (1 + Math.abs(cpuX![i])));
    const report = compareWithBound(out.particles, ref, dim);
    console.log(formatReport(`fk positions ${raw.dim}-D`, report));
    expect(report.failures).toBe(0);

    // Log-weights.
    const stepper = new CpuStepper(spec);
    const terminal = stepper.table.terminal;
    stepper.setTime(terminal);
    const drift = new Float64Array(dim);
    let worst = 0;
    for (let p = 0; p < n; p++) {
      const x = cpuX!.subarray(p * dim, (p + 1) * dim);
      stepper.velocity(x, terminal, drift, 0);
      let scorePart = 0;
      for (let i = 0; i < dim; i++) {
        const s = (drift[i] - terminal.cx * x[i]) / terminal.cs; // the guided score at tMin
        scorePart += Math.abs(s) * ref.rss[p * dim + i] * PARITY_ULPS * F32_U;
      }
      const tolerance = PARITY_ULPS * F32_U * magnitudes![p] + scorePart;
      const d = Math.abs(out.weights[p] - cpuW![p]);
      worst = Math.max(worst, d / tolerance);
      expect(d).toBeLessThanOrEqual(tolerance);
    }
    console.log(`fk log-weights ${raw.dim}-D: max |d| / tolerance = ${worst.toFixed(3)}`);
  });

  it("resampling: the GPU gathers f64 systematic resampling's ancestors, up to f32 ties, and never a zero weight", async () => {
    const spec = parseSpec(fkSpec({ particles: 20_000 }));
    const { weights, ancestors } = await gpuWeightsBeforeFinalResample(gpu, spec);
    const ref = systematicAncestors(
      Float64Array.from(weights),
      spec.particles,
      resampleUniform(spec.seed, spec.solver.steps - 1, 0),
    );
    let mismatches = 0;
    for (let j = 0; j < spec.particles; j++) {
      expect(Number.isFinite(weights[ancestors[j]])).toBe(true);
      if (ancestors[j] !== ref[j]) {
        mismatches++;
        expect(Math.abs(ancestors[j] - ref[j])).toBeLessThanOrEqual(1);
      }
    }
    const copies = new Uint32Array(spec.particles);
    for (const a of ancestors) copies[a]++;
    expect(copies.reduce((s, c) => s + c, 0)).toBe(spec.particles);
    console.log(`fk resampling: ${mismatches} of ${spec.particles} slots differ from f64 (adjacent ancestors)`);
    expect(mismatches).toBeLessThanOrEqual(Math.max(10, spec.particles * 1e-3));
  });

  // ---- In law: independent populations ----
  const POPULATIONS = 32;
  const N = 8192;
  const lawSpec = (seed: number, over: RawSpec = {}): ExperimentSpec =>
    parseSpec(
      fkSpec({
        particles: N,
        seed,
        solver: { kind: 'em', steps: 100, tMin: 1e-3 },
        corrector: { kind: 'fk', essThreshold: 0.5 },
        ...over,
      }),
    );

  interface Population {
    x: Float32Array;
    logNormaliser: number;
  }
  async function populations(over: RawSpec = {}, transform = (v: number) => v): Promise<Population[]> {
    const out: Population[] = [];
    for (let p = 0; p < POPULATIONS; p++) {
      const chunks: Float32Array[] = [];
      const info = await sampleWebGpu(gpu, lawSpec(1000 + p, over), { onChunk: (c) => void chunks.push(c) });
      const x = chunks[0].map(transform);
      out.push({ x, logNormaliser: info.fk?.logNormaliser ?? Number.NaN });
    }
    return out;
  }

  const functionals = (q10: number, q90: number) => ({
    mean: (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length,
    variance: (x: Float32Array) => {
      const m = x.reduce((s, v) => s + v, 0) / x.length;
      return x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1);
    },
    below: (x: Float32Array) => x.reduce((s, v) => s + (v < q10 ? 1 : 0), 0) / x.length,
    above: (x: Float32Array) => x.reduce((s, v) => s + (v > q90 ? 1 : 0), 0) / x.length,
  });

  it('in law: fk-corrected cfg w = 3 matches the exact tilted law; plain cfg and a shifted twin do not', async () => {
    const def = targetDef(lawSpec(1), 'tilted');
    const law = target1d(def, [1]);
    const q10 = law.quantile(0.1);
    const q90 = law.quantile(0.9);
    const f = functionals(q10, q90);
    const exact = { mean: law.moments.mean, variance: law.moments.mu2, below: 0.1, above: 0.1 };
    const names = {
      mean: 'cfg w=3: mean',
      variance: 'cfg w=3: variance',
      below: 'cfg w=3: P(x < q10)',
      above: 'cfg w=3: P(x > q90)',
    } as const;

    const evaluate = (pops: Population[]) =>
      (Object.keys(exact) as (keyof typeof exact)[]).map((k) => {
        const r = populationTTest(
          pops.map((p) => f[k](p.x)),
          exact[k],
          ALPHA_EACH,
        );
        return { name: names[k], ...r };
      });

    const corrected = await populations();
    const results: { name: string; t: number; threshold: number; pass: boolean }[] = evaluate(corrected);
    // The normaliser: the mean of exp(log Z-hat) is unbiased for int q = exp(logZ).
    const z = populationTTest(
      corrected.map((p) => Math.exp(p.logNormaliser)),
      Math.exp(def.logZ),
      ALPHA_EACH,
    );
    results.push({ name: 'cfg w=3: normaliser', ...z });
    console.log(
      results.map((r) => `${r.name}: t = ${r.t.toFixed(2)} (threshold ${r.threshold.toFixed(2)})`).join('\n'),
    );
    for (const r of results) expect(r.pass, r.name).toBe(true);

    // Twins: plain cfg (no corrector), and the corrected populations translated by 0.1.
    const plain = evaluate(await populations({ corrector: undefined }));
    console.log(`plain cfg twin: ${plain.map((r) => `${r.name} t = ${r.t.toFixed(1)}`).join(', ')}`);
    expect(plain.some((r) => !r.pass)).toBe(true);
    const shifted = evaluate(corrected.map((p) => ({ ...p, x: p.x.map((v) => v + 0.1) })));
    console.log(`shifted twin: ${shifted.map((r) => `${r.name} t = ${r.t.toFixed(1)}`).join(', ')}`);
    expect(shifted.some((r) => !r.pass)).toBe(true);
  });

  it('in law: w(t) rising from 0 at tMin to 2 at t = 2: fk returns the conditional law at tMin, plain guidance does not', async () => {
    // The tilted law at tMin has w(tMin) = 0: the weights must undo all of the guidance.
    const guidance = {
      kind: 'cfg',
      w: {
        kind: 'piecewise',
        points: [
          [1e-3, 0],
          [2, 2],
        ],
      },
    };
    const law = target1d(targetDef(lawSpec(1, { guidance }), 'conditional'), [1]);
    const f = functionals(0, 0);
    const check = (pops: Population[]) => [
      {
        name: 'ramped w: mean',
        ...populationTTest(
          pops.map((p) => f.mean(p.x)),
          law.moments.mean,
          ALPHA_EACH,
        ),
      },
      {
        name: 'ramped w: variance',
        ...populationTTest(
          pops.map((p) => f.variance(p.x)),
          law.moments.mu2,
          ALPHA_EACH,
        ),
      },
    ];
    const corrected = check(await populations({ guidance }));
    console.log(
      corrected.map((r) => `${r.name}: t = ${r.t.toFixed(2)} (threshold ${r.threshold.toFixed(2)})`).join('\n'),
    );
    for (const r of corrected) expect(r.pass, r.name).toBe(true);
    const plain = check(await populations({ guidance, corrector: undefined }));
    console.log(`plain twin: ${plain.map((r) => `${r.name} t = ${r.t.toFixed(1)}`).join(', ')}`);
    expect(plain.some((r) => !r.pass)).toBe(true);
  });

  it("the general kernel's uniform and storage tables give the same population, bit for bit", async () => {
    const spec = parseSpec(PARITY_CASES[0].spec);
    const run = async (generalTables: 'uniform' | 'storage') => {
      const parts: Float32Array[] = [];
      const info = await sampleWebGpu(gpu, spec, { generalTables, onChunk: (c) => void parts.push(c.slice()) });
      return { info, particles: Float32Array.from(parts.flatMap((c) => Array.from(c))) };
    };
    const uniform = await run('uniform');
    const storage = await run('storage');
    expect(uniform.info.tables).toBe('uniform');
    expect(storage.info.tables).toBe('storage');
    expect(uniform.info.fk).toEqual(storage.info.fk);
    expect(new Uint32Array(uniform.particles.buffer)).toEqual(new Uint32Array(storage.particles.buffer));
  });

  it('a population larger than one storage binding is refused with the limit named, before any allocation', async () => {
    const dim = 64;
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const particles = Math.floor(limit / ((dim + 1) * 4)) + 1;
    const spec = parseSpec(
      fkSpec({
        dim,
        classes: [
          { name: 'a', components: [{ kind: 'gaussian', mean: Array(dim).fill(1), cov: 1 }] },
          { name: 'b', components: [{ kind: 'gaussian', mean: Array(dim).fill(-1), cov: 1 }] },
        ],
        target: 'a',
        particles,
      }),
    );
    await expect(sampleWebGpu(gpu, spec, {})).rejects.toThrow(
      new RegExp(
        `corrector fk keeps the whole population resident: ${particles} particles .* exceeds this adapter's largest storage binding \\(${limit} bytes\\)`,
      ),
    );
  });
});
