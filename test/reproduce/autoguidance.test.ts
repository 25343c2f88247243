// `reproduce autoguidance --quick` (src/reproduce/autoguidance.ts): PASS, with its figures and
// table; the mutation twin (the main model guides itself, so autoguidance is the unguided model)
// FAILs the fidelity test.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { reproduce } from '../support/reproduce-cli.ts';

it('reproduce autoguidance --quick PASSes: fewer outliers than unguided, better mode coverage than CFG', () => {
  const r = reproduce('autoguidance', ['--backend', 'cpu']);
  expect(r.status, r.stderr).toBe(0);
  expect(r.json.verdict).toBe('PASS');
  expect(r.json.tests.map((t: { verdict: string }) => t.verdict)).toEqual(['PASS', 'PASS']);
  for (const f of ['autoguidance-samples', 'autoguidance-outliers', 'autoguidance-coverage'])
    expect(existsSync(join(r.out, `${f}.png`))).toBe(true);
  // The trained models are written beside the JSON, as model files a spec can name.
  for (const f of ['main-right.json', 'guide-right.json', 'guide-unconditional.json'])
    expect(JSON.parse(readFileSync(join(r.out, f), 'utf8')).format).toBe('guidance-sampler/denoiser');
  expect(r.json.data.table).toMatch(/\| autoguidance \| 2 \|/);
  // Exact samples sit inside the exact 99.9 % HDR at the nominal rate.
  const exact = r.json.data.metrics.find((m: { method: string }) => m.method === 'exact');
  expect(exact.outliers).toBeLessThan(0.006);
}, 600_000);

it('the mutation twin (the main model as its own guide) FAILs the fidelity test', () => {
  const r = reproduce('autoguidance', ['--backend', 'cpu', '--mutation']);
  expect(r.status, r.stderr).toBe(1);
  expect(r.json.tests[0].verdict).toBe('FAIL');
}, 600_000);
