// Dispatch splitting: the same spec sampled with the default plan and with the planner forced
// to split (small particle chunks, few steps per dispatch, a 2-D workgroup grid, a particle
// offset) gives bit-identical particles, since each particle's arithmetic does not depend on how
// the work is cut (the state round-trips through an f32 buffer exactly). Plus unit tests of
// planDispatch (src/gpu/planner.ts).

import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { planDispatch, WORKGROUP_SIZE, type PlanInput } from '../../src/gpu/planner.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles, type PlanOverrides } from '../support/gpu-sample.ts';
import { PARITY_CASES, TWO_GAUSSIANS } from '../support/sampler-cases.ts';

/** Index of the first differing value (-1 if bit-identical), comparing bit patterns. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (ua.length !== ub.length) return 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/** The context with a smaller workgroup-grid limit, so the planner picks a 2-D grid for few particles. */
function withGridLimit(ctx: GpuContext, maxComputeWorkgroupsPerDimension: number): GpuContext {
  const limits = {
    maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize,
    maxBufferSize: ctx.limits.maxBufferSize,
    maxComputeWorkgroupsPerDimension,
  } as GPUSupportedLimits;
  return { ...ctx, limits };
}

const splitCases: { name: string; spec: ExperimentSpec }[] = [
  {
    name: 'two 1-D Gaussians, cfg w=3, rk4, 3001 particles x 37 steps',
    spec: parseSpec({
      dim: 1,
      classes: TWO_GAUSSIANS,
      target: 'pos',
      process: { kind: 'ou', T: 10 },
      guidance: { kind: 'cfg', w: 3 },
      solver: { kind: 'rk4', steps: 37 },
      particles: 3001,
      seed: 3,
    }),
  },
  {
    // em: the noise of step n is stream n + 1 of the generator; a wrong firstStep would show.
    name: '2-D box and Gaussian mixture, cfg, em, 3001 particles x 37 steps',
    spec: parseSpec({
      ...PARITY_CASES.find((c) => c.name.startsWith('2-D box'))!.spec('em'),
      particles: 3001,
      solver: { kind: 'em', steps: 37, grid: { kind: 'edm', rho: 7 } },
    }),
  },
  {
    name: '2-D full-covariance mixture, classifier, heun, 3001 particles x 37 steps',
    spec: parseSpec({
      ...PARITY_CASES.find((c) => c.name.startsWith('2-D full'))!.spec('heun'),
      particles: 3001,
      solver: { kind: 'heun', steps: 37 },
    }),
  },
];

const plans: { name: string; overrides: PlanOverrides; gridLimit?: number }[] = [
  { name: 'chunks of 1000, 3 steps per dispatch', overrides: { chunkParticles: 1000, stepsPerDispatch: 3 } },
  { name: 'chunks of 1000, 1 step per dispatch', overrides: { chunkParticles: 1000, stepsPerDispatch: 1 } },
  {
    name: 'one chunk, 5 steps per dispatch, 2-D grid of at most 16 workgroups per dimension',
    overrides: { stepsPerDispatch: 5 },
    gridLimit: 16,
  },
  {
    name: 'chunks of 777, 1 step per dispatch, 2-D grid of at most 4 per dimension',
    overrides: { chunkParticles: 777, stepsPerDispatch: 1 },
    gridLimit: 4,
  },
];

