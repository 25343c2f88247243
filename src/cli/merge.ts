// `guidance-sampler merge STATE...`: combines the state files of `run --shard i/k --state F`
// into the summary of the single run (docs/sharding.md). Refused (exit 2, nothing written):
// files of different experiments (spec hash), backends or format versions, ranges that overlap
// or leave particles out; an identical file given twice (a shard rerun) counts once.
import type { Command } from 'commander';
import { InputError, SpecError } from '../spec/errors.ts';
import { planGuidance } from '../guidance/guidance.ts';
import { boundedSupport, SummaryAccumulator } from '../metrics/summary.ts';
import { checkOutput } from '../io/output.ts';
import { reportOf, type RunReport } from './run.ts';
import { readStateFile, writeStateFile, type LoadedState } from './state.ts';

/** Checks a --state path before any work (as --out: src/io/output.ts). */
export function checkStatePath(path: string, inputs: string[], force = false): void {
  const issue = checkOutput(path, { flag: '--state', inputs, force });
  if (issue) throw new SpecError([issue]);
}

export interface MergeOptions {
  /** Also write the merged state (range [0, N)) here, for merging merges. */
  state?: string;
}

/** Reads, checks and merges state files; throws InputError (exit 2) on any inconsistency. */
export async function mergeStateFiles(files: string[], opts: MergeOptions = {}): Promise<RunReport> {
  if (files.length === 0) throw new InputError('merge: no state files given');
  const loaded = files.map(readStateFile);
  const ref = loaded[0];
  for (const s of loaded.slice(1)) {
    if (s.doc.specHash !== ref.doc.specHash) {
      throw new InputError(`${s.file}: specHash: a different experiment from ${ref.file} (${s.doc.specHash} vs ${ref.doc.specHash}); shards must share the spec, particles and seed`);
    }
    // With --log-density the webgpu path runs another kernel from host-drawn starts, and the sums
    // would cover only some particles: all states have them or none.
    if ((s.doc.summary.logDensity === null) !== (ref.doc.summary.logDensity === null)) {
      const has = (x: LoadedState) => (x.doc.summary.logDensity ? 'with' : 'without');
      throw new InputError(`${s.file}: summary.logDensity: ran ${has(s)} --log-density, but ${ref.file} ${has(ref)}; merge shards run alike`);
    }
    if (s.doc.backend !== ref.doc.backend) {
      throw new InputError(`${s.file}: backend: ${s.doc.backend}, but ${ref.file} ran on ${ref.doc.backend}; a merge is exact only on one backend`);
    }
  }
  // One state per range: a rerun shard's identical file is dropped, a different one refused.
  const byRange = new Map<string, LoadedState>();
  for (const s of loaded) {
    const key = s.doc.range.join(',');
    const seen = byRange.get(key);
    if (!seen) byRange.set(key, s);
    else if (seen.content !== s.content) {
      throw new InputError(`${s.file}: range [${s.doc.range[0]}, ${s.doc.range[1]}) also in ${seen.file} with a different result; rerun that shard once and merge one of them`);
    }
  }
  const parts = [...byRange.values()].sort((a, b) => a.doc.range[0] - b.doc.range[0] || a.doc.range[1] - b.doc.range[1]);
  const N = ref.doc.particles;
  let covered = 0;
  let prev: LoadedState | null = null;
  for (const s of parts) {
    const [first, end] = s.doc.range;
    if (first < covered) throw new InputError(`${s.file}: range [${first}, ${end}) overlaps ${prev!.file}'s [${prev!.doc.range[0]}, ${prev!.doc.range[1]})`);
    if (first > covered) throw new InputError(`merge: particles [${covered}, ${first}) of ${N} are in none of the files (a shard is missing)`);
    covered = end;
    prev = s;
  }
  if (covered < N) throw new InputError(`merge: particles [${covered}, ${N}) of ${N} are in none of the files (a shard is missing)`);

  const spec = ref.doc.spec;
  const g = planGuidance(spec);
  const support = boundedSupport(g.model, g.target);
  let acc: SummaryAccumulator | null = null;
  for (const s of parts) {
    let next: SummaryAccumulator;
    try {
      next = SummaryAccumulator.fromState(s.data, support);
    } catch (err) {
      throw new InputError(`${s.file}: ${(err as Error).message}`);
    }
    if (acc) acc.merge(next);
    else acc = next;
  }
  const adapters = [...new Set(parts.map((s) => s.doc.adapter))];
  const elapsedSeconds = parts.reduce((t, s) => t + s.doc.elapsedSeconds, 0);
  if (opts.state) {
    await writeStateFile(opts.state, {
      spec,
      backend: ref.doc.backend,
      adapter: adapters.length === 1 ? adapters[0] : adapters.join(', '),
      range: { first: 0, end: N },
      shard: null,
      elapsedSeconds,
      state: acc!.toState(),
    });
  }
  return {
    ...reportOf(acc!, spec, {
      backend: ref.doc.backend,
      adapter: adapters.length === 1 ? adapters[0] : adapters.join(', '),
      elapsedSeconds,
    }),
    merged: { files: parts.map((s) => s.file), ranges: parts.map((s) => s.doc.range) },
    ...(opts.state ? { state: opts.state } : {}),
  };
}

export function addMergeCommand(program: Command): void {
  program
    .command('merge')
    .description('combine the --state files of run --shard i/k into the summary of the single run')
    .argument('<state...>', 'state files written by run --state')
    .option('--state <file>', 'also write the merged state (to merge merges)')
    .option('--force', 'replace a write-protected --state file')
    .exitOverride()
    .action(async (files: string[], opts: { state?: string; force?: boolean }) => {
      if (opts.state) checkStatePath(opts.state, files, opts.force === true);
      const report = await mergeStateFiles(files, { state: opts.state });
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      const problems: string[] = [];
      if (report.nonFinite > 0) problems.push(`${report.nonFinite} of ${report.particles} particles are not finite (excluded from the statistics)`);
      if (report.overflow) problems.push(`statistics overflowed (${report.overflowFields.join(', ')})`);
      if (problems.length > 0) throw new Error(`${problems.join('; ')}: the run is not trustworthy (exit 1)`);
    });
}
