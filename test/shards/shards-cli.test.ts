// Shards and merge through the command line (issue 19 items 2-3): the union of k shards'
// particles is bit-identical to the single run on the same backend (cpu and webgpu), and
// merge(k shards) equals the single run: counts, support fraction, quantiles (an exact
// sketch) and log-density sums exactly, moments within the stated rounding. Refusals: exit 2,
// a message naming the file and field, and nothing written.
// @vitest-environment node
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeGpu } from '../support/gpu.ts';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');
const dir = mkdtempSync(join(tmpdir(), 'gs-shards-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function specFile(name: string, spec: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(spec));
  return path;
}

const GAUSS = {
  dim: 2,
  classes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [1, 0.5], cov: 1 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [-1, 0], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 2 },
  // em: fresh noise every step, keyed by the global particle index.
  solver: { kind: 'em', steps: 20, tMin: 1e-3 },
  particles: 10000,
  seed: 11,
};
const BOXES = {
  dim: 2,
  classes: [
    {
      name: 'diagonal',
      weight: 1,
      components: [
        { kind: 'uniform', weight: 1, low: [-2, -2], high: [-0.5, -0.5] },
        { kind: 'uniform', weight: 1, low: [0.5, 0.5], high: [2, 2] },
      ],
    },
    { name: 'anti', weight: 1, components: [{ kind: 'uniform', weight: 1, low: [-2, 0.5], high: [-0.5, 2] }] },
  ],
  target: 'diagonal',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 1 },
  solver: { kind: 'rk4', steps: 20 },
  particles: 10000,
  seed: 5,
};

/** Bytes after the .npy header. */
function npyData(path: string): Buffer {
  const b = readFileSync(path);
  return b.subarray(10 + b.readUInt16LE(8));
}

const EPS = 2 ** -52;

/** merge equals the single run: exact fields exactly, moments within 8 m eps x scale (m: merges of chunks). */
function expectSameSummary(merged: any, single: any, merges: number): void {
  for (const f of [
    'particles',
    'dim',
    'nonFinite',
    'quantiles',
    'insideSupport',
    'logDensity',
    'backend',
    'spec',
    'overflow',
  ])
    expect(merged[f], f).toEqual(single[f]);
  const d = single.dim;
  const scale = (i: number) => Math.abs(single.mean[i]) + Math.sqrt(single.covariance[i][i]);
  for (let i = 0; i < d; i++) {
    expect(Math.abs(merged.mean[i] - single.mean[i])).toBeLessThanOrEqual(8 * merges * EPS * scale(i));
    for (let j = 0; j < d; j++)
      expect(Math.abs(merged.covariance[i][j] - single.covariance[i][j])).toBeLessThanOrEqual(
        8 * merges * EPS * scale(i) * scale(j),
      );
  }
}

/** Single run and k shards on a backend: returns the parsed reports and the state files. */
function shardRun(name: string, spec: unknown, backend: string, k: number, extra: string[] = []) {
  const path = specFile(`${name}.json`, spec);
  const run = (tag: string, more: string[]) => {
    const r = cli([
      'run',
      path,
      '--backend',
      backend,
      '--out',
      join(dir, `${name}-${tag}.npy`),
      '--dtype',
      'f64',
      '--state',
      join(dir, `${name}-${tag}.state`),
      ...extra,
      ...more,
    ]);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };
  const single = run('all', []);
  const shards = Array.from({ length: k }, (_, i) => run(`${i}`, ['--shard', `${i}/${k}`]));
  const states = shards.map((_, i) => join(dir, `${name}-${i}.state`));
  // Bit-identical particles: the shards' files, concatenated, are the single run's file.
  const union = Buffer.concat(shards.map((_, i) => npyData(join(dir, `${name}-${i}.npy`))));
  expect(union.equals(npyData(join(dir, `${name}-all.npy`)))).toBe(true);
  return { single, shards, states };
}

