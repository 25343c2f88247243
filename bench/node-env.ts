import { renameSync, writeFileSync } from 'node:fs';
// Node-only helpers for the benchmark CLIs: the environment every JSON result records,
// and the Dawn device (acquired once per process; see shared/PLATFORM.md on keeping it alive).
import os from 'node:os';
import { acquireGpu, type GpuContext } from '../src/gpu/device.ts';
import { nodePlatform } from '../src/platform/node.ts';

export function nodeEnvironment(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    runtime: 'node',
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    // A shared machine's other work skews every timing: this says how busy it was.
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    vkIcd: process.env.VK_ICD_FILENAMES ?? null,
    lpNumThreads: process.env.LP_NUM_THREADS ?? null,
    date: new Date().toISOString(),
  };
}

let gpu: Promise<GpuContext> | undefined;

/** The process's Dawn device (Node). Rejects with the platform's hint when there is no adapter. */
export function nodeGpu(): Promise<GpuContext> {
  gpu ??= acquireGpu(nodePlatform);
  return gpu;
}

/** Integer option parser for commander that rejects garbage instead of yielding NaN. */
export function intOption(name: string): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got '${v}'`);
    return n;
  };
}

/** A comma-separated list of positive integers ("4096,65536" or "2^12,2^16"). */
export function intListOption(name: string): (v: string) => number[] {
  return (v: string): number[] =>
    v.split(',').map((s) => {
      const t = s.trim();
      const m = /^2\^(\d+)$/.exec(t);
      const n = m ? 2 ** Number(m[1]) : Number(t);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: expected positive integers, got '${s}'`);
      return n;
    });
}

/**
 * Where a benchmark's result goes: `--json FILE` writes it to FILE (whole, via a rename, so a
 * killed run leaves no half file) and keeps stdout for it only with `--stdout`; without
 * `--json` it goes to stdout as before. `npm run bench:x > r.json` would also capture npm's
 * banner lines, hence the flag (or `npm run --silent`).
 */
export const OUTPUT_OPTIONS = [
  ['--json <file>', 'write the JSON result to this file (stdout then stays empty unless --stdout)'],
  ['--stdout', 'also print the result on stdout when --json is given'],
] as const;

export function emitResult(text: string, opts: { json?: string; stdout?: boolean }): void {
  const body = text.endsWith('\n') ? text : text + '\n';
  if (opts.json) {
    const tmp = `${opts.json}.tmp-${process.pid}`;
    writeFileSync(tmp, body);
    renameSync(tmp, opts.json);
    process.stderr.write(`result written to ${opts.json}\n`);
  }
  if (!opts.json || opts.stdout) process.stdout.write(body);
}
