// Every variant of the fast stepping kernel (src/gpu/variants.ts: step-gauss4's lanes, step-gauss1's
// one particle, uniform or storage tables, workgroup sizes) against the f64 CPU reference, particle
// by particle from the same seed, with sampler-parity's tolerance (test/support/parity.ts); and
// every variant against the default one: the variants make the same f32 operations on the same
// Philox draws, so the autotuner's choice changes the speed only (bit for bit where the driver
// compiles the layouts alike; within a few ulps where it contracts a multiply-add differently). Then the
// autotuner's bookkeeping (tuned, cached, forced; the persistent store), never its timings.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { sampleWebGpu } from '../../src/gpu/sampler.ts';
import {
  chooseVariant,
  clearTunedVariants,
  GAUSS4_VARIANTS,
  type KernelVariant,
  variantsFor,
} from '../../src/gpu/variants.ts';
import { nodePlatform } from '../../src/platform/node.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';
import { PARITY_CASES, type RawSpec, type Solver } from '../support/sampler-cases.ts';

const gauss = (mean: number[], cov: unknown, weight = 1) => ({ kind: 'gaussian', weight, mean, cov });

/** Diagonal-Gaussian specs beyond the parity cases: d = 2, 3, 4 (step-gauss1's coords) and 5 (step-gauss4 only), em, many components. */
const EXTRA: { name: string; spec: (solver: Solver) => RawSpec }[] = [2, 3, 4, 5].map((dim) => ({
  name: `${dim}-D diagonal Gaussians, cfg w=2.5 vs unconditional, ou`,
  spec: (solver: Solver): RawSpec => ({
    dim,
    classes: [
      {
        name: 'a',
        weight: 0.6,
        components: [
          gauss(
            Array.from({ length: dim }, (_, j) => 1 + 0.3 * j),
            Array.from({ length: dim }, (_, j) => 0.4 + 0.1 * j),
          ),
          gauss(
            Array.from({ length: dim }, (_, j) => -0.5 * j),
            0.7,
            0.5,
          ),
        ],
      },
      {
        name: 'b',
        weight: 0.4,
        components: [
          gauss(
            Array.from({ length: dim }, () => -1.5),
            0.5,
          ),
        ],
      },
    ],
    target: 'a',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 2.5 },
    solver: { kind: solver, steps: 60 },
    particles: 777, // not a multiple of any workgroup: spare invocations and lanes
    seed: 11,
  }),
}));
EXTRA.push({
  name: '1-D, 40 components (past the unrolled walk), cfg w=3, ou',
  spec: (solver: Solver): RawSpec => ({
    dim: 1,
    classes: [
      {
        name: 'a',
        weight: 0.5,
        components: Array.from({ length: 20 }, (_, i) => gauss([-3 + 0.3 * i], 0.3, 1 + (i % 3))),
      },
      {
        name: 'b',
        weight: 0.5,
        components: Array.from({ length: 20 }, (_, i) => gauss([2 - 0.2 * i], 0.5, 1 + (i % 2))),
      },
    ],
    target: 'a',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 3 },
    solver: { kind: solver, steps: 40 },
    particles: 500,
    seed: 5,
  }),
});

const CASES: { name: string; solver: Solver; spec: RawSpec }[] = [
  ...PARITY_CASES.flatMap((c) =>
    (['euler', 'heun'] as const).map((solver) => ({ name: c.name, solver, spec: c.spec(solver) })),
  ),
  ...EXTRA.flatMap((c) =>
    (['euler', 'rk4', 'em'] as const).map((solver) => ({ name: c.name, solver, spec: c.spec(solver) })),
  ),
];

/** Largest |a - b| / max(1, |a|) two variants may differ by: a few f32 ulps, far inside the parity tolerance. */
const SAME_PARTICLES = 2e-6;

function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let differ = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) differ++;
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i])));
  }
  if (differ > 0)
    console.log(`  ${differ} of ${a.length} values differ from the default variant's, by <= ${worst} relative`);
  return worst;
}

