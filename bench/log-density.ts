// Density-augmented stepping (the log-density mode, src/gpu/log-density.ts) against the plain
// step on WebGPU, same workload side by side in one process, runs interleaved (plain, density,
// plain, ...) so that a shared machine's load hits both alike. Both run the general step kernel
// and read their results back (particles; the density run also log q); 'plainAuto' is the plain
// sampler as a user gets it (the 4-wide fast path where the spec qualifies), for reference.
// Issue 13's target: density / plain <= 1.5. JSON on stdout.
//
//   npm run bench:log-density                 # ~1 minute on a 2-core lavapipe
//   npm run bench:log-density -- --particles 262144 --repeats 7
import { Command } from 'commander';
import { adapterDescription, median, sig } from './common.ts';
import { intOption, nodeEnvironment, nodeGpu } from './node-env.ts';
import { sampleWebGpu } from '../src/gpu/sampler.ts';
import { sampleLogDensityWebGpu } from '../src/gpu/log-density.ts';
import { parseSpec } from '../src/experiment/parse.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import type { GpuContext } from '../src/gpu/device.ts';

const gauss = (mean: number[], cov: unknown) => ({ kind: 'gaussian', weight: 1, mean, cov });
const box = (low: number[], high: number[]) => ({ kind: 'uniform', weight: 1, low, high });

/** The workloads: the Gaussian pair (1-D), an 8-D isotropic pair, a 2-D box mixture; cfg, heun. */
function workloads(particles: number, steps: number): { name: string; spec: ExperimentSpec }[] {
  const base = { process: { kind: 'ou', T: 10 }, solver: { kind: 'heun', steps }, particles, seed: 1 };
  return [
    {
      name: 'gaussian-pair-1d',
      spec: parseSpec({
        ...base,
        dim: 1,
        classes: [{ name: 'p', components: [gauss([1], 1)] }],
        target: 'p',
        guidance: { kind: 'cfg', w: 3, negative: { components: [gauss([0], 2)] } },
      }),
    },
    {
      name: 'gaussian-8d',
      spec: parseSpec({
        ...base,
        dim: 8,
        classes: [
          { name: 'a', components: [gauss([1, 0, 0, 0, 0, 0, 0, 1], 0.5)] },
          { name: 'b', components: [gauss([0, 0, 0, 0, 0, 0, 0, -1], 1)] },
        ],
        target: 'a',
        guidance: { kind: 'cfg', w: 2 },
      }),
    },
    {
      name: 'boxes-2d',
      spec: parseSpec({
        ...base,
        dim: 2,
        classes: [
          { name: 'a', components: [box([-1, 0], [1, 0.5])] },
          { name: 'b', components: [box([-2, -2], [0, -1]), gauss([1, 1], 0.5)] },
        ],
        target: 'a',
        guidance: { kind: 'cfg', w: 1.5 },
        solver: { kind: 'heun', steps, grid: { kind: 'edm', rho: 7 } },
      }),
    },
  ];
}

type Variant = 'plain' | 'density' | 'plainAuto';

async function runOnce(gpu: GpuContext, spec: ExperimentSpec, v: Variant): Promise<number> {
  const t0 = performance.now();
  if (v === 'density') await sampleLogDensityWebGpu(gpu, spec);
  else await sampleWebGpu(gpu, spec, { kernel: v === 'plain' ? 'general' : 'auto', onChunk: () => {} });
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const opts = new Command('bench:log-density')
    .option('--particles <n>', 'particles per run', intOption('--particles'), 2 ** 17)
    .option('--steps <n>', 'solver steps', intOption('--steps'), 50)
    .option('--repeats <n>', 'timed runs per variant', intOption('--repeats'), 5)
    .parse()
    .opts<{ particles: number; steps: number; repeats: number }>();
  const gpu = await nodeGpu();
  const variants: Variant[] = ['plain', 'density', 'plainAuto'];
  const results = [];
  for (const { name, spec } of workloads(opts.particles, opts.steps)) {
    for (const v of variants) await runOnce(gpu, spec, v); // warm-up: pipelines, JIT
    const samples: Record<Variant, number[]> = { plain: [], density: [], plainAuto: [] };
    for (let r = 0; r < opts.repeats; r++) for (const v of variants) samples[v].push(await runOnce(gpu, spec, v));
    const med = (v: Variant) => median(samples[v]);
    results.push({
      workload: name,
      dim: spec.dim,
      solver: spec.solver.kind,
      steps: spec.solver.steps,
      particles: spec.particles,
      secondsPerRun: Object.fromEntries(variants.map((v) => [v, samples[v].map((s) => sig(s))])),
      medianSeconds: Object.fromEntries(variants.map((v) => [v, sig(med(v))])),
      particleStepsPerSecond: Object.fromEntries(
        variants.map((v) => [v, sig((spec.particles * spec.solver.steps) / med(v))]),
      ),
      ratioDensityOverPlain: sig(med('density') / med('plain')),
      ratioDensityOverPlainAuto: sig(med('density') / med('plainAuto')),
      withinTarget: med('density') / med('plain') <= 1.5,
    });
  }
  const out = {
    benchmark: 'log-density',
    configuration: { ...opts, variants, target: 'density / plain <= 1.5 (issue 13), plain = the general kernel' },
    environment: nodeEnvironment(),
    adapter: adapterDescription(gpu),
    results,
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  gpu.device.destroy();
}

await main();
