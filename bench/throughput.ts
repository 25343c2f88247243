// Particle-steps per second of the CPU reference and the WebGPU path (Node, Dawn) on
// the standard workload, side by side in one run. Prints one JSON object.
//   npm run bench -- [--particles N] [--steps S] [--repeats R] [--cpu-particles N]
import os from 'node:os';
import { Command } from 'commander';
import { sampleCpu } from '../src/cpu/reference.ts';
import { acquireGpu } from '../src/gpu/device.ts';
import { sampleWebGpu } from '../src/gpu/sampler.ts';
import { nodePlatform } from '../src/platform/node.ts';
import { standardWorkload } from './workloads.ts';

const opts = new Command('bench')
  .option('--particles <n>', 'GPU particles', (v) => parseInt(v, 10), 2 ** 20)
  .option('--cpu-particles <n>', 'CPU particles (the reference is ~30x slower)', (v) => parseInt(v, 10), 2 ** 15)
  .option('--steps <n>', 'euler steps', (v) => parseInt(v, 10), 100)
  .option('--repeats <n>', 'timed runs after one warm-up', (v) => parseInt(v, 10), 5)
  .parse(process.argv)
  .opts();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
};

async function timeRuns(run: () => Promise<void> | void): Promise<number[]> {
  await run(); // warm-up: pipeline compilation, JIT
  const seconds: number[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    const t0 = performance.now();
    await run();
    seconds.push((performance.now() - t0) / 1000);
  }
  return seconds;
}

const cpuSpec = standardWorkload(opts.cpuParticles, opts.steps);
const cpuSeconds = await timeRuns(() => {
  sampleCpu(cpuSpec);
});
const cpuRate = (cpuSpec.particles * opts.steps) / median(cpuSeconds);

const gpu = await acquireGpu(nodePlatform);
const gpuSpec = standardWorkload(opts.particles, opts.steps);
let plan: unknown;
const gpuSeconds = await timeRuns(async () => {
  const info = await sampleWebGpu(gpu, gpuSpec, { onChunk: () => {} });
  plan = info.plan;
});
gpu.destroy();
const gpuRate = (gpuSpec.particles * opts.steps) / median(gpuSeconds);

console.log(
  JSON.stringify(
    {
      benchmark: 'throughput',
      workload: { description: '1-D, 4 Gaussian components in 2 classes, cfg w=3, euler', steps: opts.steps },
      environment: {
        node: process.version,
        platform: `${os.platform()} ${os.arch()}`,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
      },
      adapter: gpu.adapterInfo.label,
      cpu: {
        particles: cpuSpec.particles,
        secondsPerRun: cpuSeconds,
        medianSeconds: median(cpuSeconds),
        particleStepsPerSecond: cpuRate,
      },
      webgpu: {
        particles: gpuSpec.particles,
        plan,
        secondsPerRun: gpuSeconds,
        medianSeconds: median(gpuSeconds),
        particleStepsPerSecond: gpuRate,
        note: 'includes readback of every particle',
      },
      ratioWebgpuToCpu: gpuRate / cpuRate,
    },
    null,
    2,
  ),
);
