// Trained-classifier guidance on the GPU (sampleWebGpu's `classifier` option, shaders/classifier.wgsl)
// against the CPU's sampleWithClassifier (f64), particle by particle from the same seed:
// logistic regression on each feature map (linear, quadratic, sum) and MLPs with both
// activations, euler and em, 1-D and 2-D, each a PerLevelClassifier trained on the spec's
// noised mixture (a few levels, so rows fall between levels, on a level and outside the grid).
//
// Tolerance: K u S_N per particle and coordinate with parity.ts's K = PARITY_ULPS, S_N the
// root-sum-square propagation of the local f32 error magnitudes by each particle's own one-step
// Jacobian (test/support/parity.ts), the local magnitude extended by the classifier's term
// (test/support/classifier-parity.ts: derived operation by operation, not fitted). Observed
// deviations and the share of the tolerance they use are printed per case.
//
// Mutation twins, in every case: the same GPU run with w x 1.01, and with every level's
// first-layer weights x 1.01, must each put more than a quarter of the coordinates beyond that
// tolerance. (A 1 % change of a single weight of an MLP moves the particles by only ~1e-4 to
// 2e-3, within the MLP cases' tolerance, whose median is 2e-4 to 5e-4: the network's magnitude
// model sums absolute values, about 20-40x the observed f32 error there.)
import { describe, expect, it } from 'vitest';
import { PerLevelClassifier } from '../../src/model/classifier/classifier.ts';
import { sampleNoisedData } from '../../src/studies/classifiers/data.ts';
import type { FeatureKind } from '../../src/model/classifier/features.ts';
import { Network, type Activation } from '../../src/model/classifier/network.ts';
import { sampleWithClassifier } from '../../src/studies/classifiers/sample.ts';
import { gpuSampler, sampleWithClassifierGpu } from '../../src/studies/classifiers/sample-gpu.ts';
import { cpuSampler, runClassifierExperiment, type ModelKind } from '../../src/studies/classifiers/experiment.ts';
import { trainAdam, trainLogisticNewton } from '../../src/studies/classifiers/train.ts';
import { classifierLayout, packClassifier } from '../../src/gpu/classifier.ts';
import { withErrorScopes, type GpuContext } from '../../src/gpu/device.ts';
import { buildModel } from '../../src/model/mixture.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { ExperimentSpec, WSchedule } from '../../src/experiment/types.ts';
import { classifierReferenceWithBound } from '../support/classifier-parity.ts';
import { describeGpu } from '../support/gpu.ts';
import { compareWithBound, formatReport, PARITY_ULPS } from '../support/parity.ts';

type Solver = 'euler' | 'em';

const gauss = (mean: number[], cov: unknown) => ({ kind: 'gaussian', mean, cov });

const SPECS: Record<'1-D' | '2-D', (solver: Solver) => ExperimentSpec> = {
  // Two unit Gaussians at +-1, OU to T = 4.
  '1-D': (solver) =>
    parseSpec({
      dim: 1,
      classes: [
        { name: 'pos', weight: 0.5, components: [gauss([1], 1)] },
        { name: 'neg', weight: 0.5, components: [gauss([-1], 1)] },
      ],
      target: 'pos',
      process: { kind: 'ou', T: 4 },
      guidance: { kind: 'none' },
      solver: { kind: solver, steps: 60, tMin: 0.01 },
      particles: 400,
      seed: 7,
    }),
  // Three classes (a full covariance, a mixture), VP: a 3-way softmax.
  '2-D': (solver) =>
    parseSpec({
      dim: 2,
      classes: [
        {
          name: 'a',
          weight: 0.4,
          components: [
            gauss(
              [1, 0.5],
              [
                [0.5, 0.2],
                [0.2, 0.3],
              ],
            ),
          ],
        },
        { name: 'b', weight: 0.35, components: [gauss([-1, -1], 0.4), gauss([-1.5, 1], 0.2)] },
        { name: 'c', weight: 0.25, components: [gauss([1.5, -1.5], 0.3)] },
      ],
      target: 'a',
      process: { kind: 'vp' },
      guidance: { kind: 'none' },
      solver: { kind: solver, steps: 50, tMin: 0.01 },
      particles: 300,
      seed: 11,
    }),
};

interface ModelCase {
  name: string;
  features: FeatureKind;
  hidden: number[];
  activation: Activation;
}

const MODELS: ModelCase[] = [
  { name: 'logistic, linear', features: 'linear', hidden: [], activation: 'silu' },
  { name: 'logistic, quadratic', features: 'quadratic', hidden: [], activation: 'silu' },
  { name: 'logistic, sum', features: 'sum', hidden: [], activation: 'silu' },
  { name: 'mlp 16x8 silu, linear', features: 'linear', hidden: [16, 8], activation: 'silu' },
  { name: 'mlp 12 tanh, quadratic', features: 'quadratic', hidden: [12], activation: 'tanh' },
];

