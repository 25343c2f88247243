// The `guidance-sampler` command line. Exit status: 0 success, 2 bad input (spec, arguments,
// output paths, work beyond this machine's resources), 1 any other failure, including a run
// whose statistics overflowed (docs/robustness.md); check: 3 INCONCLUSIVE.
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { InputError, SpecError } from '../experiment/errors.ts';
import { loadSpecFile } from '../experiment/parse.ts';
import { checkOutPath, runSpec, sidecarPath } from './run.ts';
import { addCheckCommand } from './check.ts';
import { addSweepCommand } from './sweep.ts';
import { addClassifiersCommand } from './classifiers.ts';
import { addMergeCommand } from './merge.ts';
import { checkStatePath, parseShard } from './state.ts';
import { addReproduceCommand } from './reproduce.ts';
import { addDenoiserCommand } from './denoiser.ts';

function integerArg(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be an integer, got ${value}`);
    return Number(value);
  };
}

// `run` without a spec (what `npm start` does): the two-Gaussian example shipped with the package.
const DEFAULT_SPEC = fileURLToPath(new URL('../../examples/two-gaussians.json', import.meta.url));

export function buildProgram(): Command {
  const program = new Command('guidance-sampler')
    .description(
      'Sample guided diffusions on exact Gaussian and uniform-box mixtures (WebGPU, with an f64 CPU reference)',
    )
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('run')
    .description('sample the spec and print a JSON summary on stdout')
    .argument('[spec]', 'experiment spec (JSON, see docs/spec.md); default: the built-in two-Gaussian example')
    .addOption(
      new Option('--backend <backend>', 'where to sample (auto: webgpu if an adapter is available, else cpu)')
        .choices(['auto', 'cpu', 'webgpu'])
        .default('auto'),
    )
    .option('--particles <n>', "override the spec's particle count", integerArg('--particles'))
    .option('--seed <s>', "override the spec's seed", integerArg('--seed'))
    .option('--out <file.npy>', 'write all particles as an N x dim .npy file')
    .addOption(new Option('--dtype <dtype>', 'dtype of the --out file').choices(['f32', 'f64']).default('f32'))
    .option('--force', 'replace a write-protected --out file')
    .option(
      '--log-density',
      "also write OUT.logq.npy (log q under the sampler's own law) and OUT.logp.npy (log p_tMin(x | target)), f64",
    )
    .option(
      '--log-det',
      'with --log-density: log q of the discrete solver map by the exact log-determinant of each step (CPU f64, dim <= 8); also OUT.logq-flow.npy (the continuous route) and the gap in the report',
    )
    .option(
      '--shard <i/k>',
      'sample only shard i of k: particles [floor(i N/k), floor((i+1) N/k)) of the experiment (docs/sharding.md)',
    )
    .option('--state <file>', 'write the mergeable summary state (for merge; docs/sharding.md)')
    .option(
      '--kernel-variant <name>',
      "webgpu: the fast kernel's variant (auto: tuned per adapter and shape, and cached; with --shard the default variant, so that every shard computes alike); docs/benchmarks.md",
    )
    .exitOverride()
    .action(async (specPath: string | undefined, opts) => {
      const path = specPath ?? DEFAULT_SPEC;
      const spec = loadSpecFile(path, { particles: opts.particles, seed: opts.seed });
      if (opts.out) checkOutPath(opts.out, [path], opts.force === true);
      if (opts.out && opts.logDensity) {
        for (const what of opts.logDet ? (['logq', 'logp', 'logq-flow'] as const) : (['logq', 'logp'] as const))
          checkOutPath(sidecarPath(opts.out, what), [path], opts.force === true);
      }
      const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
      if (opts.state) checkStatePath(opts.state, [path, ...(opts.out ? [opts.out] : [])], opts.force === true);
      const report = await runSpec(spec, {
        backend: opts.backend,
        out: opts.out,
        dtype: opts.dtype,
        logDensity: opts.logDensity === true,
        logDet: opts.logDet === true,
        shard,
        state: opts.state,
        kernelVariant: opts.kernelVariant,
      });
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      // Printed whole above; the exit status says whether it can be trusted.
      const problems: string[] = [];
      if (report.nonFinite > 0) {
        problems.push(
          `${report.nonFinite} of ${report.particles} particles are not finite (excluded from the statistics${opts.out ? ', kept in --out' : ''})`,
        );
      }
      if (report.overflow) problems.push(`statistics overflowed (${report.overflowFields.join(', ')})`);
      if (problems.length > 0) throw new Error(`${problems.join('; ')}: the run is not trustworthy (exit 1)`);
    });
  addMergeCommand(program);
  addClassifiersCommand(program);
  addCheckCommand(program);
  addSweepCommand(program);
  addReproduceCommand(program);
  addDenoiserCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    if (e.code?.startsWith('commander.')) return 2; // commander already printed the usage error
    if (err instanceof InputError) {
      process.stderr.write(`guidance-sampler: ${err.message}\n`);
      return 2;
    }
    if (err instanceof SpecError) {
      process.stderr.write(`guidance-sampler: invalid spec\n${err.message}\n`);
      return 2;
    }
    process.stderr.write(`guidance-sampler: ${(err as Error).message}\n`);
    return e.exitCode === 3 ? 3 : 1; // 3: an inconclusive check (CheckInconclusive)
  }
}