await describeGpu('sampler dispatch splitting', (ctx) => {
  for (const c of splitCases) {
    it(`${c.name}: forced splits are bit-identical to the default plan`, async () => {
      const base = await sampleGpuParticles(ctx, c.spec);
      expect(base.info.plan.chunks).toBe(1);
      expect(base.info.plan.stepsPerDispatch).toBe(c.spec.solver.steps);
      for (const p of plans) {
        const run = await sampleGpuParticles(p.gridLimit ? withGridLimit(ctx, p.gridLimit) : ctx, c.spec, p.overrides);
        const chunk = p.overrides.chunkParticles ?? c.spec.particles;
        const steps = p.overrides.stepsPerDispatch!;
        const chunks = Math.ceil(c.spec.particles / chunk);
        expect(run.info.plan, p.name).toMatchObject({ chunkParticles: chunk, chunks, stepsPerDispatch: steps });
        expect(run.info.plan.dispatches, p.name).toBe(chunks * Math.ceil(c.spec.solver.steps / steps));
        expect(run.chunks, p.name).toEqual(
          Array.from({ length: chunks }, (_, i) => Math.min(chunk, c.spec.particles - i * chunk)),
        );
        const at = firstDifference(run.particles, base.particles);
        expect(at, `${p.name}: first difference at value ${at}: ${run.particles[at]} vs ${base.particles[at]}`).toBe(
          -1,
        );
      }
      console.log(`${c.name}: ${plans.length} split plans bit-identical to the default (${base.ms.toFixed(0)} ms)`);
    });
  }

  // The general kernel's tables in uniform bindings (llvmpipe's default, src/gpu/kernel.ts
  // generalTables) or in storage: the same values, so the same particles bit for bit.
  for (const c of splitCases.slice(1)) {
    it(`${c.name}: the general kernel's uniform and storage tables are bit-identical`, async () => {
      const uniform = await sampleGpuParticles(ctx, c.spec, { generalTables: 'uniform', stepsPerDispatch: 5 });
      const storage = await sampleGpuParticles(ctx, c.spec, { generalTables: 'storage', stepsPerDispatch: 5 });
      expect(uniform.info.kernel).toBe('step');
      expect(uniform.info.tables).toBe('uniform');
      expect(storage.info.tables).toBe('storage');
      expect(firstDifference(uniform.particles, storage.particles)).toBe(-1);
    });
  }

  it('firstParticle: particles [1234, 3001) sampled on their own equal the tail of the full run', async () => {
    const spec = splitCases[1].spec;
    const full = await sampleGpuParticles(ctx, spec);
    const tail = await sampleGpuParticles(
      ctx,
      { ...spec, particles: spec.particles - 1234 },
      { firstParticle: 1234, chunkParticles: 500, stepsPerDispatch: 4 },
    );
    expect(firstDifference(tail.particles, full.particles.subarray(1234 * spec.dim))).toBe(-1);
  });

  it(`a real 2-D grid: ${65535 * WORKGROUP_SIZE + 1000} particles (more than 65535 workgroups) match 1-D chunks of 65535 workgroups`, async () => {
    const n = 65535 * WORKGROUP_SIZE + 1000;
    const spec = parseSpec({
      dim: 1,
      classes: TWO_GAUSSIANS,
      target: 'pos',
      process: { kind: 'ou', T: 10 },
      guidance: { kind: 'cfg', w: 3 },
      solver: { kind: 'euler', steps: 2 },
      particles: n,
      seed: 9,
    });
    const maxX = ctx.limits.maxComputeWorkgroupsPerDimension;
    const grid = planDispatch({
      particles: n,
      dim: 1,
      components: 2,
      stages: 1,
      steps: 2,
      fullCovariance: false,
      factorStride: 3,
      limits: ctx.limits,
    });
    // The default plan: one chunk (4.2 M particles x 4 bytes is within every budget) on a 2-D grid.
    expect(grid.chunks).toBe(1);
    expect(grid.grid(n)[1]).toBeGreaterThan(1);
    // The general kernel (one particle per invocation), so that this many particles needs y > 1.
    const twoD = await sampleGpuParticles(ctx, spec, { kernel: 'general' });
    const oneD = await sampleGpuParticles(ctx, spec, { kernel: 'general', chunkParticles: maxX * WORKGROUP_SIZE });
    expect(twoD.info.plan.chunks).toBe(1);
    expect(oneD.info.plan.chunks).toBe(2);
    expect(firstDifference(twoD.particles, oneD.particles)).toBe(-1);
    console.log(
      `2-D grid ${grid.grid(n).join(' x ')} vs two 1-D chunks: bit-identical (${twoD.ms.toFixed(0)} + ${oneD.ms.toFixed(0)} ms)`,
    );
  });
});

