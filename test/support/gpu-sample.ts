// Runs the WebGPU sampler on a parsed spec and collects every particle (Node Dawn or browser),
// inside validation / out-of-memory / internal error scopes so that a GPU error fails the caller.
import { withErrorScopes, type GpuContext } from '../../src/gpu/device.ts';
import { sampleWebGpu, type GpuSampleInfo, type GpuSampleOptions } from '../../src/gpu/sampler.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';

export type PlanOverrides = Pick<
  GpuSampleOptions,
  | 'chunkParticles'
  | 'stepsPerDispatch'
  | 'firstParticle'
  | 'kernel'
  | 'staging'
  | 'kernelVariant'
  | 'heavyGroups'
  | 'heavyRows'
  | 'generalTables'
>;

export interface GpuSamples {
  /** Row-major particles x dim, as the GPU wrote them (f32). */
  particles: Float32Array;
  info: GpuSampleInfo;
  /** Chunk sizes in the order they arrived. */
  chunks: number[];
  ms: number;
}

export async function sampleGpuParticles(
  ctx: GpuContext,
  spec: ExperimentSpec,
  overrides: PlanOverrides = {},
): Promise<GpuSamples> {
  const started = performance.now();
  const particles = new Float32Array(spec.particles * spec.dim);
  const chunks: number[] = [];
  let offset = 0;
  const info = await withErrorScopes(ctx.device, () =>
    sampleWebGpu(ctx, spec, {
      ...overrides,
      onChunk: (chunk, count) => {
        if (chunk.length !== count * spec.dim)
          throw new Error(`chunk of ${count} particles has ${chunk.length} values`);
        particles.set(chunk, offset);
        offset += chunk.length;
        chunks.push(count);
      },
    }),
  );
  if (offset !== particles.length) throw new Error(`GPU returned ${offset / spec.dim} of ${spec.particles} particles`);
  ctx.checkErrors();
  return { particles, info, chunks, ms: performance.now() - started };
}