/** Level times: rows below the first use it alone, the rest interpolate (or sit on a level). */
function levelTimes(spec: ExperimentSpec): number[] {
  return spec.process.kind === 'ou' ? [0.03, 0.2, 0.8, 2, 4] : [0.03, 0.1, 0.3, 0.6, 1];
}

function train(spec: ExperimentSpec, m: ModelCase): PerLevelClassifier {
  const model = buildModel(spec);
  const classes = model.classes.map((c) => c.name);
  const times = levelTimes(spec);
  const nets = times.map((t, level) => {
    const data = sampleNoisedData(model, spec.process, t, 1500, 3, 1000 + level);
    const net = new Network({
      dim: spec.dim,
      classes: classes.length,
      features: m.features,
      hidden: m.hidden,
      activation: m.activation,
    });
    if (m.hidden.length === 0) trainLogisticNewton(net, data);
    else
      trainAdam(net, data, {
        seed: 3,
        level,
        initStream: 2000 + level,
        shuffleStream: 3000 + level,
        epochs: 4,
        batch: 128,
        lr: 1e-2,
      });
    return net;
  });
  return new PerLevelClassifier(classes, times, nets, spec.process);
}

const W: number | WSchedule = 3;

async function gpuParticles(ctx: GpuContext, spec: ExperimentSpec, clf: PerLevelClassifier, w: number | WSchedule) {
  const started = performance.now();
  const { particles } = await withErrorScopes(ctx.device, () => sampleWithClassifierGpu(ctx, spec, clf, w));
  ctx.checkErrors();
  return { particles, ms: performance.now() - started };
}

/** The classifier with every level's first-layer weights scaled by 1.01. */
function perturbed(clf: PerLevelClassifier, spec: ExperimentSpec): PerLevelClassifier {
  const nets = clf.nets.map((n) => {
    const c = n.clone();
    for (let i = c.wOffset[0]; i < c.bOffset[0]; i++) c.params[i] *= 1.01;
    return c;
  });
  return new PerLevelClassifier(clf.classes, clf.times, nets, spec.process);
}

describe('the classifier buffer layout', () => {
  it('packs each level as [featMean, featInvStd, the network params at its own offsets], then the rows', () => {
    const spec = SPECS['2-D']('euler');
    const clf = train(spec, MODELS[3]);
    const layout = classifierLayout(clf);
    const net = clf.nets[2];
    expect(layout.sizes).toEqual(net.sizes);
    const rows = [
      { t: 0.2, cs: 1 },
      { t: 0.005, cs: 1 },
      { t: 0.5, cs: 0 },
    ] as never[];
    const buf = packClassifier(clf, layout, rows, { kind: 'constant', w: 3 });
    const f32 = new Float32Array(buf);
    const u32 = new Uint32Array(buf);
    const base = 2 * layout.levelStride;
    expect(f32[base + layout.featInvStd + 1]).toBe(Math.fround(net.featInvStd[1]));
    expect(f32[base + layout.wOffset[1] + 5]).toBe(Math.fround(net.params[net.wOffset[1] + 5]));
    expect(f32[base + layout.bOffset[2] + 1]).toBe(Math.fround(net.params[net.bOffset[2] + 1]));
    const r = layout.paramFloats;
    // t = 0.2 lies between levels 1 (0.1) and 2 (0.3); below the grid: level 0 alone; cs = 0: w = 0.
    expect([u32[r], u32[r + 1]]).toEqual([1, 2]);
    expect(f32[r + 2]).toBeCloseTo(clf.bracket(0.2).lam, 6);
    expect(f32[r + 3]).toBe(3);
    expect([u32[r + 4], u32[r + 5], f32[r + 6]]).toEqual([0, 0, 0]);
    expect(f32[r + 11]).toBe(0);
  });

  it('rejects levels with different architectures', () => {
    const spec = SPECS['1-D']('euler');
    const a = train(spec, MODELS[0]);
    const b = train(spec, MODELS[1]);
    const mixed = new PerLevelClassifier(a.classes, a.times, [...a.nets.slice(0, 2), ...b.nets.slice(2)], spec.process);
    expect(() => classifierLayout(mixed)).toThrow(/same network architecture/);
  });
});

