// The browser side of the Chrome benchmark (bench/chrome.ts): acquires the device (with
// 'timestamp-query' where the adapter has it) and times workloads on request, with the same
// code as the Node side (bench/gpu-timing.ts).
import type { GpuContext } from '../src/gpu/device.ts';
import { browserPlatform } from '../src/platform/browser.ts';
import { adapterDescription } from './common.ts';
import { acquireTimedGpu, type SamplerChoice, timeWorkload, type TimedWorkload } from './gpu-timing.ts';
import { scalingWorkload, type ScalingPoint } from './workloads.ts';

export interface BenchPageApi {
  /** Adapter, features, limits, user agent; rejects when there is no WebGPU. */
  info(): Promise<{ adapter: Record<string, unknown>; userAgent: string; timestampQuery: boolean }>;
  run(point: ScalingPoint, opts: { repeats: number; warmup: number; sampler?: SamplerChoice }): Promise<TimedWorkload>;
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
};

(window as unknown as { bench: BenchPageApi }).bench = api;