describe('planDispatch', () => {
  const limits = {
    maxStorageBufferBindingSize: 2 ** 30,
    maxBufferSize: 2 ** 30,
    maxComputeWorkgroupsPerDimension: 65535,
  };
  const base: PlanInput = {
    particles: 1,
    dim: 1,
    components: 4,
    stages: 4,
    steps: 1000,
    fullCovariance: false,
    factorStride: 3,
    limits,
  };

  it('four particles per invocation: a quarter of the invocations, still covering every particle', () => {
    const n = 4 * 65535 * WORKGROUP_SIZE + 5;
    const plan = planDispatch({ ...base, particles: n, particlesPerInvocation: 4 });
    const [x, y] = plan.grid(plan.chunkParticles);
    expect(x).toBeLessThanOrEqual(65535);
    expect(y).toBe(2);
    expect(x * y * WORKGROUP_SIZE * 4).toBeGreaterThanOrEqual(plan.chunkParticles);
  });

  /** Checks the invariants of a plan for every chunk size it produces. */
  function checkPlan(p: PlanInput): void {
    const plan = planDispatch(p);
    const bytes = plan.chunkParticles * p.dim * 4;
    expect(bytes).toBeLessThanOrEqual(p.limits.maxStorageBufferBindingSize);
    expect(bytes).toBeLessThanOrEqual(p.limits.maxBufferSize);
    expect(plan.chunks).toBe(Math.ceil(p.particles / plan.chunkParticles));
    expect(plan.stepsPerDispatch).toBeGreaterThanOrEqual(1);
    expect(plan.stepsPerDispatch).toBeLessThanOrEqual(p.steps);
    // The factor window of one dispatch fits one storage binding.
    expect(plan.stepsPerDispatch * p.stages * p.components * p.factorStride * 4).toBeLessThanOrEqual(
      p.limits.maxStorageBufferBindingSize,
    );
    const last = p.particles - (plan.chunks - 1) * plan.chunkParticles;
    for (const count of new Set([plan.chunkParticles, last, 1])) {
      const [x, y] = plan.grid(count);
      expect(x).toBeGreaterThanOrEqual(1);
      expect(x).toBeLessThanOrEqual(p.limits.maxComputeWorkgroupsPerDimension);
      expect(y).toBeLessThanOrEqual(p.limits.maxComputeWorkgroupsPerDimension);
      // Enough invocations for every particle, and less than one row of workgroups to spare.
      expect(x * y * WORKGROUP_SIZE).toBeGreaterThanOrEqual(count);
      expect(x * y - Math.ceil(count / WORKGROUP_SIZE) < x).toBe(true);
    }
  }

  it('a huge particle count gets a 2-D grid with x <= 65535, and chunks within the binding limit', () => {
    const p = { ...base, particles: 1e9 };
    const plan = planDispatch(p);
    const [x, y] = plan.grid(plan.chunkParticles);
    expect(x).toBe(65535);
    expect(y).toBeGreaterThan(1);
    expect(plan.chunks).toBeGreaterThan(1);
    checkPlan(p);
  });

  it('chunk sizes respect the binding limit, the buffer size and the memory budget, whichever is smallest', () => {
    for (const dim of [1, 2, 3, 7, 16]) {
      for (const [binding, buffer] of [
        [2 ** 20, 2 ** 30],
        [2 ** 30, 2 ** 21],
        [128 * 2 ** 20, 256 * 2 ** 20],
        [4000, 4000],
      ]) {
        const lim = { ...limits, maxStorageBufferBindingSize: binding, maxBufferSize: buffer };
        const p = { ...base, dim, factorStride: 1 + 2 * dim, particles: 5e8 + 7, limits: lim, chunkBytes: 2 ** 40 };
        const plan = planDispatch(p);
        expect(plan.chunkParticles, `dim ${dim} binding ${binding} buffer ${buffer}`).toBe(
          Math.floor(Math.min(binding, buffer) / (4 * dim)),
        );
        checkPlan(p);
        // With the default memory budget (64 MiB of particle state per chunk) as well.
        const budget = planDispatch({ ...p, chunkBytes: undefined });
        expect(budget.chunkParticles).toBe(Math.floor(Math.min(binding, buffer, 64 * 2 ** 20) / (4 * dim)));
        checkPlan({ ...p, chunkBytes: undefined });
      }
    }
  });

  it('the grid limit caps a chunk at limit^2 workgroups and a small limit still covers every particle', () => {
    for (const maxX of [1, 2, 16, 255]) {
      const p = { ...base, particles: 10 ** 7 + 3, limits: { ...limits, maxComputeWorkgroupsPerDimension: maxX } };
      const plan = planDispatch(p);
      expect(plan.chunkParticles).toBeLessThanOrEqual(maxX * maxX * WORKGROUP_SIZE);
      checkPlan(p);
    }
  });

  it('overrides win (within limits), and steps per dispatch shrink with the work per step', () => {
    const p = { ...base, particles: 3001, chunkParticles: 1000, stepsPerDispatch: 3 };
    const plan = planDispatch(p);
    expect(plan).toMatchObject({ chunkParticles: 1000, chunks: 4, stepsPerDispatch: 3 });
    checkPlan(p);
    const small = planDispatch({ ...base, particles: 1000 });
    const large = planDispatch({ ...base, particles: 10 ** 6 });
    expect(small.stepsPerDispatch).toBe(1000);
    expect(large.stepsPerDispatch).toBeLessThan(small.stepsPerDispatch);
    expect(large.stepsPerDispatch).toBeGreaterThanOrEqual(1);
    // The work budget counts invocations: four particles per invocation get four times the steps.
    const one = planDispatch({ ...base, particles: 4 * 10 ** 6, steps: 10 ** 6 });
    const four = planDispatch({ ...base, particles: 4 * 10 ** 6, steps: 10 ** 6, particlesPerInvocation: 4 });
    expect(four.stepsPerDispatch).toBe(4 * one.stepsPerDispatch);
    // Table windows in small bindings (step-gauss4's uniform tables) bound the steps per dispatch.
    const windows = { ...base, particles: 1000, components: 8, tableWindows: { bindingBytes: 65536, rowBytes: 48 } };
    const inUniform = planDispatch(windows);
    expect(inUniform.stepsPerDispatch).toBe(Math.floor(65536 / (4 * 8 * 3 * 4)));
    expect(
      inUniform.stepsPerDispatch * windows.stages * windows.components * windows.factorStride * 4,
    ).toBeLessThanOrEqual(65536);
    expect(planDispatch({ ...windows, components: 1, factorStride: 1 }).stepsPerDispatch).toBe(
      Math.floor(65536 / (4 * 48)),
    );
    checkPlan(windows);
    // A huge full-covariance step still gets at least one step per dispatch.
    expect(
      planDispatch({ ...base, particles: 10 ** 7, dim: 16, factorStride: 33, fullCovariance: true }).stepsPerDispatch,
    ).toBe(1);
  });
});

