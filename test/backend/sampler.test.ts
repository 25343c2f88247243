// One plan, one backend interface: prepareExperiment compiles a spec once into frozen tables both
// backends read; cpuBackend and webGpuBackend return the same report shape; a range of a run is the
// same particles as that slice of the whole run (the generator is keyed by the global index); the
// GPU's particles agree with the CPU's per particle within the parity bound (test/support/parity.ts).
import { describe, expect, it } from 'vitest';
import { collectParticles, countNonFinite, type SampleReport } from '../../src/backend/sampler.ts';
import { cpuBackend } from '../../src/cpu/backend.ts';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { isPlan, planOf, prepareExperiment } from '../../src/experiment/plan.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import type { PerLevelClassifier } from '../../src/model/classifier/classifier.ts';
import { webGpuBackend } from '../../src/gpu/backend.ts';
import { planGuidance } from '../../src/guidance/guidance.ts';
import { buildStepTable } from '../../src/solvers/table.ts';
import { describeGpu } from '../support/gpu.ts';
import { compareWithBound, referenceWithBound } from '../support/parity.ts';
import { TWO_GAUSSIANS } from '../support/sampler-cases.ts';

const RAW = {
  dim: 1,
  classes: TWO_GAUSSIANS,
  target: 'pos',
  process: { kind: 'ou', T: 5 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'heun', steps: 24 },
  particles: 3000,
  seed: 11,
};
const spec = parseSpec(RAW);
/** prepareExperiment only carries the classifier; the samplers that use it are tested in test/gpu/classifier-guidance.test.ts. */
const TRAINED = { model: {} as PerLevelClassifier, w: 2 };

const REPORT_KEYS: (keyof SampleReport)[] = [
  'backend',
  'adapter',
  'first',
  'count',
  'dim',
  'nonFinite',
  'elapsedMs',
  'fk',
  'details',
];

describe('prepareExperiment', () => {
  it('compiles the spec once into frozen tables: the rows are the step table of the spec', () => {
    const plan = prepareExperiment(spec);
    expect(isPlan(plan)).toBe(true);
    expect(isPlan(spec)).toBe(false);
    expect(Object.isFrozen(plan)).toBe(true);
    expect(planOf(plan)).toBe(plan);
    const direct = buildStepTable(spec, planGuidance(spec));
    expect(plan.table.rows).toEqual(direct.rows);
    expect(plan.variant).toEqual({ kind: 'linear' });
    expect(plan.startTime).toBe(5);
  });

  it('a trained classifier turns the spec guidance and score error off; a corrector is refused', () => {
    const plan = prepareExperiment(spec, { classifier: TRAINED });
    expect(plan.spec.guidance).toEqual({ kind: 'none' });
    expect(plan.guidance.negative).toBeNull();
    const withFk = parseSpec({ ...RAW, solver: { kind: 'em', steps: 24 }, corrector: { kind: 'fk' } });
    expect(() => prepareExperiment(withFk, { classifier: TRAINED })).toThrow(/no corrector/);
  });
});

describe('cpuBackend', () => {
  it('streams the same particles as sampleCpu, a range is the slice of the whole run, the report has one shape', async () => {
    const plan = prepareExperiment(spec);
    const whole = sampleCpu(plan).particles;
    const backend = cpuBackend({ threads: 2 });
    const all = await collectParticles(backend, plan);
    expect(all.particles).toEqual(whole);
    expect(Object.keys(all.report).sort()).toEqual([...REPORT_KEYS].sort());
    expect(all.report).toMatchObject({ backend: 'cpu', adapter: null, first: 0, count: 3000, dim: 1, nonFinite: 0 });
    const part = await collectParticles(backend, plan, { first: 1000, count: 700 });
    expect(part.particles).toEqual(whole.subarray(1000, 1700));
    expect(part.report).toMatchObject({ first: 1000, count: 700 });
  });

  it('refuses a trained-classifier plan (that runs through the classifier study) with a clear error', async () => {
    const plan = prepareExperiment(spec, { classifier: TRAINED });
    await expect(cpuBackend().sample(plan)).rejects.toThrow(/sampleWithClassifier/);
  });
});

describe('countNonFinite', () => {
  it('counts particles, not coordinates, with a NaN or an infinity', () => {
    const x = new Float32Array([0, 1, Number.NaN, 2, Number.NaN, Number.POSITIVE_INFINITY, 3, 4]);
    expect(countNonFinite(x, 4, 2)).toBe(2);
    expect(countNonFinite(x, 1, 2)).toBe(0);
  });
});

await describeGpu('webGpuBackend', (ctx) => {
  it('agrees with the CPU per particle, a range is the slice of the whole run, the report has the same shape', async () => {
    const plan = prepareExperiment(spec);
    const backend = webGpuBackend(ctx);
    const all = await collectParticles(backend, plan);
    expect(Object.keys(all.report).sort()).toEqual([...REPORT_KEYS].sort());
    expect(all.report).toMatchObject({ backend: 'webgpu', first: 0, count: 3000, dim: 1, nonFinite: 0 });
    expect(all.report.adapter).toBe(ctx.adapterInfo.label);
    const parity = compareWithBound(all.particles, referenceWithBound(spec), 1);
    expect(parity.failures, parity.firstFailure ?? '').toBe(0);
    // The GPU is deterministic too: the range's particles are the whole run's, bit for bit.
    const part = await collectParticles(backend, plan, { first: 1000, count: 700 });
    expect(part.particles).toEqual(all.particles.subarray(1000, 1700));
    expect(part.report).toMatchObject({ first: 1000, count: 700 });
  });

  it('the twin: the range read from the wrong offset is not the slice', async () => {
    const plan = prepareExperiment(spec);
    const all = await collectParticles(webGpuBackend(ctx), plan);
    const part = await collectParticles(webGpuBackend(ctx), plan, { first: 1001, count: 700 });
    expect(part.particles).not.toEqual(all.particles.subarray(1000, 1700));
  });
});
