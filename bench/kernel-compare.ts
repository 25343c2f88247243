// The project's stepping kernel against the naive baseline kernel (bench/naive.ts) on one spec,
// in one page (or process) and interleaved: run r of each follows run r of the other, so a load
// swing on a shared machine hits both. Platform-agnostic (a GpuContext and the naive kernel's text
// in): the Chrome page (bench/chrome-page.ts) and Node (bench/chrome.ts) compare with this code.
import type { ExperimentSpec } from '../src/experiment/types.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { sampleWebGpu, type GpuSampleInfo, type GpuSampleOptions } from '../src/gpu/sampler.ts';
import { median } from './common.ts';
import { naiveRunner } from './naive.ts';

export interface KernelComparison {
  particles: number;
  steps: number;
  /** Wall seconds per timed run (sampling start to the GPU's finish, particles left on the GPU). */
  projectWallSeconds: number[];
  naiveWallSeconds: number[];
  /** Particle-steps per second of each timed run. */
  projectParticleStepsPerSecond: number[];
  naiveParticleStepsPerSecond: number[];
  medianProjectParticleStepsPerSecond: number;
  medianNaiveParticleStepsPerSecond: number;
  /** Median project rate over median naive rate. */
  projectOverNaive: number;
  /** Largest |project - naive| over the particles of one untimed run of each (f32 rounding only). */
  maxAbsDifference: number;
  /**
   * The project kernel's report of the timed runs: kernel, dispatch plan, tables, variant; and how
   * that variant was chosen on the first (untimed) run: tuned (with the trials' seconds), cached or forced.
   */
  project: Pick<GpuSampleInfo, 'kernel' | 'plan' | 'tables' | 'variant'> & { chosen: GpuSampleInfo['variant'] };
}

type ProjectOptions = Pick<GpuSampleOptions, 'kernel' | 'stepsPerDispatch' | 'kernelVariant'>;

export async function compareWithNaive(
  gpu: GpuContext,
  spec: ExperimentSpec,
  naiveSource: string,
  opts: { repeats: number; warmup: number; project?: ProjectOptions },
): Promise<KernelComparison> {
  const naive = await naiveRunner(gpu, spec, naiveSource);
  try {
    // Untimed: agreement of the two kernels' particles (and the warm-up: compiles, first choice).
    let projectParticles: Float32Array | null = null;
    const first = await sampleWebGpu(gpu, spec, {
      ...opts.project,
      onChunk: (chunk) => {
        projectParticles = chunk;
      },
    });
    await naive.run();
    const naiveParticles = await naive.particles();
    let maxAbsDifference = 0;
    for (let i = 0; i < naiveParticles.length; i++)
      maxAbsDifference = Math.max(maxAbsDifference, Math.abs(naiveParticles[i] - projectParticles![i]));
    let info = first;
    for (let r = 1; r < opts.warmup; r++) {
      await sampleWebGpu(gpu, spec, { ...opts.project });
      await naive.run();
    }
    const projectWallSeconds: number[] = [];
    const naiveWallSeconds: number[] = [];
    for (let r = 0; r < Math.max(1, opts.repeats); r++) {
      let t0 = performance.now();
      info = await sampleWebGpu(gpu, spec, { ...opts.project });
      projectWallSeconds.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      await naive.run();
      naiveWallSeconds.push((performance.now() - t0) / 1000);
    }
    const work = spec.particles * spec.solver.steps;
    const rate = (s: number[]): number[] => s.map((x) => work / x);
    const projectRate = median(rate(projectWallSeconds));
    const naiveRate = median(rate(naiveWallSeconds));
    return {
      particles: spec.particles,
      steps: spec.solver.steps,
      projectWallSeconds,
      naiveWallSeconds,
      projectParticleStepsPerSecond: rate(projectWallSeconds),
      naiveParticleStepsPerSecond: rate(naiveWallSeconds),
      medianProjectParticleStepsPerSecond: projectRate,
      medianNaiveParticleStepsPerSecond: naiveRate,
      projectOverNaive: projectRate / naiveRate,
      maxAbsDifference,
      project: {
        kernel: info.kernel,
        plan: info.plan,
        tables: info.tables,
        variant: info.variant,
        chosen: first.variant,
      },
    };
  } finally {
    naive.destroy();
  }
}