describe('run --shard / merge on the CPU', () => {
  it('three shards of an em run: union bit-identical to the single run; merge equals it', () => {
    const { single, shards, states } = shardRun('gauss-cpu', GAUSS, 'cpu', 3);
    expect(shards.map((s) => s.shard)).toEqual([
      { index: 0, count: 3, first: 0, end: 3333 },
      { index: 1, count: 3, first: 3333, end: 6666 },
      { index: 2, count: 3, first: 6666, end: 10000 },
    ]);
    // Any order; a rerun shard's identical file given twice counts once.
    const r = cli(['merge', states[2], states[0], states[1], states[1]]);
    expect(r.status, r.stderr).toBe(0);
    expectSameSummary(JSON.parse(r.stdout), single, 10 + 3);
  });

  it('bounded supports and --log-density: inside-support counts and the log-density sums merge exactly', () => {
    const boxes = shardRun('boxes-cpu', BOXES, 'cpu', 2, ['--log-density']);
    expect(typeof boxes.single.insideSupport).toBe('number');
    expect(boxes.single.logDensity.count).toBe(10000);
    const union = Buffer.concat([0, 1].map((i) => npyData(join(dir, `boxes-cpu-${i}.logq.npy`))));
    expect(union.equals(npyData(join(dir, 'boxes-cpu-all.logq.npy')))).toBe(true);
    const r = cli(['merge', ...boxes.states]);
    expect(r.status, r.stderr).toBe(0);
    expectSameSummary(JSON.parse(r.stdout), boxes.single, 10 + 2);
    // A shard run without --log-density does not merge with ones run with it.
    const plain = cli([
      'run',
      specFile('boxes-cpu.json', BOXES),
      '--backend',
      'cpu',
      '--shard',
      '1/2',
      '--state',
      join(dir, 'boxes-plain-1.state'),
    ]);
    expect(plain.status, plain.stderr).toBe(0);
    const mixed = cli(['merge', boxes.states[0], join(dir, 'boxes-plain-1.state')]);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain('summary.logDensity: ran without --log-density');
    // Mutation twin: one shard's state merged with itself where the other belongs is refused, not summed.
    const twin = cli(['merge', boxes.states[0], boxes.states[0]]);
    expect(twin.status).toBe(2);
  });
});

