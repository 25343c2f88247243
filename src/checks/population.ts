// `check` for a spec with a Feynman-Kac corrector. One resampled population's particles are
// not independent, so the iid envelopes of the plain check (DKW, binomial) do not hold. Instead
// the particles are split into P independent populations (particle ranges [p n, (p + 1) n):
// their own noise streams and resampling offsets), and for each functional f of the law the P
// population estimates are compared with the exact E f under the target by a two-sided
// Student t test on P - 1 degrees of freedom, Bonferroni-split over the tests. SMC estimates are
// asymptotically normal with an O(1/n) bias (Chopin 2004), far below their O(1/sqrt n) spread,
// so the levels are asymptotic in n. The corrector's weights are exact in the step count and
// in the prior, so there are no bias terms.
//
// Functionals, per coordinate axis (at most 4): the mean, the variance, and the CDF at the
// target's 10 %, 50 % and 90 % quantiles.
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import type { ExperimentSpec } from '../experiment/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { sampleWebGpu } from '../gpu/sampler.ts';
import { sampleCpuFk } from '../cpu/fk.ts';
import { CpuStepper } from '../cpu/reference.ts';
import { target1d } from '../targets/one-d.ts';
import { type TargetKind } from '../targets/definition.ts';
import { targetDef } from '../targets/from-spec.ts';
import { alignedLines, shortNumber } from '../io/text-table.ts';

export interface PopulationOutcome {
  name: string;
  kind: 'mean' | 'variance' | 'cdf';
  /** The population estimates' mean, and the exact value. */
  estimate: number;
  expected: number;
  /** |t| and its threshold t_{P-1}(1 - alpha/2). */
  statistic: number;
  threshold: number;
  pass: boolean;
  alpha: number;
  /** Standard error of the estimate (sd over populations / sqrt P). */
  standardError: number;
  /** The smallest |estimate - expected| detected with probability >= 1/2: threshold x standard error. */
  power: number;
}

export interface PopulationCheckResult {
  pass: boolean;
  against: TargetKind;
  alpha: number;
  tests: number;
  populations: number;
  particlesPerPopulation: number;
  backend: 'webgpu' | 'cpu';
  adapter: string | null;
  /** Smallest ESS / n seen in any population at any step. */
  essFractionMin: number;
  outcomes: PopulationOutcome[];
  seconds: number;
}

const QUANTILES = [0.1, 0.5, 0.9];
const MAX_AXES = 4;

/**
 * Checks `spec`'s sampler against its exact target over independent populations. `sampler`
 * (tests, mutation twins) samples a different spec while the target stays `spec`'s.
 */
