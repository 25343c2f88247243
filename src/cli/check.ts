// `guidance-sampler check SPEC [--against conditional|tilted|unconditional]`: sample the spec with
// every large-N metric binned on the GPU, then a pass/fail report whose thresholds hold a
// family-wise false-failure rate (--alpha, default 1e-6) and which states each test's power.
// JSON on stdout, a table on stderr; exit 0 when every test passes, 1 when any fails.
import { prepareExperiment } from '../experiment/plan.ts';
import { SpecError } from '../experiment/errors.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { acquireGpu, type GpuContext } from '../gpu/device.ts';
import { nodePlatform } from '../platform/node.ts';
import { biasTerms } from '../checks/bias.ts';
import { checkStatePath, parseShard, shardRange, writeCheckStateFile, type Shard } from './state.ts';
import { planCheck } from '../checks/plan.ts';
import { evaluateChecks, type CheckReport } from '../checks/evaluate.ts';
import type { TestOutcome } from '../metrics/statistics.ts';
import { measure } from '../checks/measure.ts';
import type { TargetKind } from '../targets/definition.ts';
import { Command, Option } from 'commander';
import { checkOutput, writeFileAtomic } from '../io/output.ts';
import { alignedLines, shortNumber } from '../io/text-table.ts';
import { checkResources, estimateResources } from './resources.ts';
import { loadSpecFile } from '../experiment/parse.ts';
import { formatPopulationTable, runPopulationCheck } from '../checks/population.ts';
import { specSummary } from './run.ts';

export interface CheckOptions {
  against: TargetKind;
  alpha: number;
  backend: 'auto' | 'cpu' | 'webgpu';
  /** Sample and bin only this shard's particles (src/cli/state.ts), and/or write the measurements to `state`. */
  shard?: Shard;
  state?: string;
  /** Print the table on stderr (default true). */
  table?: boolean;
}

export interface CheckResult extends CheckReport {
  against: TargetKind;
  backend: string;
  adapter: string | null;
  seconds: { plan: number; bias: number; sample: number; total: number };
  spec: { target: string; guidance: string; solver: string; steps: number; seed: number; process: string };
  /** With --shard: its particles [first, end). */
  shard?: { index: number; count: number; first: number; end: number };
  /** merge: the check states merged. */
  merged?: { files: string[]; ranges: [number, number][] };
}

export class CheckFailed extends Error {}
/** A check whose passing tests could not have failed (exit 3, SPEC.md "Verdicts"). */
export class CheckInconclusive extends Error {
  readonly exitCode = 3;
}

/** The GPU for check/sweep: auto falls back to the CPU with a notice, webgpu fails without one. */
export async function gpuFor(backend: 'auto' | 'cpu' | 'webgpu', quiet = false): Promise<GpuContext | null> {
  if (backend === 'cpu') return null;
  try {
    return await acquireGpu(nodePlatform);
  } catch (err) {
    if (backend === 'webgpu') throw err;
    if (!quiet)
      process.stderr.write(
        `guidance-sampler: no WebGPU adapter, metrics on the CPU reference (${(err as Error).message})\n`,
      );
    return null;
  }
}

/**
 * Checks `spec`'s sampler against its exact target. `sampler` (tests, mutation twins) samples a
 * different spec with the same particles and seed while the target, bias terms and thresholds
 * stay those of `spec`: a deliberately broken sampler.
 */
