// check --shard i/k --state F, then merge (issue 19 item 3, "the check verdicts"): the merged
// measurements give the single check's outcomes. Histogram and density counts add exactly, so
// every count-based statistic (KS, chi-square, occupancy, HDR, support) is identical; the
// projection sums (mean, variance tests) agree to rounding. The twin: a spec that fails its
// check (CFG against p(x|c)) fails merged too, with the same failing tests.
// @vitest-environment node
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');
const dir = mkdtempSync(join(tmpdir(), 'gs-check-shards-'));
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

const base = {
  dim: 1,
  classes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [1], cov: 1 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [-1], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'none' },
  solver: { kind: 'rk4', steps: 50, tMin: 1e-3 },
  particles: 20000,
  seed: 3,
};

function checkBoth(name: string, spec: unknown, exit: number) {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(spec));
  const single = cli(['check', path, '--backend', 'cpu']);
  expect(single.status, single.stderr).toBe(exit);
  const states = [0, 1, 2].map((i) => {
    const state = join(dir, `${name}-${i}.state`);
    const r = cli(['check', path, '--backend', 'cpu', '--shard', `${i}/3`, '--state', state]);
    expect([0, 1, 3]).toContain(r.status);
    return state;
  });
  const merged = cli(['merge', states[1], states[2], states[0]]);
  expect(merged.status, merged.stderr).toBe(exit);
  const a = JSON.parse(single.stdout);
  const b = JSON.parse(merged.stdout);
  expect(b.verdict).toBe(a.verdict);
  expect(b.outcomes.map((o: any) => [o.name, o.verdict])).toEqual(a.outcomes.map((o: any) => [o.name, o.verdict]));
  for (const [x, y] of a.outcomes.map((o: any, k: number) => [o, b.outcomes[k]])) {
    if (x.kind === 'mean' || x.kind === 'variance')
      expect(Math.abs(y.statistic - x.statistic), x.name).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(x.statistic)));
    else expect(y.statistic, x.name).toBe(x.statistic);
  }
  return { a, b, states, path };
}

describe('check --shard / merge (cpu)', () => {
  it('unguided two Gaussians: PASS, merged PASS with the same statistics', () => {
    const { a } = checkBoth('pass', base, 0);
    expect(a.verdict).toBe('PASS');
  });

  it('twin: CFG w = 3 against p(x|c) FAILs, merged FAILs on the same tests; check and run states do not mix', () => {
    const { a, states } = checkBoth('fail', { ...base, guidance: { kind: 'cfg', w: 3 } }, 1);
    expect(a.verdict).toBe('FAIL');
    const runState = join(dir, 'run-0.state');
    expect(cli(['run', join(dir, 'fail.json'), '--backend', 'cpu', '--shard', '0/3', '--state', runState]).status).toBe(
      0,
    );
    const mixed = cli(['merge', runState, states[1], states[2]]);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toMatch(/kind: a check state, but .*run-0\.state is a run state/);
  });
});
