// `guidance-sampler denoiser SPEC`: trains a learned denoiser on p(x | --class) of the spec's
// mixture (src/studies/denoisers/), writes the model file (--out), and prints one JSON report on
// stdout: the training config and time, the loss curve, and the score error against the exact
// score per noise level, for the trained model and for the untrained initialisation (the
// baseline). Bad input exits 2 before any work.
import { InvalidArgumentError, type Command } from 'commander';
import { InputError } from '../experiment/errors.ts';
import { loadSpecFile } from '../experiment/parse.ts';
import { buildModel } from '../model/mixture.ts';
import { checkOutput, writeFileAtomic } from '../io/output.ts';
import {
  DEFAULT_TRAIN,
  trainDenoiser,
  trainingGroup,
  untrainedDenoiser,
  type DenoiserTrainConfig,
} from '../studies/denoisers/train.ts';
import { DEFAULT_SIGMAS, scoreErrorReport } from '../studies/denoisers/score-error.ts';

function positiveInt(name: string, max = 2 ** 31) {
  return (value: string): number => {
    const v = Number(value.trim());
    if (!/^\d+$/.test(value.trim()) || v < 1 || v > max)
      throw new InvalidArgumentError(`${name} must be an integer in [1, ${max}], got ${value}`);
    return v;
  };
}

function seedArg(value: string): number {
  const v = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || v > 2 ** 32 - 1)
    throw new InvalidArgumentError(`--seed must be an integer in [0, 2^32 - 1], got ${value}`);
  return v;
}

function finite(name: string, positive = false) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || (positive && v <= 0))
      throw new InvalidArgumentError(`${name} must be a ${positive ? 'number > 0' : 'finite number'}, got ${value}`);
    return v;
  };
}

function list(name: string, item: (s: string) => number) {
  return (value: string): number[] => {
    const items = value.split(',').map((s) => s.trim());
    if (items.some((s) => s === ''))
      throw new InvalidArgumentError(`${name} must be a comma-separated list, got ${value}`);
    return items.map(item);
  };
}

export function addDenoiserCommand(program: Command): void {
  program
    .command('denoiser')
    .summary('train a learned MLP denoiser on the mixture; report its score error per noise level')
    .description(
      "train a small MLP denoiser with EDM preconditioning on samples of p(x | class) of the spec's mixture " +
        '(noise levels log-normal, P_mean, P_std), write it as a model file (--out; usable as guidance.score or a ' +
        'learned guidance.negative, docs/learned-denoisers.md) and print JSON: config, time, loss curve and the ' +
        'score error E|s_hat - s|^2 against the exact score per noise level, trained vs untrained',
    )
    .argument('<spec>', 'experiment spec (JSON); its classes are the data')
    .option('--class <name>', 'the class to learn, or "unconditional" (default: the spec\'s target)')
    .option(
      '--hidden <list>',
      'hidden layer widths',
      list('--hidden', positiveInt('--hidden', 256)),
      DEFAULT_TRAIN.hidden,
    )
    .option('--iterations <n>', 'Adam iterations', positiveInt('--iterations'), DEFAULT_TRAIN.iterations)
    .option('--batch <n>', 'samples per iteration', positiveInt('--batch', 1 << 20), DEFAULT_TRAIN.batch)
    .option(
      '--lr <rate>',
      'reference learning rate (1/sqrt decay after --lr-iter)',
      finite('--lr', true),
      DEFAULT_TRAIN.lr,
    )
    .option('--lr-iter <n>', 'iterations before the decay', positiveInt('--lr-iter'), DEFAULT_TRAIN.lrIter)
    .option('--p-mean <v>', 'mean of ln sigma', finite('--p-mean'), DEFAULT_TRAIN.pMean)
    .option('--p-std <v>', 'sd of ln sigma', finite('--p-std', true), DEFAULT_TRAIN.pStd)
    .option(
      '--sigma-data <v>',
      "EDM's sigma_data (default: the class's RMS standard deviation)",
      finite('--sigma-data', true),
    )
    .option(
      '--ema-std <v>',
      'relative std of the power-function EMA (0: none)',
      finite('--ema-std'),
      DEFAULT_TRAIN.emaStd,
    )
    .option(
      '--loss <kind>',
      'exact (regress on E[x_0|y] of the mixture, as edm2 toy) or dsm (on x_0)',
      DEFAULT_TRAIN.loss,
    )
    .option('--seed <s>', 'training seed, integer in [0, 2^32 - 1]', seedArg, 0)
    .option(
      '--sigmas <list>',
      'noise levels (VE sigma) of the score-error report',
      list('--sigmas', finite('--sigmas', true)),
    )
    .option('--eval <n>', 'evaluation points per noise level', positiveInt('--eval', 1e7), 4000)
    .option('--out <model.json>', 'write the model file here')
    .option('--force', 'replace a write-protected --out file')
    .action(async (specPath: string, opts) => {
      const spec = loadSpecFile(specPath);
      const group = opts.class ?? spec.target;
      if (group !== 'unconditional' && !spec.classes.some((c) => c.name === group))
        throw new InputError(`--class: no class ${JSON.stringify(group)} in the spec (or "unconditional")`);
      if (opts.loss !== 'exact' && opts.loss !== 'dsm')
        throw new InputError(`--loss must be exact or dsm, got ${opts.loss}`);
      if (!(opts.emaStd >= 0 && opts.emaStd < 0.28))
        throw new InputError(`--ema-std must be in [0, 0.28), got ${opts.emaStd}`);
      if (opts.out) {
        const issue = checkOutput(opts.out, { flag: '--out', inputs: [specPath], force: opts.force === true });
        if (issue) throw new InputError(`${issue.path}: ${issue.message}`);
      }
      const config: DenoiserTrainConfig = {
        group,
        hidden: opts.hidden,
        iterations: opts.iterations,
        batch: opts.batch,
        lr: opts.lr,
        lrIter: opts.lrIter,
        pMean: opts.pMean,
        pStd: opts.pStd,
        sigmaData: opts.sigmaData ?? 'data',
        emaStd: opts.emaStd,
        seed: opts.seed,
        loss: opts.loss,
      };
      process.stderr.write(`training ${JSON.stringify(config)}\n`);
      const result = trainDenoiser(spec, config);
      const mixture = buildModel(spec);
      const g = trainingGroup(mixture, group);
      const sigmas = opts.sigmas ?? DEFAULT_SIGMAS;
      const trained = scoreErrorReport(result.model, mixture, g, { sigmas, n: opts.eval, seed: config.seed });
      const untrained = scoreErrorReport(untrainedDenoiser(spec, config), mixture, g, {
        sigmas,
        n: opts.eval,
        seed: config.seed,
      });
      if (opts.out) await writeFileAtomic(opts.out, `${JSON.stringify(result.file)}\n`);
      const report = {
        spec: specPath,
        model: opts.out ?? null,
        config: { ...config, sigmaData: result.model.sigmaData },
        parameters: result.model.net.params.length,
        seconds: result.seconds,
        lossCurve: result.lossCurve,
        scoreError: trained.map((l, i) => ({
          ...l,
          untrainedMse: untrained[i].mse,
          untrainedRelative: untrained[i].relative,
        })),
      };
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    });
}