const cacheDir = mkdtempSync(join(tmpdir(), 'variant-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

await describeGpu('kernel variants: every variant vs the CPU reference and vs each other', (ctx) => {
  let fastCases = 0;
  for (const c of CASES) {
    it(`${c.name}, ${c.solver}: every variant`, async () => {
      const spec = parseSpec(c.spec);
      const first = await sampleGpuParticles(ctx, spec, { kernelVariant: GAUSS4_VARIANTS[0].name });
      if (first.info.kernel !== 'step-gauss4') return; // the general kernel: no variants (sampler-parity covers it)
      fastCases++;
      const ref = referenceWithBound(spec);
      const variants = variantsFor(spec.dim);
      if (spec.dim > 4) expect(variants.every((v) => v.shader === 'step-gauss4')).toBe(true);
      for (const v of variants) {
        const gpu = await sampleGpuParticles(ctx, spec, { kernelVariant: v.name });
        expect(gpu.info.variant).toEqual({ name: v.name, why: 'forced' });
        const report = compareWithBound(gpu.particles, ref, spec.dim);
        console.log(formatReport(`${c.name}, ${c.solver}, ${v.name}`, report));
        expect(report.nonFinite).toBe(0);
        expect(report.firstFailure).toBeNull();
        expect(report.failures).toBe(0);
        expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
        // Same operations, same draws: the default variant's particles, bit for bit where the
        // driver compiles both alike (SwiftShader: every case; lavapipe: all but the ve case, where
        // LLVM contracts a multiply-add differently in one layout: 1 ulp on ~5 % of the particles).
        expect(maxRelativeDifference(gpu.particles, first.particles)).toBeLessThanOrEqual(SAME_PARTICLES);
      }
    });
  }
  it('covers the fast kernel on enough cases', () => {
    expect(fastCases).toBeGreaterThanOrEqual(20);
  });

  it('a variant for another dimension is refused when forced', async () => {
    const spec = parseSpec(EXTRA[3].spec('euler')); // d = 5
    const single = GAUSS4_VARIANTS.find((v) => v.shader === 'step-gauss1')!;
    await expect(sampleWebGpu(ctx, spec, { kernelVariant: single.name })).rejects.toThrow(/dim <= 4/);
    await expect(sampleWebGpu(ctx, spec, { kernelVariant: 'no-such-variant' })).rejects.toThrow(
      /unknown kernel variant/,
    );
  });

  it('auto: tuned on first use of the adapter and shape, then cached (in memory and in the file); same particles', async () => {
    process.env.GUIDANCE_SAMPLER_VARIANT_CACHE = join(cacheDir, 'kernel-variants.json');
    // The suite pins a variant (vitest.config.ts): this test unpins it to see the tuner at work.
    const pinned = process.env.GUIDANCE_SAMPLER_KERNEL_VARIANT;
    delete process.env.GUIDANCE_SAMPLER_KERNEL_VARIANT;
    try {
      clearTunedVariants();
      const spec = parseSpec(EXTRA[0].spec('euler'));
      const tuned = await sampleGpuParticles(ctx, spec, { kernelVariant: 'auto' });
      expect(tuned.info.variant.why).toBe('tuned');
      const trials = tuned.info.variant.trials!;
      expect(Object.keys(trials.seconds).sort()).toEqual(
        variantsFor(spec.dim)
          .map((v) => v.name)
          .sort(),
      );
      expect(trials.particles).toBeGreaterThan(0);
      const cached = await sampleGpuParticles(ctx, spec, {});
      expect(cached.info.variant).toEqual({ name: tuned.info.variant.name, why: 'cached' });
      expect(Array.from(cached.particles)).toEqual(Array.from(tuned.particles));
      // The file holds the choice: a fresh process (here: memory cleared) reads it back.
      const file = JSON.parse(readFileSync(process.env.GUIDANCE_SAMPLER_VARIANT_CACHE, 'utf8'));
      expect(Object.values(file.choices)).toContain(tuned.info.variant.name);
      clearTunedVariants();
      const fromFile = await sampleGpuParticles(ctx, spec, {});
      expect(fromFile.info.variant).toEqual({ name: tuned.info.variant.name, why: 'cached' });
      // A forced variant gives the same particles again.
      const other = variantsFor(spec.dim).find((v) => v.name !== tuned.info.variant.name)!;
      const forced = await sampleGpuParticles(ctx, spec, { kernelVariant: other.name });
      expect(forced.info.variant).toEqual({ name: other.name, why: 'forced' });
      expect(maxRelativeDifference(forced.particles, tuned.particles)).toBeLessThanOrEqual(SAME_PARTICLES);
      // The general kernel has no variants.
      const general = await sampleGpuParticles(ctx, spec, { kernel: 'general' });
      expect(general.info.variant).toEqual({ name: 'general', why: 'only' });
    } finally {
      delete process.env.GUIDANCE_SAMPLER_VARIANT_CACHE;
      if (pinned !== undefined) process.env.GUIDANCE_SAMPLER_KERNEL_VARIANT = pinned;
    }
  });
});

it('chooseVariant: the fastest trial wins, is stored, then cached; trials grow until they are long enough', async () => {
  clearTunedVariants();
  const stored = new Map<string, string>();
  const store = { get: (k: string) => stored.get(k), set: (k: string, v: string) => void stored.set(k, v) };
  const sizes: number[] = [];
  // A fake clock: variant i "takes" (i + 1) us per particle, except the second, which is fastest.
  let clock = 0;
  const cost = (v: KernelVariant): number => (v === GAUSS4_VARIANTS[1] ? 0.5 : GAUSS4_VARIANTS.indexOf(v) + 1);
  const trial = async (v: KernelVariant, particles: number): Promise<void> => {
    sizes.push(particles);
    clock += (cost(v) * particles) / 1000;
  };
  const input = { key: 'test adapter|shape', store, particles: 1 << 20, steps: 10, dim: 1, trial, now: () => clock };
  const tuned = await chooseVariant(input);
  expect(tuned.why).toBe('tuned');
  expect(tuned.variant).toBe(GAUSS4_VARIANTS[1]);
  expect(stored.get('test adapter|shape')).toBe(GAUSS4_VARIANTS[1].name);
  expect(Math.max(...sizes)).toBeGreaterThan(Math.min(...sizes));
  const again = await chooseVariant({ ...input, trial: () => Promise.reject(new Error('no trial when cached')) });
  expect(again).toEqual({ variant: GAUSS4_VARIANTS[1], why: 'cached' });
  clearTunedVariants();
  const fromStore = await chooseVariant({ ...input, trial: () => Promise.reject(new Error('no trial when stored')) });
  expect(fromStore.why).toBe('cached');
  // The Node platform has a store; its file path honours the override.
  expect(nodePlatform.variantStore).toBeDefined();
});