await describeGpu('trained-classifier guidance: GPU f32 vs sampleWithClassifier f64 per particle', (ctx) => {
  for (const [dimName, makeSpec] of Object.entries(SPECS)) {
    for (const m of MODELS) {
      for (const solver of ['euler', 'em'] as Solver[]) {
        const name = `${dimName}, ${m.name}, ${solver}`;
        it(name, async () => {
          const spec = makeSpec(solver);
          const clf = train(spec, m);
          const gpu = await gpuParticles(ctx, spec, clf, W);
          const started = performance.now();
          const ref = classifierReferenceWithBound(spec, clf, W);
          const cpuMs = performance.now() - started;
          const report = compareWithBound(gpu.particles, ref, spec.dim);
          console.log(
            `${formatReport(`${name} (${spec.particles} x ${spec.solver.steps} steps)`, report)}; GPU ${gpu.ms.toFixed(0)} ms, CPU + model ${cpuMs.toFixed(0)} ms`,
          );
          // The model's reference is sampleWithClassifier's particles, bit for bit.
          expect(ref.particles).toEqual(sampleWithClassifier(spec, clf, W));
          expect(report.nonFinite).toBe(0);
          expect(report.firstFailure).toBeNull();
          expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
          // Within the first-order model's range: small against the data's scale (1). (parity.ts's
          // cases hold it under 1e-2; here the MLP's conservative magnitude times the ~40-fold
          // end-to-end Jacobian of particles that start near the class boundary reaches 4e-2 once,
          // 1-D tanh on quadratic features, euler.)
          expect(report.maxTolerance).toBeLessThan(5e-2);

          // The tolerance is meaningful: a 1 % error in w, or in a layer's weights, breaks it.
          for (const [twin, x] of [
            ['w x 1.01', (await gpuParticles(ctx, spec, clf, 3 * 1.01)).particles],
            ['first-layer weights x 1.01', (await gpuParticles(ctx, spec, perturbed(clf, spec), W)).particles],
          ] as const) {
            const r = compareWithBound(x, ref, spec.dim);
            console.log(
              `  twin ${twin}: ${r.failures} of ${x.length} coordinates beyond the tolerance, max |d| ${r.maxAbs.toExponential(2)}`,
            );
            expect(r.failures).toBeGreaterThan(x.length / 4);
          }
        });
      }
    }
  }

  it('a piecewise w(t) and a forced split (chunks, steps per dispatch) give the same particles as one dispatch', async () => {
    const spec = SPECS['2-D']('em');
    const clf = train(spec, MODELS[4]);
    const w: WSchedule = {
      kind: 'piecewise',
      points: [
        [0.05, 0],
        [0.5, 5],
      ],
    };
    const whole = await gpuParticles(ctx, spec, clf, w);
    const split = await withErrorScopes(ctx.device, () =>
      sampleWithClassifierGpu(ctx, spec, clf, w, { gpu: { chunkParticles: 128, stepsPerDispatch: 7 } }),
    );
    expect(split.info.plan.dispatches).toBeGreaterThan(3);
    expect(split.particles).toEqual(whole.particles);
    const ref = classifierReferenceWithBound(spec, clf, w);
    const report = compareWithBound(whole.particles, ref, spec.dim);
    console.log(formatReport('2-D, mlp tanh, em, piecewise w', report));
    expect(report.failures).toBe(0);
  });

  it('the classifiers experiment samples the same on the GPU as on the CPU (exact, logistic and MLP)', async () => {
    const spec = SPECS['2-D']('euler');
    const opts = {
      tGrid: [0.02, 0.2, 1],
      models: ['logistic', 'mlp'] as ModelKind[],
      hidden: [8],
      epochs: 2,
      train: 600,
      test: 300,
      w: [2],
      particles: 200,
    };
    const cpu = await runClassifierExperiment(spec, { ...opts, sampler: cpuSampler });
    const gpu = await runClassifierExperiment(spec, { ...opts, sampler: gpuSampler(ctx) });
    expect(cpu.sampling!.backend).toBe('cpu');
    expect(gpu.sampling!.backend).toBe('webgpu');
    expect(gpu.sampling!.adapter).toBe(ctx.adapterInfo.label);
    const a = cpu.sampling!.runs[0];
    const b = gpu.sampling!.runs[0];
    for (const [x, y] of [
      [a.exact, b.exact],
      [a.models.logistic!, b.models.logistic!],
      [a.models.mlp!, b.models.mlp!],
    ]) {
      x.mean.forEach((m, i) => {
        expect(Math.abs(m - y.mean[i])).toBeLessThan(1e-3);
      });
      expect(y.nonFinite).toBe(0);
    }
  });

  it('refuses a spec with a corrector', async () => {
    const spec = SPECS['1-D']('em');
    const clf = train(spec, MODELS[0]);
    const withFk = { ...spec, corrector: { kind: 'fk', resample: 'systematic', essThreshold: 0.5 } } as ExperimentSpec;
    await expect(sampleWithClassifierGpu(ctx, withFk, clf, W)).rejects.toThrow(/no corrector/);
  });
});
