// Two checkouts of this project (e.g. before and after a refactor) on the standard workload,
// alternating run by run (ABBA), so that the machine's load drifts over both alike: each tree's own
// sampler on its own device, in ONE process (default), or with --processes each round of each
// tree in a fresh process of its own (one device per process, as a user runs it: two devices in
// one process bias the in-process ratio by 4-6 %). JSON: configuration, environment, adapter,
// every run's seconds per tree, medians and the after/before rate ratio.
//
//   git worktree add /tmp/before <rev> && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   node bench/compare-trees.ts --before /tmp/before --after . --json compare.json
//
// A tree from before the experiment plan (prepareExperiment) is given the spec itself.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { median, sig } from './common.ts';
import { emitResult, intOption, nodeEnvironment, OUTPUT_OPTIONS } from './node-env.ts';

const program = new Command('bench:compare-trees')
  .description('two checkouts side by side on the standard workload (webgpu, Node), alternating in one process')
  .option('--before <dir>', 'the first checkout')
  .option('--after <dir>', 'the second checkout')
  .option('--particles <n>', 'particles', intOption('--particles'), 2 ** 20)
  .option('--steps <n>', 'euler steps', intOption('--steps'), 100)
  .option('--repeats <n>', 'timed runs per tree (after one warm-up each)', intOption('--repeats'), 8)
  .option('--after-variant <name>', "the after tree's kernel variant, where it has variants (default: its own choice)")
  .option('--kernel <kind>', "both trees' kernel: 'auto' (their own choice) or 'general' (shaders/step.wgsl)", 'auto')
  .option('--processes', 'each round of each tree in a fresh process (one device per process)')
  .option(
    '--runs-per-process <n>',
    'with --processes: timed runs per process (after its warm-up)',
    intOption('--runs-per-process'),
    3,
  )
  .option('--worker <side>', "internal (--processes): time one tree ('before' or 'after') and print its seconds");
for (const [flag, help] of OUTPUT_OPTIONS) program.option(flag, help);
const cli = program.parse(process.argv).opts();
if (!cli.before || !cli.after) program.error('bench:compare-trees: --before <dir> and --after <dir> are both required');

interface Side {
  name: 'before' | 'after';
  root: string;
  adapter: string;
  run: () => Promise<void>;
  seconds: number[];
  /** The after tree's kernel variant as its sampler reported it (null where it has none). */
  variant: unknown;
}

async function side(name: Side['name'], dir: string): Promise<Side> {
  const root = resolve(dir);
  const load = (path: string) => import(pathToFileURL(`${root}/${path}`).href);
  const { standardWorkload } = await load('bench/workloads.ts');
  const { sampleWebGpu } = await load('src/gpu/sampler.ts');
  const { acquireGpu } = await load('src/gpu/device.ts');
  const { nodePlatform } = await load('src/platform/node.ts');
  const prepare = await load('src/experiment/plan.ts').then(
    (m) => m.prepareExperiment as (s: unknown) => unknown,
    () => (s: unknown) => s,
  );
  const spec = standardWorkload(cli.particles, cli.steps);
  const plan = prepare(spec);
  const gpu = await acquireGpu(nodePlatform);
  const options = {
    ...(name === 'after' && cli.afterVariant ? { kernelVariant: cli.afterVariant } : {}),
    ...(cli.kernel === 'general' ? { kernel: 'general' } : {}),
  };
  const out = new Float32Array(spec.particles * spec.dim);
  let variant: unknown = null;
  const run = async () => {
    let filled = 0;
    const info = await sampleWebGpu(gpu, plan, {
      ...options,
      onChunk: (chunk: Float32Array, n: number) => {
        out.set(chunk.subarray(0, n * spec.dim), filled * spec.dim);
        filled += n;
      },
    });
    variant = info.variant ?? null;
  };
  await run(); // warm-up: compiles (and, where the tree tunes, chooses its variant)
  return {
    name,
    root,
    adapter: gpu.adapterInfo.label,
    run,
    seconds: [],
    get variant() {
      return variant;
    },
  };
}

/** One process's timed runs of one tree: warm-up, then `runs` runs. */
async function timedRuns(s: Side, runs: number): Promise<void> {
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await s.run();
    s.seconds.push((performance.now() - t0) / 1000);
  }
}

/** --processes: `runs` timed runs of one tree in a child process (this script with --worker). */
function childRuns(name: Side['name'], runs: number): { seconds: number[]; adapter: string; variant: unknown } {
  const args = [fileURLToPath(import.meta.url), '--before', cli.before, '--after', cli.after, '--worker', name];
  args.push('--particles', String(cli.particles), '--steps', String(cli.steps), '--repeats', String(runs));
  args.push('--kernel', cli.kernel, ...(cli.afterVariant ? ['--after-variant', cli.afterVariant] : []));
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1) ?? ''); // the worker's last line; a tree may log before it
}

if (cli.worker) {
  if (cli.worker !== 'before' && cli.worker !== 'after')
    program.error(`--worker: 'before' or 'after', not '${cli.worker}'`);
  const s = await side(cli.worker, cli.worker === 'before' ? cli.before : cli.after);
  await timedRuns(s, cli.repeats);
  process.stdout.write(`\n${JSON.stringify({ seconds: s.seconds, adapter: s.adapter, variant: s.variant })}\n`);
  process.exit(0);
}

const sides: Side[] = cli.processes
  ? (['before', 'after'] as const).map((name) => ({
      name,
      root: resolve(name === 'before' ? cli.before : cli.after),
      adapter: '',
      run: async () => {},
      seconds: [],
      variant: null,
    }))
  : [await side('before', cli.before), await side('after', cli.after)];
// ABBA order: a tree that always ran second measured ~6% slower than an identical first one
// (two identical checkouts: 0.936), so the order alternates repeat by repeat.
for (let r = 0; r < cli.repeats; r++) {
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
    if (!cli.processes) {
      await timedRuns(s, 1);
      continue;
    }
    const child = childRuns(s.name, cli.runsPerProcess);
    s.seconds.push(...child.seconds);
    s.adapter = child.adapter;
    s.variant = child.variant;
  }
}
const work = cli.particles * cli.steps;
const trees = Object.fromEntries(
  sides.map((s) => [
    s.name,
    {
      root: s.root,
      adapter: s.adapter,
      variant: s.variant,
      secondsPerRun: s.seconds.map((x) => sig(x)),
      medianSeconds: sig(median(s.seconds)),
      particleStepsPerSecond: sig(work / median(s.seconds)),
    },
  ]),
);
const result = {
  benchmark: 'compare-trees',
  configuration: {
    workload: 'bench/workloads.ts standardWorkload (of each tree)',
    particles: cli.particles,
    steps: cli.steps,
    repeats: cli.repeats,
    processes: cli.processes
      ? `a fresh process per tree and round, ${cli.runsPerProcess} timed runs each after a warm-up`
      : 'one process, one device per tree',
    afterVariant: cli.afterVariant ?? null,
    kernel: cli.kernel,
    timing: 'wall clock of sampleWebGpu with every particle read back, alternating in ABBA order',
  },
  environment: nodeEnvironment(),
  trees,
  afterToBeforeRate: sig(median(sides[0].seconds) / median(sides[1].seconds)),
};
emitResult(JSON.stringify(result, null, 2), cli);
process.exit(0);
