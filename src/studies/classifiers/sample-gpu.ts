// Sampling with a trained classifier's guidance on the GPU: the counterpart of
// sampleWithClassifier (src/studies/classifiers/sample.ts), s = s_u + w(t) grad_x log p_hat_t(target | x),
// through the plan's trained guidance (prepareExperiment's `classifier` option) (the general step kernel with
// shaders/classifier.wgsl). Same initial noise and SDE noise streams as the CPU, so the two
// agree particle by particle up to f32 rounding (test/gpu/classifier-guidance.test.ts).
import { prepareExperiment } from '../../experiment/plan.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { sampleWebGpu, type GpuSampleInfo, type GpuSampleOptions } from '../../gpu/sampler.ts';
import type { ExperimentSpec, WSchedule } from '../../experiment/types.ts';
import { ExactClassifier, PerLevelClassifier, type TrainedClassifier } from '../../model/classifier/classifier.ts';
import type { GuidedSampler } from './experiment.ts';
import { sampleWithClassifier, type ClassifierSampleOptions } from './sample.ts';

export interface GpuClassifierSampleOptions extends ClassifierSampleOptions {
  /** Planner overrides and progress, as sampleWebGpu's. */
  gpu?: Pick<GpuSampleOptions, 'chunkParticles' | 'stepsPerDispatch' | 'onProgress'>;
}

/** Particles [first, first + count) of the spec's seed, row-major count x dim, f32 as the GPU wrote them. */
export async function sampleWithClassifierGpu(
  gpu: GpuContext,
  spec: ExperimentSpec,
  clf: PerLevelClassifier,
  w: number | WSchedule,
  opts: GpuClassifierSampleOptions = {},
): Promise<{ particles: Float32Array; info: GpuSampleInfo }> {
  const count = opts.particles ?? spec.particles;
  const particles = new Float32Array(count * spec.dim);
  let offset = 0;
  const plan = prepareExperiment({ ...spec, particles: count }, { classifier: { model: clf, w } });
  const info = await sampleWebGpu(gpu, plan, {
    ...opts.gpu,
    firstParticle: opts.first ?? 0,
    onChunk: (chunk, n) => {
      particles.set(chunk.subarray(0, n * spec.dim), offset);
      offset += n * spec.dim;
    },
  });
  if (offset !== particles.length)
    throw new Error(`sampleWithClassifierGpu: the GPU returned ${offset / spec.dim} of ${count} particles`);
  return { particles, info };
}

/**
 * The `classifiers` experiment's sampling part on the GPU: a PerLevelClassifier through
 * sampleWithClassifierGpu; the exact classifier as the spec's `classifier` guidance
 * (w s_c + (1 - w) s_u = s_u + w grad log p_t(c|x) exactly; at alpha = 0, flow at t = 1 only,
 * it uses the guided data mean where the CPU's sampleWithClassifier takes the unconditional
 * one); any other classifier (PriorClassifier) on the CPU.
 */
export function gpuSampler(gpu: GpuContext): GuidedSampler {
  return {
    backend: 'webgpu',
    adapter: gpu.adapterInfo.label,
    async sample(spec: ExperimentSpec, clf: TrainedClassifier, w: number, particles: number) {
      if (clf instanceof PerLevelClassifier)
        return (await sampleWithClassifierGpu(gpu, { ...spec, corrector: null }, clf, w, { particles })).particles;
      if (clf instanceof ExactClassifier) {
        const out = new Float32Array(particles * spec.dim);
        let offset = 0;
        const guided: ExperimentSpec = {
          ...spec,
          particles,
          corrector: null,
          guidance: { kind: 'classifier', w: { kind: 'constant', w } },
        };
        await sampleWebGpu(gpu, guided, {
          onChunk: (chunk, n) => {
            out.set(chunk.subarray(0, n * spec.dim), offset);
            offset += n * spec.dim;
          },
        });
        return out;
      }
      return sampleWithClassifier(spec, clf, w, { particles });
    },
  };
}
