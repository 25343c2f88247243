// The corrector's reduction and resampling kernels on synthetic log-weights, against their f64
// counterparts in src/corrector/fk.ts: NaN, +-Infinity, weights 800 nats apart, an all-NaN
// block and a partial last block. Inside validation error scopes; buffers destroyed after.
//
// Tolerances (f32, u = 2^-24): a block's max is exact; its sum of w = exp(logw - max) <= 1024
// terms is an f32 sum of f32 exponentials (exp's own error <= 3 + 2|x| ulp, WGSL spec; |x| <= 88
// where w is not flushed to 0), bounded by (1024 + 180) u relative; prefixes likewise against
// the f64 running sum, relative to the block total.
import { expect, it } from 'vitest';
import { FK_BLOCK, blockStats, planSystematic, summariseBlocks, systematicAncestors } from '../../src/corrector/fk.ts';
import { withErrorScopes } from '../../src/gpu/device.ts';
import { readFloats } from '../../src/gpu/buffers.ts';
import { fkPipelines } from '../../src/gpu/fk.ts';
import {
  FK_BLOCK_PLAN,
  FK_BLOCK_STATS,
  FK_PARAMS,
  packStructs,
  structBytes,
  unpackStructs,
} from '../../src/gpu/layout.ts';
import { gridFor, WORKGROUP_SIZE } from '../../src/gpu/planner.ts';
import { describeGpu } from '../support/gpu.ts';

const U = 2 ** -24;
const COUNT = 5 * FK_BLOCK + 321; // a partial last block

function syntheticLogWeights(): Float32Array {
  const w = new Float32Array(COUNT);
  for (let i = 0; i < COUNT; i++) w[i] = Math.sin(i * 0.37) * 6 + (i % 97 === 0 ? -800 : 0) + (i % 211 === 5 ? 30 : 0);
  w[17] = Number.NaN;
  w[18] = Number.POSITIVE_INFINITY;
  w[19] = Number.NEGATIVE_INFINITY;
  for (let i = 2 * FK_BLOCK; i < 3 * FK_BLOCK; i++) w[i] = Number.NaN; // a block with no weight
  return w;
}

await describeGpu('fk reduce and resample kernels', (gpu) => {
  it('block statistics, prefixes and the gather match f64, and never draw a non-finite weight', async () => {
    const { device } = gpu;
    const logW = syntheticLogWeights();
    const blocks = Math.ceil(COUNT / FK_BLOCK);
    const buffers: GPUBuffer[] = [];
    const make = (label: string, size: number, usage: GPUBufferUsageFlags) => {
      const b = device.createBuffer({ label, size: Math.max(16, size), usage });
      buffers.push(b);
      return b;
    };
    try {
      await withErrorScopes(device, async () => {
        const { reduce, resample } = await fkPipelines(device, gpu.platform, 1);
        const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
        const params = make('test fk params', structBytes(FK_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
        device.queue.writeBuffer(params, 0, packStructs(FK_PARAMS, [{ count: COUNT, blocks }]));
        const weights = make('test log-weights', COUNT * 4, S);
        device.queue.writeBuffer(weights, 0, logW);
        const prefix = make('test prefix', COUNT * 4, S);
        const stats = make('test block stats', blocks * structBytes(FK_BLOCK_STATS), S);
        const x = make('test particles in', COUNT * 4, S);
        device.queue.writeBuffer(
          x,
          0,
          Float32Array.from({ length: COUNT }, (_, i) => i),
        ); // x = own index
        const states = make('test states in', COUNT * 8, S);
        const xOut = make('test particles out', COUNT * 4, S);
        const statesOut = make('test states out', COUNT * 8, S);
        const ancestorsBuffer = make('test ancestors', COUNT * 4, S);
        const planBuffer = make('test plan', blocks * structBytes(FK_BLOCK_PLAN), S);

        const run = (pipeline: GPUComputePipeline, entries: GPUBuffer[], grid: [number, number], label: string) => {
          const bind = device.createBindGroup({
            label,
            layout: pipeline.getBindGroupLayout(0),
            entries: entries.map((buffer, binding) => ({ binding, resource: { buffer } })),
          });
          const encoder = device.createCommandEncoder({ label });
          const pass = encoder.beginComputePass({ label });
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bind);
          pass.dispatchWorkgroups(...grid);
          pass.end();
          device.queue.submit([encoder.finish()]);
        };
        run(reduce, [params, weights, prefix, stats], [blocks, 1], 'test reduce');
        const statsBytes = blocks * structBytes(FK_BLOCK_STATS);
        const got = unpackStructs(
          FK_BLOCK_STATS,
          (await readFloats(gpu, stats, statsBytes / 4)).buffer as ArrayBuffer,
          blocks,
        );
        const want = blockStats(Float64Array.from(logW), COUNT);
        const pre = await readFloats(gpu, prefix, COUNT);
        for (let k = 0; k < blocks; k++) {
          expect(got[k].nonFinite).toBe(want[k].nonFinite);
          if (want[k].sum === 0) {
            expect(got[k].sum).toBe(0);
            continue;
          }
          expect(got[k].max).toBe(Math.fround(want[k].max));
          const tol = (FK_BLOCK + 180) * U;
          expect(Math.abs(got[k].sum - want[k].sum)).toBeLessThanOrEqual(tol * want[k].sum);
          expect(Math.abs(got[k].sumSq - want[k].sumSq)).toBeLessThanOrEqual(tol * want[k].sum);
          // Prefixes: the f64 running sum to within the same bound; non-decreasing; flat where w = 0.
          let running = 0;
          for (let i = k * FK_BLOCK; i < Math.min(COUNT, (k + 1) * FK_BLOCK); i++) {
            const finite = Number.isFinite(logW[i]);
            if (finite) running += Math.exp(logW[i] - want[k].max);
            expect(Math.abs(pre[i] - running)).toBeLessThanOrEqual(tol * want[k].sum);
            if (i > k * FK_BLOCK) {
              expect(pre[i]).toBeGreaterThanOrEqual(pre[i - 1]);
              if (!finite) expect(pre[i]).toBe(pre[i - 1]);
            }
          }
        }

        // Gather with the host's plan; x holds each particle's own index, so x_out is the ancestry.
        const summary = summariseBlocks(got as never);
        const u = 0.4142;
        const plan = planSystematic(got as never, summary, COUNT, u);
        device.queue.writeBuffer(planBuffer, 0, packStructs(FK_BLOCK_PLAN, plan as never));
        run(
          resample,
          [params, planBuffer, prefix, x, states, xOut, statesOut, ancestorsBuffer],
          gridFor(COUNT, WORKGROUP_SIZE, 65535),
          'test resample',
        );
        const ancestors = new Uint32Array((await readFloats(gpu, ancestorsBuffer, COUNT)).buffer as ArrayBuffer);
        const copied = await readFloats(gpu, xOut, COUNT);
        const ref = systematicAncestors(Float64Array.from(logW), COUNT, u);
        let mismatches = 0;
        for (let j = 0; j < COUNT; j++) {
          expect(copied[j]).toBe(ancestors[j]);
          expect(Number.isFinite(logW[ancestors[j]])).toBe(true);
          if (ancestors[j] !== ref[j]) mismatches++;
        }
        console.log(`fk kernels: ${mismatches} of ${COUNT} ancestors differ from f64 systematic resampling`);
        expect(mismatches).toBeLessThanOrEqual(10);
      });
    } finally {
      for (const b of buffers) b.destroy();
    }
  });
});
