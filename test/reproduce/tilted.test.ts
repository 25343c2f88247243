// `reproduce tilted --quick`: guided samples gather at the far edge beyond the tilted law (PASS),
// and the mutation twin, which draws from the exact tilted law instead of guiding, FAILs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { reproduce } from '../support/reproduce-cli.ts';

it('tilted --quick: PASS, with every number and the figures', () => {
  const r = reproduce('tilted');
  expect(r.status, r.stderr).toBe(0);
  expect(r.json.verdict).toBe('PASS');
  expect(r.json.setup.particlesPerSetting).toBe(20000);
  expect(r.json.setup.solver).toMatch(/rk4/);
  expect(r.json.setup.discretisationBias).toMatch(/steps/);
  // Two mixtures x five w, each with the guided share, its se and the tilted law's share.
  expect(r.json.data.rows).toHaveLength(10);
  for (const row of r.json.data.rows)
    for (const k of ['guided', 'se', 'tilted', 'bias']) expect(Number.isFinite(row[k])).toBe(true);
  // Every w > 0 has a margin test, and they all pass.
  expect(r.json.tests.filter((t: any) => /tilted law/.test(t.name))).toHaveLength(8);
  for (const f of ['tilted-share', 'tilted-boxes-densities', 'tilted-gaussians-densities']) {
    for (const ext of ['svg', 'png']) expect(existsSync(join(r.out, `${f}.${ext}`))).toBe(true);
  }
});

it('tilted --quick --mutation (samples of the tilted law in place of guidance): FAIL', () => {
  const r = reproduce('tilted', ['--mutation']);
  expect(r.status, r.stderr).toBe(1);
  expect(r.json.verdict).toBe('FAIL');
  // The margin over the tilted law is what fails.
  expect(r.json.tests.filter((t: any) => /tilted law/.test(t.name) && t.verdict === 'FAIL').length).toBeGreaterThan(0);
});

it('an unknown claim is bad input: exit 2, naming the known ones', () => {
  const r = reproduce('no-such-claim');
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(
    /unknown claim "no-such-claim"; known: tilted, leaves-support, cfg-variance, distortion-modes, prototypes, cross-entropy, autoguidance/,
  );
});
