// `guidance-sampler classifiers SPEC`: trained noise-level classifiers against the exact one
// (src/studies/classifiers/). Prints one JSON report on stdout (and to --json FILE). Bad input (spec or
// arguments) exits 2 before any work, like `run`.
import { checkOutput, writeFileAtomic } from '../io/output.ts';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SpecError, type SpecIssue } from '../experiment/errors.ts';
import { TABLEAUS } from '../solvers/tableau.ts';
import { startTime } from '../processes/process.ts';
import { loadSpecFile } from '../experiment/parse.ts';
import {
  cpuSampler,
  DEFAULTS,
  runClassifierExperiment,
  type GuidedSampler,
  type ModelKind,
} from '../studies/classifiers/experiment.ts';
import { gpuSampler } from '../studies/classifiers/sample-gpu.ts';
import { acquireGpu, type GpuContext } from '../gpu/device.ts';
import { nodePlatform } from '../platform/node.ts';
import { FEATURE_KINDS, type FeatureKind } from '../model/classifier/features.ts';
import { ACTIVATIONS, type Activation } from '../model/classifier/network.ts';

function numberList(name: string) {
  return (value: string): number[] => {
    const items = value.split(',').map((s) => s.trim());
    if (items.length === 1 && items[0] === '') return [];
    return items.map((s) => {
      const v = Number(s);
      if (s === '' || !Number.isFinite(v))
        throw new InvalidArgumentError(`${name} must be comma-separated finite numbers, got ${JSON.stringify(s)}`);
      return v;
    });
  };
}

function positiveInt(name: string, max = 2 ** 32 - 1) {
  return (value: string): number => {
    const v = Number(value.trim());
    if (!/^\d+$/.test(value.trim()) || v < 1 || v > max)
      throw new InvalidArgumentError(`${name} must be an integer in [1, ${max}], got ${value}`);
    return v;
  };
}

function positiveNumber(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || v <= 0)
      throw new InvalidArgumentError(`${name} must be a number > 0, got ${value}`);
    return v;
  };
}

function intList(name: string) {
  return (value: string): number[] => {
    if (value.trim() === '' || value.trim() === 'none') return [];
    return value.split(',').map((s) => positiveInt(name, 4096)(s));
  };
}

/** The sampling backend: the GPU when asked for (or, with auto, when there is an adapter), else the CPU. */
async function chooseSampler(
  backend: 'auto' | 'cpu' | 'webgpu',
  sampling: boolean,
  log: (m: string) => void,
): Promise<{ sampler: GuidedSampler; release: () => void }> {
  if (backend === 'cpu' || !sampling) return { sampler: cpuSampler, release: () => {} };
  let gpu: GpuContext;
  try {
    gpu = await acquireGpu(nodePlatform);
  } catch (err) {
    if (backend === 'webgpu') throw err;
    log(`no WebGPU adapter, sampling on the CPU (${(err as Error).message})`);
    return { sampler: cpuSampler, release: () => {} };
  }
  return { sampler: gpuSampler(gpu), release: () => gpu.destroy() };
}

