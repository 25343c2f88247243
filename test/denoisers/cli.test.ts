// `guidance-sampler denoiser`: a small run writes a model file that a spec can use, and prints
// the per-level score error (trained below untrained); bad input exits 2 before any work.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { rawSpec } from '../support/denoiser.ts';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');
const dir = mkdtempSync(join(tmpdir(), 'gs-den-'));
const specPath = join(dir, 'spec.json');
writeFileSync(specPath, JSON.stringify(rawSpec({ kind: 'none' })));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

it('trains, writes the model file, reports the score error per sigma; the file runs as guidance.score', () => {
  const out = join(dir, 'model.json');
  const r = cli([
    'denoiser',
    specPath,
    '--hidden',
    '16,16',
    '--iterations',
    '200',
    '--batch',
    '64',
    '--eval',
    '300',
    '--sigmas',
    '0.05,0.2,1,5',
    '--out',
    out,
  ]);
  expect(r.status, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.config).toMatchObject({ group: 'a', hidden: [16, 16], iterations: 200, loss: 'exact' });
  expect(report.scoreError.map((l: { sigma: number }) => l.sigma)).toEqual([0.05, 0.2, 1, 5]);
  for (const l of report.scoreError) expect(l.mse).toBeLessThan(l.untrainedMse);
  const file = JSON.parse(readFileSync(out, 'utf8'));
  expect(file.format).toBe('guidance-sampler/denoiser');
  const run = join(dir, 'run.json');
  writeFileSync(run, JSON.stringify(rawSpec({ kind: 'none', score: { kind: 'learned', file: 'model.json' } })));
  const sampled = cli(['run', run, '--backend', 'cpu']);
  expect(sampled.status, sampled.stderr).toBe(0);
  expect(JSON.parse(sampled.stdout).nonFinite).toBe(0);
});

it('bad input exits 2 before any work', () => {
  const out = join(dir, 'never.json');
  const bad = cli(['denoiser', specPath, '--class', 'zzz', '--out', out]);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--class: no class "zzz"/);
  expect(cli(['denoiser', specPath, '--hidden', '0']).status).toBe(2);
  expect(cli(['denoiser', specPath, '--loss', 'l2']).stderr).toMatch(/--loss must be exact or dsm/);
  expect(existsSync(out)).toBe(false);
});