export async function runPopulationCheck(
  spec: ExperimentSpec,
  opts: { against: TargetKind; alpha: number; populations: number },
  gpu: GpuContext | null,
  sampler: ExperimentSpec = spec,
): Promise<PopulationCheckResult> {
  const started = performance.now();
  const P = opts.populations;
  if (!Number.isInteger(P) || P < 4) throw new Error(`--populations must be an integer >= 4, got ${P}`);
  const n = Math.floor(spec.particles / P);
  if (n < 256)
    throw new Error(
      `${spec.particles} particles make populations of ${n}: at least 256 per population are needed (P = ${P})`,
    );
  const def = targetDef(spec, opts.against);
  const axes = Math.min(spec.dim, MAX_AXES);
  const laws = Array.from({ length: axes }, (_, i) => {
    const u = Array(spec.dim).fill(0);
    u[i] = 1;
    return target1d(def, u);
  });

  type Functional = { name: string; kind: PopulationOutcome['kind']; expected: number; of(x: Float64Array): number };
  const functionals: Functional[] = [];
  laws.forEach((law, i) => {
    const coordinate = (x: Float64Array, k: number) => x[k * spec.dim + i];
    const mean = (x: Float64Array) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += coordinate(x, k);
      return s / n;
    };
    functionals.push({ name: `x${i} mean`, kind: 'mean', expected: law.moments.mean, of: mean });
    functionals.push({
      name: `x${i} variance`,
      kind: 'variance',
      expected: law.moments.mu2,
      of: (x) => {
        const m = mean(x);
        let s = 0;
        for (let k = 0; k < n; k++) s += (coordinate(x, k) - m) ** 2;
        return s / (n - 1);
      },
    });
    for (const q of QUANTILES) {
      const at = law.quantile(q);
      functionals.push({
        name: `x${i} P(x < q${Math.round(q * 100)})`,
        kind: 'cdf',
        expected: law.cdf(at),
        of: (x) => {
          let c = 0;
          for (let k = 0; k < n; k++) if (coordinate(x, k) < at) c++;
          return c / n;
        },
      });
    }
  });

  const estimates: number[][] = functionals.map(() => []);
  let essFractionMin = 1;
  for (let p = 0; p < P; p++) {
    const population = { ...sampler, particles: n, seed: spec.seed };
    let x: Float64Array;
    if (gpu) {
      const chunks: Float32Array[] = [];
      const info = await sampleWebGpu(gpu, population, { firstParticle: p * n, onChunk: (c) => void chunks.push(c) });
      x = new Float64Array(n * spec.dim);
      let o = 0;
      for (const c of chunks) {
        x.set(c, o);
        o += c.length;
      }
      essFractionMin = Math.min(essFractionMin, ...(info.fk?.essFraction ?? [1]));
    } else if (population.corrector) {
      const r = sampleCpuFk(population, { firstParticle: p * n });
      x = r.particles;
      essFractionMin = Math.min(essFractionMin, ...r.fk.essFraction);
    } else {
      // Without a corrector (a twin): independent particles, the CPU reference's.
      const stepper = new CpuStepper(population);
      x = new Float64Array(n * spec.dim);
      stepper.sampleRange(p * n, n, x);
    }
    functionals.forEach((f, j) => {
      estimates[j].push(f.of(x));
    });
  }

  const alpha = opts.alpha / functionals.length;
  const outcomes = functionals.map((f, j): PopulationOutcome => {
    const r = populationTTest(estimates[j], f.expected, alpha);
    return {
      name: f.name,
      kind: f.kind,
      estimate: r.estimate,
      expected: f.expected,
      statistic: Math.abs(r.t),
      threshold: r.threshold,
      pass: r.pass,
      alpha,
      standardError: r.standardError,
      power: r.threshold * r.standardError,
    };
  });
  return {
    pass: outcomes.every((o) => o.pass),
    against: opts.against,
    alpha: opts.alpha,
    tests: outcomes.length,
    populations: P,
    particlesPerPopulation: n,
    backend: gpu ? 'webgpu' : 'cpu',
    adapter: gpu?.adapterInfo.label ?? null,
    essFractionMin,
    outcomes,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Two-sided Student t test of P independent estimates against an exact value at level alpha:
 * t = (mean - exact) / (sd / sqrt P) on P - 1 degrees of freedom. A NaN estimate fails.
 */
export function populationTTest(
  estimates: readonly number[],
  exact: number,
  alpha: number,
): { estimate: number; t: number; threshold: number; standardError: number; pass: boolean } {
  const p = estimates.length;
  const estimate = estimates.reduce((s, v) => s + v, 0) / p;
  const sd = Math.sqrt(estimates.reduce((s, v) => s + (v - estimate) ** 2, 0) / (p - 1));
  const standardError = sd / Math.sqrt(p);
  const t = (estimate - exact) / standardError;
  const threshold = tQuantile(1 - alpha / 2, p - 1);
  return { estimate, t, threshold, standardError, pass: Math.abs(t) <= threshold };
}

export function formatPopulationTable(r: PopulationCheckResult): string {
  const g = (v: number) => shortNumber(v, 4);
  const head = ['', 'test', 'estimate', 'exact', '|t|', 'threshold', 'detects'];
  const rows = r.outcomes.map((o) => [
    o.pass ? 'pass' : 'FAIL',
    o.name,
    g(o.estimate),
    g(o.expected),
    g(o.statistic),
    g(o.threshold),
    g(o.power),
  ]);
  const failed = r.outcomes.filter((o) => !o.pass).length;
  return [
    `check (fk corrector) against the ${r.against} target: ${r.populations} independent populations of ${r.particlesPerPopulation} on ${r.adapter ?? r.backend}, ` +
      `t tests on ${r.populations - 1} degrees of freedom, family-wise alpha ${r.alpha} over ${r.tests} tests (Bonferroni); smallest ESS/n ${g(r.essFractionMin)}`,
    ...alignedLines(head, rows),
    r.pass
      ? `PASS: all ${r.outcomes.length} tests (${g(r.seconds)} s)`
      : `FAIL: ${failed} of ${r.outcomes.length} tests (${g(r.seconds)} s)`,
    '',
  ].join('\n');
}
