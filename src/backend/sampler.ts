// The one interface both sampling backends implement (src/cpu/backend.ts, src/gpu/backend.ts):
// a plan in, particles streamed out in index order, one report. The chunk arrays differ only in
// precision (f64 on the CPU, f32 as the GPU wrote them); everything else has one shape, so a
// consumer (CLI, reproductions, benchmarks) writes its loop once.
//
// GPU-resident consumers (metrics binned inside the sampler's dispatches without a readback,
// src/checks/measure.ts) call sampleWebGpu directly: that is a GPU capability, not a backend one.
import type { FkReport } from '../corrector/fk.ts';
import type { ExperimentPlan } from '../experiment/plan.ts';

export type BackendName = 'cpu' | 'webgpu';

export interface SampleRequest {
  /** Global index of the first particle (default 0): sample [first, first + count). */
  first?: number;
  /** Particles to sample (default plan.spec.particles). */
  count?: number;
  /**
   * Each finished block, in index order: count x dim, its global first index. The array may be
   * reused for a later block once the call (and any promise it returns) settles: copy what must outlive it.
   */
  onChunk?: (chunk: Float32Array | Float64Array, count: number, first: number) => void | Promise<void>;
  onProgress?: (done: number, total: number) => void;
}

export interface SampleReport {
  backend: BackendName;
  /** The WebGPU adapter's label; null on the CPU. */
  adapter: string | null;
  first: number;
  count: number;
  dim: number;
  /** Particles with a non-finite coordinate (streamed like every other: counted, never dropped). */
  nonFinite: number;
  elapsedMs: number;
  /** The Feynman-Kac corrector's diagnostics, when the plan has one. */
  fk: FkReport | null;
  /** Backend details: the GPU's kernel, tile and dispatch plan; the CPU's thread count. */
  details: Record<string, unknown>;
}

export interface SamplerBackend {
  readonly name: BackendName;
  readonly adapter: string | null;
  sample(plan: ExperimentPlan, request?: SampleRequest): Promise<SampleReport>;
}

/** Counts the particles of a row-major block with a non-finite coordinate. */
export function countNonFinite(chunk: ArrayLike<number>, count: number, dim: number): number {
  let bad = 0;
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < dim; i++) {
      if (!Number.isFinite(chunk[p * dim + i])) {
        bad++;
        break;
      }
    }
  }
  return bad;
}

/** All particles of a request gathered on the host as f64 (count x dim), with the report. */
export async function collectParticles(
  backend: SamplerBackend,
  plan: ExperimentPlan,
  request: Omit<SampleRequest, 'onChunk'> = {},
): Promise<{ particles: Float64Array; report: SampleReport }> {
  const dim = plan.spec.dim;
  const first = request.first ?? 0;
  const particles = new Float64Array((request.count ?? plan.spec.particles) * dim);
  const report = await backend.sample(plan, {
    ...request,
    onChunk: (chunk, n, at) => particles.set(chunk.subarray(0, n * dim), (at - first) * dim),
  });
  return { particles, report };
}
