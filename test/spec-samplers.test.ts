// Validation of the k-diffusion samplers' spec fields (docs/spec.md, "solver"): the kinds, their
// optional parameters with k-diffusion's defaults, each bad value or stray parameter rejected at
// its own path, and the combinations that are refused (flow for heun-churn, log-density).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { parseSpec } from '../src/experiment/parse.ts';
import { logDensityUnsupported } from '../src/model/divergence.ts';
import { logDensityUnsupported as gpuLogDensityUnsupported } from '../src/gpu/log-density.ts';
import { specIssues } from './support/compare.ts';

type Raw = Record<string, any>;

function spec(solver: Raw, process: Raw = { kind: 'ou', T: 10 }): Raw {
  return {
    dim: 1,
    classes: [
      { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
      { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
    ],
    target: 'pos',
    process,
    guidance: { kind: 'cfg', w: 3 },
    solver: { steps: 50, ...solver },
    particles: 100,
    seed: 1,
  };
}

function expectIssue(raw: Raw, path: string, phrase: string): void {
  const found = specIssues(raw);
  expect(
    found
      .filter((i) => i.path === path)
      .map((i) => i.message)
      .join('\n'),
    JSON.stringify(found),
  ).toContain(phrase);
}

describe('k-diffusion sampler fields', () => {
  it('accepts each kind and fills the defaults', () => {
    expect(parseSpec(spec({ kind: 'dpmpp-2m' })).solver).toEqual({
      kind: 'dpmpp-2m',
      steps: 50,
      tMin: 1e-3,
      grid: { kind: 'uniform' },
    });
    expect(parseSpec(spec({ kind: 'euler-ancestral' })).solver.eta).toBe(1);
    expect(parseSpec(spec({ kind: 'euler-ancestral', eta: 0.5 })).solver.eta).toBe(0.5);
    expect(parseSpec(spec({ kind: 'heun-churn' })).solver).toMatchObject({
      churn: { sChurn: 0, sTmin: 0, sTmax: Infinity },
      sNoise: 1,
    });
    expect(
      parseSpec(spec({ kind: 'heun-churn', sChurn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1.003 })).solver,
    ).toMatchObject({
      churn: { sChurn: 40, sTmin: 0.05, sTmax: 50 },
      sNoise: 1.003,
    });
    expect(parseSpec(spec({ kind: 'dpm2', sChurn: 5 })).solver).toMatchObject({
      churn: { sChurn: 5, sTmin: 0, sTmax: Infinity },
      sNoise: 1,
    });
    expect(parseSpec(spec({ kind: 'dpmpp-2m-sde' })).solver).toMatchObject({ eta: 1, sNoise: 1 });
    expect(parseSpec(spec({ kind: 'dpmpp-3m-sde', eta: 0.5, sNoise: 0.9 })).solver).toMatchObject({
      eta: 0.5,
      sNoise: 0.9,
    });
    expect(parseSpec(spec({ kind: 'dpmpp-2m' })).solver.eta).toBeUndefined();
    expect(parseSpec(spec({ kind: 'lms' })).solver.order).toBe(4);
    expect(parseSpec(spec({ kind: 'lms', order: 2 })).solver.order).toBe(2);
    // dpmpp-2m and euler-ancestral start from flow's infinite noise level (the exact limit).
    expect(parseSpec(spec({ kind: 'dpmpp-2m' }, { kind: 'flow' })).solver.kind).toBe('dpmpp-2m');
    expect(parseSpec(spec({ kind: 'euler-ancestral' }, { kind: 'flow' })).solver.kind).toBe('euler-ancestral');
  });

  const bad: [string, Raw, string, string][] = [
    ['negative eta', { kind: 'euler-ancestral', eta: -0.5 }, 'solver.eta', 'must be >= 0'],
    ['eta not a number', { kind: 'euler-ancestral', eta: 'one' }, 'solver.eta', 'expected a number'],
    [
      'eta on dpmpp-2m',
      { kind: 'dpmpp-2m', eta: 1 },
      'solver.eta',
      'only with solver.kind "euler-ancestral", "dpmpp-2m-sde", "dpmpp-3m-sde"; got "dpmpp-2m"',
    ],
    ['eta on rk4', { kind: 'rk4', eta: 0 }, 'solver.eta', 'only with solver.kind "euler-ancestral"'],
    ['eta on dpm2', { kind: 'dpm2', eta: 0 }, 'solver.eta', 'got "dpm2"'],
    ['negative eta on dpmpp-3m-sde', { kind: 'dpmpp-3m-sde', eta: -1 }, 'solver.eta', 'must be >= 0'],
    [
      'sChurn on dpmpp-2m-sde',
      { kind: 'dpmpp-2m-sde', sChurn: 1 },
      'solver.sChurn',
      'only with solver.kind "heun-churn", "dpm2"; got "dpmpp-2m-sde"',
    ],
    ['sNoise on dpmpp-2m', { kind: 'dpmpp-2m', sNoise: 1 }, 'solver.sNoise', 'got "dpmpp-2m"'],
    ['eta on lms', { kind: 'lms', eta: 1 }, 'solver.eta', 'got "lms"'],
    ['lms order 5', { kind: 'lms', order: 5 }, 'solver.order', 'must be in [1, 4], got 5'],
    ['lms order 2.5', { kind: 'lms', order: 2.5 }, 'solver.order', 'expected an integer in [1, 4], got 2.5'],
    [
      'order on dpmpp-2m',
      { kind: 'dpmpp-2m', order: 2 },
      'solver.order',
      'only with solver.kind "lms"; got "dpmpp-2m"',
    ],
    ['negative sChurn', { kind: 'heun-churn', sChurn: -1 }, 'solver.sChurn', 'must be >= 0'],
    [
      'sChurn on heun',
      { kind: 'heun', sChurn: 10 },
      'solver.sChurn',
      'only with solver.kind "heun-churn", "dpm2"; got "heun"',
    ],
    ['negative sTmin', { kind: 'heun-churn', sTmin: -0.1 }, 'solver.sTmin', 'must be >= 0'],
    ['sTmax zero', { kind: 'heun-churn', sTmax: 0 }, 'solver.sTmax', 'must be > 0'],
    [
      'sTmax below sTmin',
      { kind: 'heun-churn', sTmin: 2, sTmax: 1 },
      'solver.sTmax',
      'must be >= solver.sTmin (2), got 1',
    ],
    ['negative sNoise', { kind: 'heun-churn', sNoise: -1 }, 'solver.sNoise', 'must be >= 0'],
    [
      'sNoise on euler',
      { kind: 'euler', sNoise: 1 },
      'solver.sNoise',
      'only with solver.kind "euler-ancestral", "heun-churn"',
    ],
    ['a near-miss key', { kind: 'heun-churn', schurn: 10 }, 'solver.schurn', 'did you mean "sChurn"?'],
    [
      'an unknown kind',
      { kind: 'dpmpp_2m' },
      'solver.kind',
      'known kinds: euler, heun, rk4, em, dpmpp-2m, euler-ancestral, heun-churn, dpm2, dpmpp-2m-sde, dpmpp-3m-sde, lms',
    ],
  ];
  for (const [name, solver, path, phrase] of bad) {
    it(`rejects ${name} at ${path}`, () => expectIssue(spec(solver), path, phrase));
  }

  it('refuses heun-churn, dpm2 and lms on the flow process (infinite sigma/alpha at its start)', () => {
    expectIssue(spec({ kind: 'heun-churn' }, { kind: 'flow' }), 'solver.kind', 'infinite at the flow process');
    expectIssue(spec({ kind: 'dpm2' }, { kind: 'flow' }), 'solver.kind', 'infinite at the flow process');
    expectIssue(spec({ kind: 'lms' }, { kind: 'flow' }), 'solver.kind', 'infinite at the flow process');
  });

  it('refuses the log-density mode for the new samplers, naming the solver', () => {
    for (const kind of ['dpmpp-2m', 'euler-ancestral', 'heun-churn', 'dpm2', 'dpmpp-2m-sde', 'dpmpp-3m-sde', 'lms']) {
      const s = parseSpec(spec({ kind }));
      expect(logDensityUnsupported(s)).toEqual({ path: 'solver.kind', message: expect.stringContaining(kind) });
      expect(gpuLogDensityUnsupported(s)).toContain(kind);
    }
  });
});

/** main() in this process, capturing stderr (a child process costs seconds here). */
async function runMain(args: string[]): Promise<{ status: number; stderr: string }> {
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { status: await main(args), stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('the CLI refuses the k-diffusion samplers where they do not run (exit 2, field named, before any work)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gs-samplers-'));
  const path = join(dir, 'dpmpp.json');
  writeFileSync(path, JSON.stringify(spec({ kind: 'dpmpp-2m' })));
  it('run --log-density', async () => {
    const r = await runMain(['run', path, '--backend', 'cpu', '--out', join(dir, 'x.npy'), '--log-density']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('solver.kind: log-density needs euler, heun or rk4; dpmpp-2m does not carry log q');
  });
  it('classifiers --w (trained-classifier sampling)', async () => {
    const r = await runMain(['classifiers', path, '--w', '1', '--backend', 'cpu']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'solver.kind: sampling with a trained classifier runs euler, heun, rk4 or em, got dpmpp-2m',
    );
  });
});
