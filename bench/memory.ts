// Peak host memory of `run` against N (issue 19 item 1): each N runs in a fresh process (this
// file with --child), which reports its peak resident set (getrusage maxRSS, worker threads
// included) after runSpec returns. With the bounded summary and streamed blocks, peak RSS is
// flat in N beyond the block size; the old summary held N x dim coordinates (also reported,
// as `unboundedSummaryBytes`, for scale).
//   npm run bench:memory -- [--particles 1e5,1e6,1e7,1e8] [--backend cpu|webgpu] [--dim 4] [--steps 2] [--out] [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseSpec } from '../src/experiment/parse.ts';
import { runSpec } from '../src/cli/run.ts';
import { cpuStreamBlock } from '../src/cpu/stream.ts';
import { emitResult, nodeEnvironment, OUTPUT_OPTIONS } from './node-env.ts';

function particleList(v: string): number[] {
  return v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`--particles: expected positive integers (1e6 is fine), got '${s}'`);
    return n;
  });
}

function workload(dim: number, steps: number, particles: number) {
  const mean = (m: number) => Array.from({ length: dim }, (_, i) => (i === 0 ? m : 0));
  return parseSpec({
    dim,
    classes: [
      { name: 'pos', components: [{ kind: 'gaussian', mean: mean(1), cov: 1 }] },
      { name: 'neg', components: [{ kind: 'gaussian', mean: mean(-1), cov: 1 }] },
    ],
    target: 'pos',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 3 },
    solver: { kind: 'euler', steps, tMin: 1e-3 },
    particles,
    seed: 1,
  });
}

interface ChildOptions {
  particles: number;
  backend: 'cpu' | 'webgpu';
  dim: number;
  steps: number;
  out: boolean;
}

async function child(o: ChildOptions): Promise<void> {
  const startRss = process.memoryUsage().rss;
  const dir = o.out ? mkdtempSync(join(tmpdir(), 'gs-bench-memory-')) : null;
  const t0 = performance.now();
  try {
    const report = await runSpec(workload(o.dim, o.steps, o.particles), {
      backend: o.backend,
      dtype: 'f32',
      out: dir ? join(dir, 'x.npy') : undefined,
    });
    process.stdout.write(
      JSON.stringify({
        particles: report.particles,
        adapter: report.adapter,
        seconds: (performance.now() - t0) / 1000,
        startRssBytes: startRss,
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
      }) + '\n',
    );
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cmd = new Command('bench:memory')
    .option('--particles <list>', 'particle counts, comma-separated', particleList, [1e5, 1e6, 1e7])
    .option('--backend <b>', 'cpu or webgpu', 'cpu')
    .option('--dim <d>', 'dimension', (v) => Number(v), 4)
    .option('--steps <n>', 'euler steps (few: memory, not time, is measured)', (v) => Number(v), 2)
    .option('--out', 'also stream the particles to an .npy file (then deleted)')
    .option('--child', 'internal: one measurement in this process');
  for (const [flag, help] of OUTPUT_OPTIONS) cmd.option(flag, help);
  const opts = cmd.parse().opts<{
    particles: number[];
    backend: 'cpu' | 'webgpu';
    dim: number;
    steps: number;
    out?: boolean;
    child?: boolean;
    json?: string;
    stdout?: boolean;
  }>();
  if (opts.child)
    return child({
      particles: opts.particles[0],
      backend: opts.backend,
      dim: opts.dim,
      steps: opts.steps,
      out: opts.out === true,
    });
  const self = fileURLToPath(import.meta.url);
  const results = [];
  for (const n of opts.particles) {
    const args = [
      self,
      '--child',
      '--particles',
      String(n),
      '--backend',
      opts.backend,
      '--dim',
      String(opts.dim),
      '--steps',
      String(opts.steps),
      ...(opts.out ? ['--out'] : []),
    ];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`bench:memory child for N = ${n} failed (${r.status}): ${r.stderr}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
    process.stderr.write(
      `N = ${n}: peak RSS ${(m.peakRssBytes / 2 ** 20).toFixed(0)} MiB in ${m.seconds.toFixed(1)} s\n`,
    );
    results.push({
      ...m,
      peakRssMiB: Math.round(m.peakRssBytes / 2 ** 20),
      unboundedSummaryBytes: n * opts.dim * (opts.backend === 'cpu' ? 8 : 4),
    });
  }
  const block = cpuStreamBlock(opts.dim);
  // Flatness: peak RSS at the largest N over that at the smallest N beyond 4 blocks per thread.
  const beyond = results.filter((r) => r.particles >= 8 * block);
  const flatness =
    beyond.length >= 2
      ? Math.round((beyond[beyond.length - 1].peakRssBytes / beyond[0].peakRssBytes) * 1000) / 1000
      : null;
  const out = {
    benchmark: 'memory',
    configuration: {
      particles: opts.particles,
      backend: opts.backend,
      dim: opts.dim,
      steps: opts.steps,
      out: opts.out === true,
      cpuStreamBlock: block,
    },
    environment: nodeEnvironment(),
    results,
    flatness,
  };
  emitResult(JSON.stringify(out, null, 2), opts);
}

await main();