await describeGpu('fast path: four particles per invocation', (ctx) => {
  it('diagonal-Gaussian specs take the fast path and agree with the general kernel to f32 rounding', async () => {
    const { parseSpec } = await import('../../src/experiment/parse.ts');
    const { sampleWebGpu } = await import('../../src/gpu/sampler.ts');
    const { withErrorScopes } = await import('../../src/gpu/device.ts');
    const spec = parseSpec({
      dim: 3,
      classes: [
        {
          name: 'a',
          components: [
            { kind: 'gaussian', mean: [1, 0, -1], cov: [0.5, 1, 0.3] },
            { kind: 'gaussian', mean: [2, 1, 0], cov: 0.2 },
          ],
        },
        { name: 'b', components: [{ kind: 'gaussian', mean: [-1, 0, 1], cov: 1 }] },
      ],
      target: 'a',
      process: { kind: 'vp' },
      guidance: { kind: 'cfg', w: 2 },
      solver: { kind: 'em', steps: 40 },
      particles: 1003, // not a multiple of 4: spare lanes
      seed: 4,
    });
    const run = async (kernel: 'auto' | 'general') => {
      const out = new Float32Array(spec.particles * spec.dim);
      let offset = 0;
      const info = await withErrorScopes(ctx.device, () =>
        sampleWebGpu(ctx, spec, {
          kernel,
          chunkParticles: 501,
          stepsPerDispatch: 7,
          onChunk: (c) => {
            out.set(c, offset);
            offset += c.length;
          },
        }),
      );
      return { out, info };
    };
    const fast = await run('auto');
    const general = await run('general');
    expect(fast.info.kernel).toBe('step-gauss4');
    expect(fast.info.tables).toBe('uniform');
    expect(general.info.kernel).toBe('step');
    let max = 0;
    for (let i = 0; i < fast.out.length; i++) max = Math.max(max, Math.abs(fast.out[i] - general.out[i]));
    console.log(`fast path vs general kernel: max |diff| ${max.toExponential(2)}`);
    // Same operations per particle up to the order of the log-sum-exp's exps: f32 rounding of
    // O(1) values over 40 steps (the per-particle CPU parity of both kernels is tested above).
    expect(max).toBeLessThan(1e-4);
    expect(fast.out.every(Number.isFinite)).toBe(true);

    // The tables through uniform bindings (default), through uniform bindings so small that they
    // bound the steps per dispatch, and through storage (one step's tables do not fit): the same
    // reads of the same f32 values, so bit-identical particles.
    const withUniformLimit = (bytes: number): GpuContext => ({
      ...ctx,
      limits: { ...limitsOf(ctx), maxUniformBufferBindingSize: bytes } as GPUSupportedLimits,
    });
    const plain = await sampleGpuParticles(ctx, spec);
    const small = await sampleGpuParticles(withUniformLimit(400), spec); // 96 bytes of factors per step: 4 steps per dispatch
    const storage = await sampleGpuParticles(withUniformLimit(64), spec);
    expect(plain.info).toMatchObject({ kernel: 'step-gauss4', tables: 'uniform', plan: { stepsPerDispatch: 40 } });
    expect(small.info).toMatchObject({
      kernel: 'step-gauss4',
      tables: 'uniform',
      plan: { stepsPerDispatch: 4, dispatches: 10 },
    });
    expect(storage.info).toMatchObject({ kernel: 'step-gauss4', tables: 'storage', plan: { stepsPerDispatch: 40 } });
    expect(firstDifference(small.particles, plain.particles)).toBe(-1);
    expect(firstDifference(storage.particles, plain.particles)).toBe(-1);
  });
});

/** The numeric limits of a context as a plain object (GPUSupportedLimits' fields are getters). */
function limitsOf(ctx: GpuContext): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in ctx.limits) {
    const v = (ctx.limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}
