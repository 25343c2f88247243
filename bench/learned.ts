// The learned-denoiser path (docs/learned-denoisers.md) against the exact scores, at equal steps:
// grid-5x5's class "right" (VE sigma 10, heun), sampled with the exact conditional score, exact cfg,
// a learned score alone (3 x 64 SiLU), and autoguidance (3 x 64 with a 3 x 32 guide), on the CPU
// reference and on WebGPU (the general kernel). Throughput does not depend on the weights: the
// models are the trainer's untrained initialisation. JSON on stdout.
//
//   npm run bench:learned                       # ~1 minute on a 2-core lavapipe
//   npm run bench:learned -- --particles 262144 --cpu-particles 4096
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { adapterDescription, sig } from './common.ts';
import { measureCpu, measureWebGpu } from './measure.ts';
import { emitResult, intOption, nodeEnvironment, nodeGpu, OUTPUT_OPTIONS } from './node-env.ts';
import { loadSpecFile, parseSpec } from '../src/experiment/parse.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { DEFAULT_TRAIN, untrainedDenoiser } from '../src/studies/denoisers/train.ts';

const program = new Command('bench-learned')
  .option('--particles <n>', 'WebGPU particles', intOption('--particles'), 2 ** 16)
  .option('--cpu-particles <n>', 'CPU reference particles', intOption('--cpu-particles'), 2 ** 11)
  .option('--steps <n>', 'heun steps', intOption('--steps'), 32)
  .option('--repeats <n>', 'timed runs after one warm-up', intOption('--repeats'), 3)
  .option('--no-webgpu', 'skip WebGPU');
for (const [flag, text] of OUTPUT_OPTIONS) program.option(flag, text);
const cli = program.parse(process.argv).opts();

const data = loadSpecFile(fileURLToPath(new URL('../examples/grid-5x5.json', import.meta.url)));
const model = (hidden: number[]) => untrainedDenoiser(data, { ...DEFAULT_TRAIN, group: 'right', hidden }).toFile();
const main = { kind: 'learned', model: model([64, 64, 64]) };
const guide = { kind: 'learned', model: model([32, 32, 32]) };

function workload(guidance: object, particles: number): ExperimentSpec {
  const raw = JSON.parse(JSON.stringify({ ...data, guidance: undefined }));
  for (const c of raw.classes)
    for (const k of c.components) k.cov = k.cov.kind === 'isotropic' ? k.cov.variance : k.cov.variances;
  return parseSpec({
    ...raw,
    target: 'right',
    process: { kind: 've', sigmaMax: 10 },
    guidance,
    solver: { kind: 'heun', steps: cli.steps, tMin: 0.002, grid: { kind: 'edm', rho: 7 } },
    particles,
    seed: 1,
  });
}

const CASES: { name: string; guidance: object }[] = [
  { name: 'exact conditional', guidance: { kind: 'none' } },
  { name: 'exact cfg w = 2', guidance: { kind: 'cfg', w: 2 } },
  { name: 'learned score 3x64', guidance: { kind: 'none', score: main } },
  { name: 'autoguidance 3x64 / 3x32, w = 2', guidance: { kind: 'cfg', w: 2, score: main, negative: guide } },
];

let gpu: GpuContext | null = null;
if (cli.webgpu) {
  try {
    gpu = await nodeGpu();
  } catch (e) {
    console.error(`notice: WebGPU skipped: ${(e as Error).message}`);
  }
}
const runs: Record<string, unknown>[] = [];
for (const c of CASES) {
  console.error(`${c.name} ...`);
  const cpu = await measureCpu(workload(c.guidance, cli.cpuParticles), cli.repeats);
  const web = gpu
    ? await measureWebGpu(gpu, workload(c.guidance, cli.particles), { repeats: cli.repeats, warmupParticles: 256 })
    : null;
  runs.push({
    name: c.name,
    steps: cli.steps,
    cpu: {
      particles: cpu.particles,
      medianSeconds: cpu.timing.medianSeconds,
      particleStepsPerSecond: sig(cpu.particleStepsPerSecond),
    },
    webgpu: web
      ? {
          particles: web.particles,
          medianSeconds: web.timing.medianSeconds,
          particleStepsPerSecond: sig(web.particleStepsPerSecond),
        }
      : null,
  });
}
emitResult(
  JSON.stringify(
    {
      benchmark: 'learned',
      note: 'particle-steps per second (a heun step is 2 guided evaluations); the exact rows run the same mixture (25 Gaussians) that the learned rows also walk for their exact placeholder group',
      environment: nodeEnvironment(),
      adapter: gpu ? adapterDescription(gpu) : null,
      runs,
    },
    null,
    2,
  ),
  cli,
);
gpu?.destroy();