export function addClassifiersCommand(program: Command): void {
  program
    .command('classifiers')
    .summary(
      'train per-noise-level classifiers; compare their cross-entropy, KL and guidance with the exact classifier',
    )
    .description(
      'train per-noise-level classifiers (multinomial logistic regression and/or a small MLP) by cross-entropy on samples ' +
        "(x_t, c) of the spec's noised mixture; per t, report their held-out cross-entropy, the exact classifier's (the Bayes floor), " +
        'the conditional KL E_x KL(p_t(.|x) || p_hat(.|x)) and the guidance error E|grad log p_hat(target|x) - grad log p_t(target|x)|^2; ' +
        "then sample with classifier guidance s = s_u + w grad log p(target|x) at each --w, exact vs trained, with the spec's process and solver " +
        "(the spec's own guidance is ignored). For binary-vertex mixtures (examples/k-of-n.json) the report holds the histogram of the number of ones.",
    )
    .argument('<spec>', 'experiment spec (JSON, see README / SPEC.md)')
    .option(
      '--t-grid <list>',
      'comma-separated increasing times > 0, at most the start time, one trained model per time ' +
        '(default: 10 times geometric from solver.tMin to the start time)',
      numberList('--t-grid'),
    )
    .addOption(
      new Option('--model <kind>', 'which classifiers to train').choices(['logistic', 'mlp', 'both']).default('both'),
    )
    .addOption(
      new Option(
        '--features <kind>',
        'features of the logistic model (default: sum for a binary-vertex mixture, i.e. a monotone linear classifier, else linear)',
      ).choices(FEATURE_KINDS as string[]),
    )
    .option('--hidden <list>', 'MLP hidden layer widths', intList('--hidden'), DEFAULTS.hidden)
    .addOption(
      new Option('--activation <act>', 'MLP activation').choices(ACTIVATIONS as string[]).default(DEFAULTS.activation),
    )
    .option('--epochs <n>', 'MLP training epochs (Adam)', positiveInt('--epochs', 1e6), DEFAULTS.epochs)
    .option('--batch <n>', 'MLP mini-batch size', positiveInt('--batch', 1e7), DEFAULTS.batch)
    .option('--lr <rate>', 'MLP Adam learning rate (cosine-decayed to 5%)', positiveNumber('--lr'), DEFAULTS.lr)
    .option('--train <n>', 'training samples per t', positiveInt('--train', 1e8), DEFAULTS.train)
    .option('--test <n>', 'held-out test samples per t', positiveInt('--test', 1e8), DEFAULTS.test)
    .option(
      '--w <list>',
      'guidance strengths to sample at; "" or "none" skips sampling',
      (v: string) => (v.trim() === 'none' ? [] : numberList('--w')(v)),
      [1, 3, 7],
    )
    .option('--particles <n>', "particles per sampling run (default: the spec's)", positiveInt('--particles'))
    .addOption(
      new Option(
        '--backend <backend>',
        'where the sampling part runs (auto: webgpu if an adapter is available, else the f64 CPU sampler)',
      )
        .choices(['auto', 'cpu', 'webgpu'])
        .default('auto'),
    )
    .option('--seed <s>', "override the spec's seed (sampling noise, training data, initialisation)", (v: string) => {
      if (!/^\d+$/.test(v.trim()) || Number(v) > 2 ** 32 - 1)
        throw new InvalidArgumentError(`--seed must be an integer in [0, 2^32), got ${v}`);
      return Number(v);
    })
    .option('--json <file>', 'also write the report to FILE (written whole or not at all)')
    .option('--quiet', 'no progress lines on stderr')
    .option('--force', 'replace a write-protected --json file')
    .exitOverride()
    .action(async (specPath: string, opts) => {
      const spec = loadSpecFile(specPath, { particles: opts.particles, seed: opts.seed });
      const issues: SpecIssue[] = [];
      const start = startTime(spec.process);
      const tGrid: number[] | undefined = opts.tGrid;
      if (tGrid !== undefined) {
        if (tGrid.length === 0) issues.push({ path: '--t-grid', message: 'expected at least one time' });
        tGrid.forEach((t, i) => {
          if (!(t > 0) || t > start)
            issues.push({
              path: `--t-grid[${i}]`,
              message: `expected 0 < t <= ${start} (the ${spec.process.kind} start time), got ${t}`,
            });
          if (i > 0 && !(t > tGrid[i - 1]))
            issues.push({ path: `--t-grid[${i}]`, message: `times must increase, got ${tGrid[i - 1]} then ${t}` });
        });
      }
      if (opts.json) {
        const bad = checkOutput(opts.json, { flag: '--json', inputs: [specPath], force: opts.force === true });
        if (bad) issues.push(bad);
      }
      // Trained-classifier sampling steps the tableau solvers only (src/studies/classifiers/sample.ts).
      if (opts.w.length > 0 && TABLEAUS[spec.solver.kind].denoised) {
        issues.push({
          path: 'solver.kind',
          message: `sampling with a trained classifier runs euler, heun, rk4 or em, got ${spec.solver.kind}`,
        });
      }
      if (issues.length > 0) throw new SpecError(issues);
      const models: ModelKind[] = opts.model === 'both' ? ['logistic', 'mlp'] : [opts.model];
      const log = opts.quiet ? () => {} : (m: string) => process.stderr.write(`classifiers: ${m}\n`);
      const { sampler, release } = await chooseSampler(opts.backend, opts.w.length > 0, log);
      const report = await runClassifierExperiment(spec, {
        sampler,
        tGrid,
        models,
        features: opts.features as FeatureKind | undefined,
        hidden: opts.hidden,
        activation: opts.activation as Activation,
        epochs: opts.epochs,
        batch: opts.batch,
        lr: opts.lr,
        train: opts.train,
        test: opts.test,
        w: opts.w,
        particles: opts.particles,
        onProgress: log,
      }).finally(release);
      const { classifiers: _nets, ...rest } = report;
      const text = JSON.stringify({ spec: specPath, ...rest }, null, 2) + '\n';
      if (opts.json) await writeFileAtomic(opts.json, text);
      process.stdout.write(text);
    });
}