describe('merge refusals: exit 2, the file and field named, nothing written', () => {
  const path = specFile('refuse.json', { ...GAUSS, particles: 600 });
  const state = (tag: string, args: string[]) => {
    const file = join(dir, `refuse-${tag}.state`);
    const r = cli(['run', path, '--backend', 'cpu', '--state', file, ...args]);
    expect(r.status, r.stderr).toBe(0);
    return file;
  };
  const s0of2 = state('0of2', ['--shard', '0/2']);
  const s1of2 = state('1of2', ['--shard', '1/2']);
  const s1of3 = state('1of3', ['--shard', '1/3']);
  const otherSeed = state('seed', ['--shard', '1/2', '--seed', '12']);
  const edit = (tag: string, f: (doc: any) => void) => {
    const doc = JSON.parse(readFileSync(s1of2, 'utf8'));
    f(doc);
    return specFile(`refuse-${tag}.state`, doc);
  };
  const cases: [string, string[], RegExp][] = [
    ['a different spec (seed)', [s0of2, otherSeed], /refuse-seed\.state: specHash: a different experiment/],
    [
      'another format version',
      [s0of2, edit('v2', (d) => (d.version = 2))],
      /refuse-v2\.state: version: state format version 2; this build reads version 1/,
    ],
    ['overlapping ranges', [s0of2, s1of3, s1of2], /overlaps/],
    ['a missing shard', [s0of2], /particles \[300, 600\) of 600 are in none of the files/],
    [
      'a different result for the same range',
      [s0of2, s1of2, edit('counts', (d) => (d.summary.inside = 7))],
      /also in .* with a different result/,
    ],
    ['an edited spec', [s0of2, edit('spec', (d) => (d.spec.seed = 99))], /specHash: does not match the spec/],
    ['a foreign file', [s0of2, path], /not a guidance-sampler state file/],
    ['no such file', [s0of2, join(dir, 'absent.state')], /absent\.state: cannot read/],
  ];
  it.each(cases)('%s', (_, files, message) => {
    const out = join(dir, 'merged-refused.state');
    const r = cli(['merge', ...files, '--state', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('the good merge writes a merged state that merges again to the same summary', () => {
    const out = join(dir, 'merged.state');
    const a = cli(['merge', s1of2, s0of2, '--state', out]);
    expect(a.status, a.stderr).toBe(0);
    const b = cli(['merge', out]);
    expect(b.status, b.stderr).toBe(0);
    const [ra, rb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    for (const f of ['particles', 'mean', 'covariance', 'quantiles']) expect(rb[f]).toEqual(ra[f]);
  });

  it('run refuses a corrector with --shard, and a bad --shard, with exit 2 and no file', () => {
    const fk = specFile('fk.json', { ...GAUSS, dim: 2, corrector: { kind: 'fk' }, particles: 100 });
    const out = join(dir, 'fk.state');
    const r = cli(['run', fk, '--backend', 'cpu', '--shard', '0/2', '--state', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--shard: a Feynman-Kac corrector');
    expect(existsSync(out)).toBe(false);
    for (const bad of ['2/2', '1/0', 'x']) {
      const b = cli(['run', path, '--backend', 'cpu', '--shard', bad]);
      expect(b.status, bad).toBe(2);
      expect(b.stderr).toContain('--shard:');
    }
    expect(cli(['run', path, '--backend', 'cpu', '--shard', '0/601']).stderr).toContain(
      '--shard: k = 601 shards of 600 particles',
    );
  });
});

const gpu = await nodeGpu();
afterAll(() => gpu.ctx?.destroy());
describe.skipIf(!gpu.ctx)(`run --shard / merge on webgpu [${gpu.description}]`, () => {
  it('four shards (step-gauss4, borders not multiples of 4), three (the general kernel), two with --log-density: union bit-identical, merge equal', () => {
    const g = shardRun('gauss-gpu', GAUSS, 'webgpu', 4);
    expect(g.shards[1].shard).toMatchObject({ first: 2500, end: 5000 });
    const r = cli(['merge', ...g.states]);
    expect(r.status, r.stderr).toBe(0);
    expectSameSummary(JSON.parse(r.stdout), g.single, 4 + 4);
    const b = shardRun('boxes-gpu', { ...BOXES, particles: 9999 }, 'webgpu', 3);
    const rb = cli(['merge', ...b.states]);
    expect(rb.status, rb.stderr).toBe(0);
    expectSameSummary(JSON.parse(rb.stdout), b.single, 4 + 3);
    // --log-density on webgpu (starts drawn on the host by global index): the log q files too.
    const ld = shardRun(
      'ld-gpu',
      { ...GAUSS, solver: { kind: 'rk4', steps: 10, tMin: 1e-3 }, particles: 5001 },
      'webgpu',
      2,
      ['--log-density'],
    );
    const logq = Buffer.concat([0, 1].map((i) => npyData(join(dir, `ld-gpu-${i}.logq.npy`))));
    expect(logq.equals(npyData(join(dir, 'ld-gpu-all.logq.npy')))).toBe(true);
    const rl = cli(['merge', ...ld.states]);
    expect(rl.status, rl.stderr).toBe(0);
    expectSameSummary(JSON.parse(rl.stdout), ld.single, 4 + 2);
    // A cpu shard does not merge with webgpu ones.
    const mixed = cli(['merge', join(dir, 'gauss-cpu-0.state'), ...g.states.slice(1)]);
    expect(mixed.status).toBe(2);
  });
});
