// Smoke test of the benchmarks (bench/): each runs at a trivial size and its JSON has the
// documented shape. Timings are never asserted, only that they are positive numbers.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { describeGpu } from '../support/gpu.ts';
import { GUIDER_WORKLOADS, SOLVER_WORKLOADS } from '../../bench/workloads.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

async function benchJson(args: string[], command = process.execPath): Promise<any> {
  const { stdout } = await run(command, args, { cwd: root, maxBuffer: 64 * 2 ** 20, timeout: 110_000 });
  return JSON.parse(stdout);
}

const positive = (x: unknown): void => {
  expect(typeof x).toBe('number');
  expect(x as number).toBeGreaterThan(0);
};

function expectTiming(t: any, repeats: number): void {
  expect(t.secondsPerRun).toHaveLength(repeats);
  for (const s of t.secondsPerRun) positive(s);
  positive(t.medianSeconds);
}

function expectEnvironment(env: any): void {
  expect(env.node).toMatch(/^v\d+/);
  expect(typeof env.os).toBe('string');
  expect(typeof env.cpu).toBe('string');
  positive(env.cpus);
}

async function pythonHasNumpy(): Promise<boolean> {
  try {
    await run('python3', ['-c', 'import numpy'], { timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}
const hasNumpy = await pythonHasNumpy();

// The benchmarks run as child processes, all started at once (each spends most of its time
// compiling pipelines, single-threaded, so they overlap well); each test awaits its own.
const started = new Map<string, Promise<any>>();
function once(key: string, args: string[], command?: string): Promise<any> {
  if (!started.has(key)) {
    const p = benchJson(args, command);
    p.catch(() => {}); // reported by the test that awaits it
    started.set(key, p);
  }
  return started.get(key)!;
}
const PEAK = [
  'bench/peak.ts',
  '--repeats',
  '2',
  '--target-seconds',
  '0.005',
  '--invocations',
  '16384',
  '--copy-mib',
  '1',
];
const BASELINES = [
  'bench/baselines.ts',
  '--particles',
  '512',
  '--cpu-particles',
  '128',
  '--numpy-particles',
  '512',
  '--steps',
  '5',
  '--repeats',
  '1',
  '--numpy-repeats',
  '1',
  '--peak-repeats',
  '1',
  '--peak-seconds',
  '0.005',
  '--solver-particles',
  '1024',
];
const SCALING_DIR = mkdtempSync(join(tmpdir(), 'bench-test-'));
const SCALING_CSV = join(SCALING_DIR, 'scaling.csv');
const SCALING_FIGURE = join(SCALING_DIR, 'scaling.svg');
const SCALING = [
  'bench/scaling.ts',
  '--cpu',
  '--cpu-max-particles',
  '256',
  '--figure',
  SCALING_FIGURE,
  '--particles-list',
  '256,512',
  '--components-list',
  '1,3',
  '--dim-list',
  '2',
  '--steps-list',
  '3',
  '--dispatch-list',
  '1',
  '--base-particles',
  '256',
  '--base-steps',
  '2',
  '--repeats',
  '1',
  '--peak-repeats',
  '1',
  '--peak-seconds',
  '0.005',
  '--csv',
  SCALING_CSV,
];

describe('bench/numpy_baseline.py', () => {
  it.skipIf(!hasNumpy)('prints rates and moments for f32 and f64', async () => {
    const r = await benchJson(
      ['bench/numpy_baseline.py', '--particles', '512', '--steps', '5', '--repeats', '1', '--warmup', '0'],
      'python3',
    );
    expect(r.benchmark).toBe('numpy');
    expect(r.skipped).toBe(false);
    expect(r.configuration).toMatchObject({ particles: 512, steps: 5 });
    for (const key of ['f32', 'f64']) {
      const x = r.results[key];
      expectTiming(x, 1);
      positive(x.particleStepsPerSecond);
      expect(x.moments.count).toBe(512);
      expect(Number.isFinite(x.moments.mean)).toBe(true);
      positive(x.moments.variance);
    }
  });
});

describe('bench/heavy_skip_bound.py', () => {
  const bound = (threshold: number) =>
    benchJson(['bench/heavy_skip_bound.py', '--particles', '512', '--threshold', String(threshold)], 'python3');

  it.skipIf(!hasNumpy)(
    'evaluates everything at sigmaMax, a minority at tMin, and nothing is skipped at an infinite threshold',
    async () => {
      const r = await bound(104);
      expect(r.benchmark).toBe('heavy-skip-bound');
      expect(r.steps).toHaveLength(33); // the tree's 32 Heun steps: 33 EDM sigmas
      expect(r.steps[0].sigma).toBeCloseTo(5, 12);
      expect(r.steps[0].fractionEvaluated).toBe(1);
      expect(r.steps[32].sigma).toBeCloseTo(0.002, 12);
      expect(r.steps[32].fractionEvaluated).toBeLessThan(0.5);
      expect(r.speedupBound).toBeGreaterThan(1);
      // Its twin: with no term small enough to drop, the bound must be exactly 1.
      const none = await bound(1e9);
      for (const row of none.steps) expect(row.fractionEvaluated).toBe(1);
      expect(none.speedupBound).toBe(1);
    },
  );
});

await describeGpu('bench', () => {
  once('peak', PEAK);
  once('baselines', BASELINES);
  once('scaling', SCALING);

  it('peak: GFLOP/s, Gexp/s, GB/s with samples, checks and environment', async () => {
    const r = await once('peak', PEAK);
    expect(r.benchmark).toBe('peak');
    expectEnvironment(r.environment);
    expect(r.adapter.label).toMatch(/^node-dawn: /);
    positive(r.gflops);
    positive(r.gexps);
    positive(r.gbytesPerSecond);
    for (const k of ['fma', 'exp', 'bandwidth']) {
      expectTiming(r[k].timing, 2);
      expect(r[k].check.ok).toBe(true);
      positive(r[k].rate);
    }
  });

  it('baselines: cpu, numpy, webgpu side by side with ratios, roofline and agreement', async () => {
    const r = await once('baselines', BASELINES);
    expect(r.benchmark).toBe('baselines');
    expectEnvironment(r.environment);
    expect(r.adapter.label).toMatch(/^node-dawn: /);
    expect(r.configuration).toMatchObject({ webgpuParticles: 512, cpuParticles: 128, steps: 5 });
    expect(r.workload.workModel).toMatchObject({ flopsPerParticleStep: 67, expsPerParticleStep: 4 });
    expectTiming(r.runs.cpu.timing, 1);
    expectTiming(r.runs.webgpu.timing, 1);
    positive(r.particleStepsPerSecond.cpu);
    positive(r.particleStepsPerSecond.webgpu);
    positive(r.ratios.webgpuToCpu);
    positive(r.peak.gflops);
    for (const k of ['fmaPeakFraction', 'expPeakFraction', 'peakFraction']) positive(r.roofline.webgpu[k]);
    if (hasNumpy) {
      expectTiming(r.runs.numpyF32.timing, 1);
      expectTiming(r.runs.numpyF64.timing, 1);
      positive(r.ratios.webgpuToNumpyBest);
      expect(r.agreement.map((a: any) => a.b)).toEqual(['numpyF64', 'numpyF32', 'webgpu']);
    } else {
      expect(r.runs.numpyF32).toBeNull();
      expect(r.notices.join(' ')).toMatch(/numpy/);
    }
    expect(r.agreement.find((a: any) => a.b === 'webgpu')).toBeDefined();
    // Every solver and every guider at equal steps, with the kernel the host chose.
    expect(r.solvers.runs.map((s: any) => s.kind)).toEqual(SOLVER_WORKLOADS.map((w) => w.kind));
    expect(r.guiders.runs.map((g: any) => g.name)).toEqual(GUIDER_WORKLOADS.map((w) => w.name));
    for (const row of [...r.solvers.runs, ...r.guiders.runs]) {
      expect(['step', 'step-gauss4']).toContain(row.kernel);
      positive(row.particleStepsPerSecond);
    }
  });

  it('scaling: one point per value of each sweep, JSON and CSV', async () => {
    const r = await once('scaling', SCALING);
    expect(r.benchmark).toBe('scaling');
    expectEnvironment(r.environment);
    expect(r.adapter.label).toMatch(/^node-dawn: /);
    const webgpu = r.points.filter((p: any) => p.backend === 'webgpu');
    expect(webgpu.map((p: any) => [p.sweep, p.particles, p.components, p.dim, p.steps, p.stepsPerDispatch])).toEqual([
      ['particles', 256, 4, 1, 2, 2],
      ['particles', 512, 4, 1, 2, 2],
      ['components', 256, 1, 1, 2, 2],
      ['components', 256, 3, 1, 2, 2],
      ['dim', 256, 4, 2, 2, 2],
      ['steps', 256, 4, 1, 3, 3],
      ['dispatch', 256, 4, 1, 2, 1],
    ]);
    // The CPU backend beside it up to --cpu-max-particles (N 512 skipped; no dispatch sweep).
    const cpu = r.points.filter((p: any) => p.backend === 'cpu');
    expect(cpu.map((p: any) => [p.sweep, p.particles, p.components, p.dim, p.steps])).toEqual([
      ['particles', 256, 4, 1, 2],
      ['components', 256, 1, 1, 2],
      ['components', 256, 3, 1, 2],
      ['dim', 256, 4, 2, 2],
      ['steps', 256, 4, 1, 3],
    ]);
    const csv = readFileSync(SCALING_CSV, 'utf8').trim().split('\n');
    expect(csv[0].split(',').slice(0, 7)).toEqual([
      'sweep',
      'backend',
      'kernel',
      'particles',
      'steps',
      'dim',
      'components',
    ]);
    expect(csv).toHaveLength(1 + r.points.length);
    for (const p of r.points) {
      expect(p.secondsPerRun).toHaveLength(1);
      positive(p.particleStepsPerSecond);
      if (p.backend === 'webgpu') positive(p.roofline.peakFraction);
      else expect(p.roofline).toBeNull();
    }
    expect(readFileSync(SCALING_FIGURE, 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(SCALING_FIGURE.replace(/svg$/, 'png')).subarray(1, 4).toString()).toBe('PNG');
  });
});