export async function runCheck(
  spec: ExperimentSpec,
  opts: CheckOptions,
  gpuIn?: GpuContext | null,
  sampler: ExperimentSpec = spec,
): Promise<CheckResult> {
  if (spec.corrector) {
    // The check's envelopes (DKW, binomial, ...) are for independent draws.
    throw new SpecError([
      {
        path: 'corrector',
        message:
          'runCheck compares independent draws with exact envelopes; the particles of one resampled population are not ' +
          'independent: use runPopulationCheck (src/checks/population.ts), as the check command does',
      },
    ]);
  }
  const t0 = performance.now();
  // The spec compiled once: its target and metrics, and (unless a twin's sampler is given) what is sampled.
  const experiment = prepareExperiment(spec);
  const samplerPlan =
    sampler === spec ? experiment : prepareExperiment({ ...sampler, particles: spec.particles, seed: spec.seed });
  const plan = planCheck(experiment, opts.against);
  const t1 = performance.now();
  const gpu = gpuIn === undefined ? await gpuFor(opts.backend) : gpuIn;
  try {
    const bias = await biasTerms(spec, plan.def, gpu);
    const t2 = performance.now();
    const { first, end } = opts.shard ? shardRange(opts.shard, spec.particles) : { first: 0, end: spec.particles };
    const meas = await measure(samplerPlan, plan.measurePlan, {
      gpu,
      range: { first, count: end - first },
    });
    const t3 = performance.now();
    if (opts.state) {
      await writeCheckStateFile(opts.state, {
        spec,
        backend: meas.backend,
        adapter: meas.adapter,
        range: { first, end },
        shard: opts.shard ?? null,
        elapsedSeconds: (t3 - t0) / 1000,
        against: opts.against,
        alpha: opts.alpha,
        bias,
        meas,
      });
    }
    const report = evaluateChecks(plan, meas, bias, opts.alpha);
    const result: CheckResult = {
      ...report,
      against: opts.against,
      backend: meas.backend,
      adapter: meas.adapter,
      seconds: {
        plan: (t1 - t0) / 1000,
        bias: (t2 - t1) / 1000,
        sample: (t3 - t2) / 1000,
        total: (performance.now() - t0) / 1000,
      },
      ...(opts.shard ? { shard: { index: opts.shard.index, count: opts.shard.count, first, end } } : {}),
      spec: specSummary(spec),
    };
    if (opts.table !== false) process.stderr.write(formatTable(result));
    return result;
  } finally {
    if (gpuIn === undefined) gpu?.destroy();
  }
}

const g = (v: number): string => shortNumber(v, 3);

export function formatTable(r: CheckResult): string {
  const rows = r.outcomes.map((o: TestOutcome) => [
    o.verdict === 'PASS' ? 'pass' : o.verdict,
    o.name,
    g(o.statistic),
    g(o.threshold),
    g(o.envelope),
    g(o.bias),
    g(o.power),
  ]);
  const head = ['', 'test', 'statistic', 'threshold', 'envelope', 'bias', 'power (detects)'];
  const failed = r.outcomes.filter((o) => !o.pass).length;
  return [
    `check against the ${r.against} target: ${r.particles} particles on ${r.adapter ?? r.backend}, family-wise alpha ${r.alpha} over ${r.tests} tests (Bonferroni)`,
    `bias terms: displacement D = ${g(r.bias.displacement)} (solver ${g(r.bias.solverShift)}: ${r.bias.solverShiftMethod}; f32 ${g(r.bias.f32Shift)}), prior TV ${g(r.bias.priorTv)}, prior W2 ${g(r.bias.priorW2)} x flow Lipschitz ${g(r.bias.flowLipschitz)}`,
    ...alignedLines(head, rows),
    ...r.warnings.map((w) => `warning: ${w}`),
    r.verdict === 'PASS'
      ? `PASS: all ${r.outcomes.length} tests (${g(r.seconds.total)} s)`
      : r.verdict === 'FAIL'
        ? `FAIL: ${failed} of ${r.outcomes.length} tests (${g(r.seconds.total)} s)`
        : `INCONCLUSIVE: ${r.outcomes.filter((o) => o.verdict === 'INCONCLUSIVE').length} of ${r.outcomes.length} tests could not have failed (${g(r.seconds.total)} s)`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// Command registration (src/cli/main.ts calls this).

function numberArg(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isFinite(v)) throw new Error(`${name} must be a number, got ${value}`);
    return v;
  };
}

