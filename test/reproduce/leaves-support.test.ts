// `reproduce leaves-support --quick`: with a blur score error the outside share grows with w, and
// stays within the tMin allowance for eps = 0 (PASS); the mutation twin (eps = 0 everywhere) FAILs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { reproduce } from '../support/reproduce-cli.ts';

it('leaves-support --quick: PASS, with every number and the figure', () => {
  const r = reproduce('leaves-support');
  expect(r.status, r.stderr).toBe(0);
  expect(r.json.verdict).toBe('PASS');
  expect(r.json.setup.particlesPerSetting).toBe(10000);
  expect(r.json.setup.tMinAllowance).toBeGreaterThanOrEqual(0);
  expect(r.json.data.rows).toHaveLength(3 * 5);
  // Largest w: eps > 0 leaves the support for most particles, eps = 0 for none.
  const at = (eps: number, w: number) => r.json.data.rows.find((x: any) => x.eps === eps && x.w === w).outside;
  expect(at(0.1, 30)).toBeGreaterThan(0.5);
  expect(at(0, 30)).toBe(0);
  for (const ext of ['svg', 'png']) expect(existsSync(join(r.out, `leaves-support.${ext}`))).toBe(true);
});

it('leaves-support --quick --mutation (eps = 0 in place of eps > 0): FAIL', () => {
  const r = reproduce('leaves-support', ['--mutation']);
  expect(r.status, r.stderr).toBe(1);
  expect(r.json.verdict).toBe('FAIL');
});
