// `guidance-sampler classifiers`: bad input exits 2 with the offending argument named and no
// report written; a small run prints the per-t table and the sampling summaries as JSON.
// The bad-input cases call main() in this process (a child process costs seconds of start-up
// here); one of them and the small run go through the real executable.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');
const dir = mkdtempSync(join(tmpdir(), 'gs-clf-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'classifiers', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const spec = {
  dim: 1,
  classes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 4 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'euler', steps: 30, tMin: 0.01 },
  particles: 40,
  seed: 2,
};
const specPath = join(dir, 'spec.json');
writeFileSync(specPath, JSON.stringify(spec));
const badSpecPath = join(dir, 'bad.json');
writeFileSync(badSpecPath, JSON.stringify({ ...spec, target: 'zero' }));

async function inProcess(args: string[]) {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const status = await main(['classifiers', ...args]);
    return { status, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('guidance-sampler classifiers: bad input exits 2', () => {
  const cases: [string, string[], string][] = [
    ['a time beyond the start time', [specPath, '--t-grid', '0.1,5'], '--t-grid[1]'],
    ['times not increasing', [specPath, '--t-grid', '1,0.5'], '--t-grid[1]'],
    ['a time that is not a number', [specPath, '--t-grid', '0.1,x'], '--t-grid'],
    ['an unknown model', [specPath, '--model', 'forest'], '--model'],
    ['zero particles', [specPath, '--particles', '0'], '--particles'],
    ['a bad w list', [specPath, '--w', '1,,3'], '--w'],
    ['an unknown backend', [specPath, '--backend', 'tpu'], '--backend'],
    ['an invalid spec', [badSpecPath], 'target:'],
    ['a missing spec file', [join(dir, 'nope.json')], '(file)'],
    ['a --json path in a missing folder', [specPath, '--json', join(dir, 'no/such/dir/r.json')], '--json'],
  ];
  it.each(cases)('%s', async (_name, args, mention) => {
    const out = join(dir, 'untouched.json');
    const r = await inProcess([...args, '--json', args.includes('--json') ? args[args.indexOf('--json') + 1] : out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(mention);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  it('through the executable: exit status 2 and the message on stderr', () => {
    const r = cli([specPath, '--t-grid', '0.1,5']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--t-grid[1]: expected 0 < t <= 4');
    expect(r.stdout).toBe('');
  });
});

describe('guidance-sampler classifiers: a small run', () => {
  it('prints the per-t table (both models) and the sampling summaries, and writes the same report to --json', () => {
    const out = join(dir, 'report.json');
    const r = cli([
      specPath,
      '--t-grid',
      '0.01,0.3,4',
      '--train',
      '800',
      '--test',
      '800',
      '--epochs',
      '2',
      '--hidden',
      '8',
      '--w',
      '1,4',
      '--quiet',
      '--json',
      out,
    ]);
    // Dawn itself may warn on stderr when it creates a device (limits it reduces): only our lines are checked.
    expect(
      r.stderr.split('\n').filter((l) => l.startsWith('classifiers:') || l.startsWith('guidance-sampler:')),
    ).toEqual([]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
    expect(report.levels.filter((l: any) => l.kind === 'level').map((l: any) => l.t)).toEqual([0.01, 0.3, 4]);
    // and the interpolated classifiers halfway (in log SNR) between them
    const between = report.levels.filter((l: any) => l.kind === 'between').map((l: any) => l.t);
    expect(between).toHaveLength(2);
    expect(between[0]).toBeGreaterThan(0.01);
    expect(between[0]).toBeLessThan(0.3);
    expect(between[1]).toBeGreaterThan(0.3);
    expect(between[1]).toBeLessThan(4);
    for (const level of report.levels) {
      for (const kind of ['logistic', 'mlp']) {
        const m = level.models[kind];
        for (const key of ['crossEntropy', 'klDifference', 'klDirect', 'guidanceError'])
          expect(Number.isFinite(m[key].value)).toBe(true);
        expect(m.klDirect.value).toBeGreaterThanOrEqual(0);
      }
      expect(level.exactCrossEntropy.value).toBeLessThanOrEqual(level.priorEntropy + 0.05);
    }
    expect(report.sampling.runs.map((run: any) => run.w)).toEqual([1, 4]);
    for (const run of report.sampling.runs) {
      expect(run.exact.nonFinite).toBe(0);
      expect(Object.keys(run.models).sort()).toEqual(['logistic', 'mlp']);
    }
    expect(report.sampling.particles).toBe(40);
    // auto: the GPU where there is an adapter (test/gpu/classifier-guidance.test.ts compares the two)
    expect(['cpu', 'webgpu']).toContain(report.sampling.backend);
  });
});
