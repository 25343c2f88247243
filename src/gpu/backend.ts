// The WebGPU host as a SamplerBackend (src/backend/sampler.ts): the plan's chunks read back into
// one reused host array and streamed to the caller in index order.
import { countNonFinite, type SampleReport, type SampleRequest, type SamplerBackend } from '../backend/sampler.ts';
import type { ExperimentPlan } from '../experiment/plan.ts';
import type { GpuContext } from './device.ts';
import { sampleWebGpu } from './sampler.ts';

export interface WebGpuBackendOptions {
  /** The fast kernel's variant (src/gpu/variants.ts): a name or 'auto'; default: the platform's, else auto. */
  kernelVariant?: string;
}

export function webGpuBackend(gpu: GpuContext, options: WebGpuBackendOptions = {}): SamplerBackend {
  return {
    name: 'webgpu',
    adapter: gpu.adapterInfo.label,
    async sample(plan: ExperimentPlan, request: SampleRequest = {}): Promise<SampleReport> {
      const { dim } = plan.spec;
      const started = performance.now();
      const first = request.first ?? 0;
      const count = request.count ?? plan.spec.particles;
      let nonFinite = 0;
      let done = 0;
      const info = await sampleWebGpu(gpu, plan, {
        firstParticle: first,
        count,
        reuseChunk: true,
        kernelVariant: options.kernelVariant,
        onProgress: request.onProgress,
        onChunk: async (chunk, n) => {
          nonFinite += countNonFinite(chunk, n, dim);
          const at = first + done;
          done += n;
          // Awaited by the sampler before the next readback reuses the array.
          return request.onChunk?.(chunk, n, at);
        },
      });
      const { fk, ...details } = info;
      return {
        backend: 'webgpu',
        adapter: info.adapter,
        first,
        count,
        dim,
        nonFinite,
        elapsedMs: performance.now() - started,
        fk: fk ?? null,
        details,
      };
    },
  };
}
