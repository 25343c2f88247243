// `reproduce prototypes --quick` (claim 6, the k-of-n toy): the linear classifier's guidance shows
// the whole trend (prototype share up, precision up, KL(Q||P) down from w = 1, KL(P||Q) up, recall
// down) but does NOT pull to the prototype more than the exact classifier does: those comparisons
// FAIL (measured, so the claim's verdict is FAIL). The mutation twin (the exact classifier in place
// of the linear one) FAILs the fidelity trend that the linear classifier passes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { exactReadoutLaw, readVertices, vertexStats } from '../../src/reproduce/prototypes.ts';
import { reproduce } from '../support/reproduce-cli.ts';

type Test = { name: string; verdict: string };

it('the exact read-out law is uniform over the pos vertices up to the tMin flips; Q = P gives zero KLs', () => {
  const c = { k: 4, n: 6 };
  const P = exactReadoutLaw(c, Math.exp(-2e-3), 1e-3, 1 - Math.exp(-4e-3));
  expect(P.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  expect(P[63]).toBeCloseTo(1 / 22, 10);
  expect(P[0]).toBeGreaterThan(0);
  expect(P[0]).toBeLessThan(1e-40);
  // 22 particles per pos vertex: the read-out law of Q is P (up to the ~1e-12 flips).
  const pos = [...Array(64).keys()].filter((u) => u.toString(2).split('1').length - 1 >= 4);
  const x = new Float64Array(pos.length * 100 * 6);
  pos.forEach((u, j) => {
    for (let r = 0; r < 100; r++)
      for (let i = 0; i < 6; i++) x[(j * 100 + r) * 6 + i] = (u >> (5 - i)) & 1 ? 0.97 : 0.02;
  });
  const v = readVertices(x, pos.length * 100, 6);
  expect(v[0]).toBe(pos[0]);
  const s = vertexStats(v, v.length, c, P);
  expect(s.precision).toBeCloseTo(1, 12);
  expect(s.prototype).toBeCloseTo(1 / 22, 12);
  expect(Math.abs(s.klQP + s.klQPCorrection)).toBeLessThan(1e-9); // the plug-in itself is 0
  // add-1/2 at Q = P: the half-counts on the 42 empty vertices, log((N + 64/2) / (N + 22/2)) exactly.
  expect(s.klPQ).toBeCloseTo(Math.log((2200 + 32) / (2200 + 11)), 9);
  expect(s.recall).toBe(1);
  expect(s.onesFreq.slice(4)).toEqual([15 / 22, 6 / 22, 1 / 22].map((f) => expect.closeTo(f, 12)));
});

it('prototypes --quick: the trend PASSes, "linear pulls more than exact" FAILs (measured)', () => {
  const r = reproduce('prototypes');
  expect(r.json, r.stderr).not.toBeNull();
  expect(r.json.setup.particlesPerSetting).toBe(5000);
  expect(r.json.setup.solver).toMatch(/rk4/);
  expect(r.json.data.rows).toHaveLength(2 * 5 * 2);
  const trend = r.json.tests.filter((t: Test) => /: linear /.test(t.name));
  const versus = r.json.tests.filter((t: Test) => /linear > exact/.test(t.name));
  expect(trend).toHaveLength(10);
  expect(versus).toHaveLength(4);
  for (const t of trend) expect(t.verdict, t.name).toBe('PASS');
  for (const t of versus) expect(t.verdict, t.name).toBe('FAIL');
  expect(r.json.verdict).toBe('FAIL');
  expect(r.status).toBe(1);
  for (const f of ['prototypes-share', 'prototypes-kl', 'prototypes-pr', 'prototypes-histogram-k4-n6'])
    for (const ext of ['svg', 'png']) expect(existsSync(join(r.out, `${f}.${ext}`))).toBe(true);
});

it('prototypes --quick --mutation (the exact classifier in place of the linear one): FAIL', () => {
  const r = reproduce('prototypes', ['--mutation']);
  expect(r.status, r.stderr).toBe(1);
  expect(r.json.verdict).toBe('FAIL');
  // The fidelity trend the linear classifier passes is what the exact one fails.
  for (const t of r.json.tests.filter((t: Test) => /KL\(Q\|\|P\)\(w=1\) > at/.test(t.name)))
    expect(t.verdict, t.name).toBe('FAIL');
});
