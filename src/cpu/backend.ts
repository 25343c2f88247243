// The CPU reference as a SamplerBackend (src/backend/sampler.ts): independent particles streamed
// in blocks by worker threads (src/cpu/stream.ts), a corrected population whole (src/cpu/fk.ts).
import { availableParallelism } from 'node:os';
import { countNonFinite, type SampleReport, type SampleRequest, type SamplerBackend } from '../backend/sampler.ts';
import type { ExperimentPlan } from '../experiment/plan.ts';
import { sampleCpuFk } from './fk.ts';
import { sampleCpuStream } from './stream.ts';

export interface CpuBackendOptions {
  /** Worker threads (default: the machine's available parallelism). */
  threads?: number;
}

export function cpuBackend(options: CpuBackendOptions = {}): SamplerBackend {
  return {
    name: 'cpu',
    adapter: null,
    async sample(plan: ExperimentPlan, request: SampleRequest = {}): Promise<SampleReport> {
      const { spec } = plan;
      if (plan.trained)
        throw new Error(
          'a trained-classifier plan samples on the CPU through src/studies/classifiers/sample.ts (sampleWithClassifier)',
        );
      const started = performance.now();
      const first = request.first ?? 0;
      const count = request.count ?? spec.particles;
      const threads = options.threads ?? availableParallelism();
      let nonFinite = 0;
      const consume = async (chunk: Float64Array, n: number, at: number) => {
        nonFinite += countNonFinite(chunk, n, spec.dim);
        await request.onChunk?.(chunk, n, at);
      };
      let fk: SampleReport['fk'] = null;
      if (spec.corrector) {
        // A corrected population is resampled as a whole: it is sampled whole, on one thread.
        if (first !== 0 || count !== spec.particles)
          throw new Error(`a corrected population is sampled whole: [${first}, ${first + count}) of ${spec.particles}`);
        const result = sampleCpuFk(plan, {
          onProgress: (done, total) => request.onProgress?.(Math.floor((count * done) / total), count),
        });
        fk = result.fk;
        await consume(result.particles, count, 0);
      } else {
        await sampleCpuStream(plan, { first, count, threads, onChunk: consume, onProgress: request.onProgress });
      }
      const elapsedMs = performance.now() - started;
      const details = { threads: spec.corrector ? 1 : threads };
      return { backend: 'cpu', adapter: null, first, count, dim: spec.dim, nonFinite, elapsedMs, fk, details };
    },
  };
}