export function addCheckCommand(program: Command): void {
  program
    .command('check')
    .description('sample the spec with GPU-binned metrics and test it against an exact target (exit 0 pass, 1 fail)')
    .argument('<spec>', 'experiment spec (JSON)')
    .addOption(
      new Option(
        '--against <target>',
        'exact target (default: conditional; tilted for a spec with a corrector)',
      ).choices(['conditional', 'tilted', 'unconditional']),
    )
    .option(
      '--populations <P>',
      'with a corrector: independent populations the particles are split into',
      (v: string) => Number(v),
      32,
    )
    .option('--alpha <a>', 'family-wise false-failure rate of the whole check', numberArg('--alpha'), 1e-6)
    .addOption(
      new Option('--backend <backend>', 'where to sample and bin').choices(['auto', 'cpu', 'webgpu']).default('auto'),
    )
    .option('--particles <n>', "override the spec's particle count", (v: string) => Number(v))
    .option('--seed <s>', "override the spec's seed", (v: string) => Number(v))
    .option('--report <file.json>', 'also write the JSON report to a file')
    .option('--force', 'replace a write-protected --report or --state file')
    .option('--shard <i/k>', 'sample and bin only shard i of k of the particles (docs/sharding.md)')
    .option('--state <file>', 'write the binned measurements for merge (which gives the verdicts of all N)')
    .exitOverride()
    .action(async (specPath: string, opts) => {
      if (!(opts.alpha > 0 && opts.alpha < 1)) throw new Error(`--alpha must be in (0, 1), got ${opts.alpha}`);
      const spec = loadSpecFile(specPath, { particles: opts.particles, seed: opts.seed });
      if (opts.report) {
        const issue = checkOutput(opts.report, { flag: '--report', inputs: [specPath], force: opts.force === true });
        if (issue) throw new SpecError([issue]);
      }
      // Host memory only (the backend is chosen later); the bias terms also run the spec at 2 N steps.
      checkResources(estimateResources(spec, { backend: opts.backend === 'cpu' ? 'cpu' : 'webgpu', stepsFactor: 3 }));
      if (spec.corrector && (opts.shard !== undefined || opts.state)) {
        throw new SpecError([
          {
            path: opts.shard !== undefined ? '--shard' : '--state',
            message: 'a Feynman-Kac corrector resamples the whole population: its check cannot be split into shards',
          },
        ]);
      }
      if (spec.corrector) {
        const P = opts.populations;
        if (!Number.isInteger(P) || P < 4)
          throw new SpecError([{ path: '--populations', message: `expected an integer >= 4, got ${P}` }]);
        if (Math.floor(spec.particles / P) < 256) {
          throw new SpecError([
            {
              path: '--populations',
              message: `${spec.particles} particles make populations of ${Math.floor(spec.particles / P)}: at least 256 each are needed`,
            },
          ]);
        }
        const gpu = await gpuFor(opts.backend);
        try {
          const r = await runPopulationCheck(
            spec,
            { against: opts.against ?? 'tilted', alpha: opts.alpha, populations: opts.populations },
            gpu,
          );
          process.stderr.write(formatPopulationTable(r));
          const text = JSON.stringify(r, null, 2) + '\n';
          process.stdout.write(text);
          if (opts.report) await writeFileAtomic(opts.report, text);
          if (!r.pass)
            throw new CheckFailed(
              `check failed: ${r.outcomes
                .filter((o) => !o.pass)
                .map((o) => o.name)
                .join(', ')}`,
            );
        } finally {
          gpu?.destroy();
        }
        return;
      }
      const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
      if (shard && shard.count > spec.particles)
        throw new SpecError([
          {
            path: '--shard',
            message: `k = ${shard.count} shards of ${spec.particles} particles would leave some empty; use k <= particles`,
          },
        ]);
      if (opts.state)
        checkStatePath(opts.state, [specPath, ...(opts.report ? [opts.report] : [])], opts.force === true);
      const result = await runCheck(spec, {
        against: opts.against ?? 'conditional',
        alpha: opts.alpha,
        backend: opts.backend,
        shard,
        state: opts.state,
      });
      const text = JSON.stringify(result, null, 2) + '\n';
      process.stdout.write(text);
      if (opts.report) await writeFileAtomic(opts.report, text);
      throwForVerdict(result);
    });
}

/** Exit 1 for FAIL (CheckFailed), 3 for INCONCLUSIVE, after the report is printed. */
export function throwForVerdict(result: CheckResult): void {
  if (result.verdict === 'FAIL')
    throw new CheckFailed(
      `check failed: ${result.outcomes
        .filter((o) => !o.pass)
        .map((o) => o.name)
        .join(', ')}`,
    );
  if (result.verdict === 'INCONCLUSIVE') {
    throw new CheckInconclusive(
      `check inconclusive: ${result.outcomes
        .filter((o) => o.verdict === 'INCONCLUSIVE')
        .map((o) => o.name)
        .join(', ')} (see the warning above for what would make them conclusive)`,
    );
  }
}
