// `guidance-sampler merge STATE...`: combines the state files of `run --shard i/k --state F`
// into the summary of the single run (docs/sharding.md). Refused (exit 2, nothing written):
// files of different experiments (spec hash), backends or format versions, ranges that overlap
// or leave particles out; an identical file given twice (a shard rerun) counts once.
import type { Command } from 'commander';
import { InputError } from '../experiment/errors.ts';
import { planGuidance } from '../guidance/guidance.ts';
import { boundedSupport, SummaryAccumulator } from '../metrics/summary.ts';
import { reportOf, specSummary, type RunReport } from './run.ts';
import { checkStatePath, readStateFile, sumMeasurements, writeStateFile, type LoadedState } from './state.ts';
import { formatTable, throwForVerdict, type CheckResult } from './check.ts';
import { planCheck } from '../checks/plan.ts';
import { evaluateChecks } from '../checks/evaluate.ts';
import type { TargetKind } from '../targets/definition.ts';

export interface MergeOptions {
  /** Also write the merged state (range [0, N)) here, for merging merges. */
  state?: string;
}

/** Reads and checks state files: one experiment, one kind, ranges covering [0, N) once. */
export function loadStates(files: string[]): LoadedState[] {
  if (files.length === 0) throw new InputError('merge: no state files given');
  const loaded = files.map(readStateFile);
  const ref = loaded[0];
  for (const s of loaded.slice(1)) {
    if (s.kind !== ref.kind)
      throw new InputError(`${s.file}: kind: a ${s.kind} state, but ${ref.file} is a ${ref.kind} state`);
    if (s.kind === 'check' && JSON.stringify(s.doc.check) !== JSON.stringify(ref.doc.check)) {
      throw new InputError(
        `${s.file}: check: target, alpha or bias terms differ from ${ref.file}'s (run every shard's check alike, on one backend and adapter)`,
      );
    }
    if (s.doc.specHash !== ref.doc.specHash) {
      throw new InputError(
        `${s.file}: specHash: a different experiment from ${ref.file} (${s.doc.specHash} vs ${ref.doc.specHash}); shards must share the spec, particles and seed`,
      );
    }
    // With --log-density the webgpu path runs another kernel from host-drawn starts, and the sums
    // would cover only some particles: all states have them or none.
    if (s.kind === 'run' && (s.doc.summary.logDensity === null) !== (ref.doc.summary.logDensity === null)) {
      const has = (x: LoadedState) => (x.doc.summary.logDensity ? 'with' : 'without');
      throw new InputError(
        `${s.file}: summary.logDensity: ran ${has(s)} --log-density, but ${ref.file} ${has(ref)}; merge shards run alike`,
      );
    }
    if (s.doc.backend !== ref.doc.backend) {
      throw new InputError(
        `${s.file}: backend: ${s.doc.backend}, but ${ref.file} ran on ${ref.doc.backend}; a merge is exact only on one backend`,
      );
    }
  }
  // One state per range: a rerun shard's identical file is dropped, a different one refused.
  const byRange = new Map<string, LoadedState>();
  for (const s of loaded) {
    const key = s.doc.range.join(',');
    const seen = byRange.get(key);
    if (!seen) byRange.set(key, s);
    else if (seen.content !== s.content) {
      throw new InputError(
        `${s.file}: range [${s.doc.range[0]}, ${s.doc.range[1]}) also in ${seen.file} with a different result; rerun that shard once and merge one of them`,
      );
    }
  }
  const parts = [...byRange.values()].sort(
    (a, b) => a.doc.range[0] - b.doc.range[0] || a.doc.range[1] - b.doc.range[1],
  );
  const N = ref.doc.particles;
  let covered = 0;
  let prev: LoadedState | null = null;
  for (const s of parts) {
    const [first, end] = s.doc.range;
    if (first < covered)
      throw new InputError(
        `${s.file}: range [${first}, ${end}) overlaps ${prev!.file}'s [${prev!.doc.range[0]}, ${prev!.doc.range[1]})`,
      );
    if (first > covered)
      throw new InputError(
        `merge: particles [${covered}, ${first}) of ${N} are in none of the files (a shard is missing)`,
      );
    covered = end;
    prev = s;
  }
  if (covered < N)
    throw new InputError(`merge: particles [${covered}, ${N}) of ${N} are in none of the files (a shard is missing)`);
  return parts;
}

/** Merges checked run states into the single run's report (and, with opts.state, its state). */
export async function mergeRunStates(parts: LoadedState[], opts: MergeOptions = {}): Promise<RunReport> {
  const ref = parts[0];
  const N = ref.doc.particles;
  const spec = ref.doc.spec;
  const g = planGuidance(spec);
  const support = boundedSupport(g.model, g.target);
  let acc: SummaryAccumulator | null = null;
  for (const s of parts) {
    let next: SummaryAccumulator;
    try {
      next = SummaryAccumulator.fromState(s.data!, support);
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
      const parts = loadStates(files);
      if (parts[0].kind === 'check') {
        if (opts.state)
          throw new InputError(
            'merge --state: check states are merged into verdicts only (no merged state is written)',
          );
        const result = mergeCheckStates(parts);
        const text = JSON.stringify(result, null, 2) + '\n';
        process.stderr.write(formatTable(result));
        process.stdout.write(text);
        throwForVerdict(result);
        return;
      }
      const report = await mergeRunStates(parts, { state: opts.state });
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      const problems: string[] = [];
      if (report.nonFinite > 0)
        problems.push(
          `${report.nonFinite} of ${report.particles} particles are not finite (excluded from the statistics)`,
        );
      if (report.overflow) problems.push(`statistics overflowed (${report.overflowFields.join(', ')})`);
      if (problems.length > 0) throw new Error(`${problems.join('; ')}: the run is not trustworthy (exit 1)`);
    });
}

/** The check verdicts of the merged measurements: evaluateChecks as for one run of N particles. */
export function mergeCheckStates(parts: LoadedState[]): CheckResult {
  const ref = parts[0];
  const spec = ref.doc.spec;
  const { against, alpha, bias } = ref.doc.check!;
  const t0 = performance.now();
  const plan = planCheck(spec, against as TargetKind);
  const adapters = [...new Set(parts.map((s) => s.doc.adapter))];
  const adapter = adapters.length === 1 ? adapters[0] : adapters.join(', ');
  const meas = sumMeasurements(parts, ref.doc.backend, adapter);
  const report = evaluateChecks(plan, meas, bias, alpha);
  const seconds = parts.reduce((t, s) => t + s.doc.elapsedSeconds, 0);
  return {
    ...report,
    against: against as TargetKind,
    backend: ref.doc.backend,
    adapter,
    seconds: { plan: (performance.now() - t0) / 1000, bias: 0, sample: seconds, total: seconds },
    spec: specSummary(spec),
    merged: { files: parts.map((s) => s.file), ranges: parts.map((s) => s.doc.range) },
  };
}
