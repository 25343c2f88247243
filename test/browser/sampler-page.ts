// Browser page of test/browser/sampler.test.ts: the same sampler as in Node (src/gpu/sampler.ts)
// through src/platform/browser.ts. Publishes the adapter once the device is ready, then serves
// window.__runSampler(spec) calls from the test (the spec arrives parsed: the parser reads files
// with node:fs and stays on the Node side).

import { acquireGpu, type GpuAdapterInfo } from '../../src/gpu/device.ts';
import type { GpuSampleInfo } from '../../src/gpu/sampler.ts';
import { browserPlatform } from '../../src/platform/browser.ts';
import type { ExperimentSpec } from '../../src/experiment/types.ts';
import { type PlanOverrides, sampleGpuParticles } from '../support/gpu-sample.ts';
import { publishResult } from '../support/page.ts';

export interface SamplerPageReady {
  adapterInfo: GpuAdapterInfo;
  userAgent: string;
}

export interface SamplerPageRun {
  /** The f32 particles as numbers (exact: every f32 is a double). */
  particles: number[];
  info: GpuSampleInfo;
  ms: number;
}

declare global {
  interface Window {
    __runSampler?: (spec: ExperimentSpec, overrides?: PlanOverrides) => Promise<SamplerPageRun>;
  }
}

publishResult(async (): Promise<SamplerPageReady> => {
  const ctx = await acquireGpu(browserPlatform);
  window.__runSampler = async (spec, overrides) => {
    const run = await sampleGpuParticles(ctx, spec, overrides);
    return { particles: Array.from(run.particles), info: run.info, ms: run.ms };
  };
  window.addEventListener('pagehide', () => ctx.destroy());
  return { adapterInfo: ctx.adapterInfo, userAgent: navigator.userAgent };
});
