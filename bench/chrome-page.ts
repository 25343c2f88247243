// The browser side of the Chrome benchmark (bench/chrome.ts): acquires the device (with
// 'timestamp-query' where the adapter has it) and times workloads on request, with the same
// code as the Node side (bench/gpu-timing.ts).
import type { GpuContext } from '../src/gpu/device.ts';
import { browserPlatform } from '../src/platform/browser.ts';
import { adapterDescription } from './common.ts';
import { acquireTimedGpu, type SamplerChoice, timeWorkload, type TimedWorkload } from './gpu-timing.ts';
import { compareWithNaive, type KernelComparison } from './kernel-compare.ts';
import naiveSource from './shaders/naive-step.wgsl?raw';
import { scalingWorkload, type ScalingPoint, standardWorkload } from './workloads.ts';

export interface BenchPageApi {
  /** Adapter, features, limits, user agent; rejects when there is no WebGPU. */
  info(): Promise<{ adapter: Record<string, unknown>; userAgent: string; timestampQuery: boolean }>;
  run(point: ScalingPoint, opts: { repeats: number; warmup: number; sampler?: SamplerChoice }): Promise<TimedWorkload>;
  /** The standard workload on the project's kernel and on the naive baseline, interleaved (bench/kernel-compare.ts). */
  compare(
    workload: { particles: number; steps: number },
    opts: { repeats: number; warmup: number; sampler?: SamplerChoice; naiveSource?: string },
  ): Promise<KernelComparison>;
}

let gpu: Promise<GpuContext> | null = null;
const device = (): Promise<GpuContext> => (gpu ??= acquireTimedGpu(browserPlatform));
const log = document.getElementById('log')!;

const api: BenchPageApi = {
  async info() {
    const g = await device();
    return {
      adapter: adapterDescription(g),
      userAgent: navigator.userAgent,
      timestampQuery: g.device.features.has('timestamp-query'),
    };
  },
  async run(point, opts) {
    const g = await device();
    const result = await timeWorkload(g, scalingWorkload(point), opts);
    log.textContent += `${JSON.stringify(point)} ${result.kernel}: ${(result.particleStepsPerSecond.wall / 1e6).toFixed(2)} M particle-steps/s\n`;
    return result;
  },
  async compare(workload, opts) {
    const g = await device();
    const spec = standardWorkload(workload.particles, workload.steps);
    const r = await compareWithNaive(g, spec, opts.naiveSource ?? naiveSource, { ...opts, project: opts.sampler });
    const m = (v: number): string => (v / 1e6).toFixed(2);
    log.textContent += `standard ${JSON.stringify(workload)}: project ${m(r.medianProjectParticleStepsPerSecond)}, naive ${m(r.medianNaiveParticleStepsPerSecond)} M particle-steps/s\n`;
    return r;
  },
};

(window as unknown as { bench: BenchPageApi }).bench = api;
