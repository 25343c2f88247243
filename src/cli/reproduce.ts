// `guidance-sampler reproduce <claim> [--quick] [--out DIR] [--backend ...] [--mutation]`: one
// published claim about guidance, run at a stated N, with figures, a JSON of every number and a
// verdict: PASS 0, FAIL 1, bad input 2, INCONCLUSIVE 3 (as `check`).
import { existsSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { SpecError } from '../experiment/errors.ts';
import { CLAIMS } from '../reproduce/index.ts';
import { formatClaim, VERDICT_EXIT, writeClaim } from '../reproduce/runner.ts';
import { CheckFailed, CheckInconclusive, gpuFor } from './check.ts';

export function addReproduceCommand(program: Command): void {
  program
    .command('reproduce')
    .description(
      `reproduce a guidance paper's claim (${Object.keys(CLAIMS).join(', ')}): figures, JSON, PASS / FAIL / INCONCLUSIVE`,
    )
    .argument('<name>', `the claim: ${Object.keys(CLAIMS).join(', ')}`)
    .option('--quick', 'reduced N (CI): the direction check must still be conclusive')
    .option('--out <dir>', 'folder for NAME.json and the figures (SVG, PNG)', 'reproduce-out')
    .addOption(
      new Option('--backend <backend>', 'where to sample (auto: webgpu if an adapter is available, else cpu)')
        .choices(['auto', 'cpu', 'webgpu'])
        .default('auto'),
    )
    .option('--mutation', "run the claim's mutation twin instead (a broken experiment; it must FAIL)")
    .exitOverride()
    .action(async (name: string, opts) => {
      const run = CLAIMS[name];
      if (!run)
        throw new SpecError([
          {
            path: '<name>',
            message: `unknown claim ${JSON.stringify(name)}; known: ${Object.keys(CLAIMS).join(', ')}`,
          },
        ]);
      if (existsSync(opts.out) && !statSync(opts.out).isDirectory())
        throw new SpecError([{ path: '--out', message: `${opts.out} exists and is not a folder` }]);
      const gpu = await gpuFor(opts.backend);
      let result: Awaited<ReturnType<typeof run>>;
      try {
        result = await run({
          quick: opts.quick === true,
          gpu,
          mutation: opts.mutation === true,
          log: (l) => process.stderr.write(`${l}\n`),
        });
      } finally {
        gpu?.destroy();
      }
      const files = await writeClaim(opts.out, result);
      process.stderr.write(formatClaim(result) + '\n');
      process.stdout.write(
        JSON.stringify({ claim: result.claim, verdict: result.verdict, setup: result.setup, files }, null, 2) + '\n',
      );
      const exit = VERDICT_EXIT[result.verdict];
      if (exit === 1) throw new CheckFailed(`${name}: FAIL`);
      if (exit === 3) throw new CheckInconclusive(`${name}: INCONCLUSIVE`);
    });
}
