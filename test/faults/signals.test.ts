// Interrupting the command line (issue 14 item 5): SIGINT or SIGTERM to a child `run --out` on
// both backends, at several points (start-up, sampling, while the temporary exists), leaves no
// partial or temporary file, an existing output intact, and an exit that says it was killed.
// Before the change, SIGINT on webgpu left a hidden `.out.npy.<pid>.tmp`.
// @vitest-environment node
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');

const spec = (particles: number, steps: number) => ({
  dim: 1,
  classes: [
    { name: 'pos', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
    { name: 'neg', components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'rk4', steps },
  particles,
  seed: 1,
});

// Each takes well over 5 s uninterrupted on this machine (2 cores; lavapipe).
const WORK = { cpu: spec(20000, 2000), webgpu: spec(2 ** 21, 2000) };

type When = { after: 'start'; ms: number } | { after: 'temporary'; ms: number };

async function interrupt(backend: 'cpu' | 'webgpu', signal: 'SIGINT' | 'SIGTERM', when: When) {
  const dir = mkdtempSync(join(tmpdir(), 'gs-sig-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(WORK[backend]));
  const out = join(dir, 'out.npy');
  writeFileSync(out, 'the previous result');
  const child = spawn(process.execPath, [BIN, 'run', join(dir, 'spec.json'), '--backend', backend, '--out', out], {
    stdio: 'ignore',
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, sig) => r({ code, signal: sig })),
  );
  let sawTemporary = false;
  if (when.after === 'temporary') {
    const t0 = Date.now();
    while (Date.now() - t0 < 60000) {
      sawTemporary = readdirSync(dir).some((f) => f.endsWith('.tmp'));
      if (sawTemporary) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await new Promise((r) => setTimeout(r, when.ms));
  child.kill(signal);
  const exit = await exited;
  return { dir, out, exit, sawTemporary };
}

describe('signals leave no partial or temporary file', () => {
  const cases: ['cpu' | 'webgpu', 'SIGINT' | 'SIGTERM', When][] = [
    ['cpu', 'SIGINT', { after: 'start', ms: 200 }],
    ['cpu', 'SIGINT', { after: 'start', ms: 2500 }],
    ['cpu', 'SIGTERM', { after: 'start', ms: 2500 }],
    ['webgpu', 'SIGINT', { after: 'start', ms: 200 }],
    ['webgpu', 'SIGINT', { after: 'temporary', ms: 0 }],
    ['webgpu', 'SIGINT', { after: 'temporary', ms: 1500 }],
    ['webgpu', 'SIGTERM', { after: 'temporary', ms: 800 }],
  ];
  for (const [backend, signal, when] of cases) {
    it(`${backend}: ${signal} ${when.ms} ms after ${when.after === 'start' ? 'the start' : 'the temporary appeared'}`, async () => {
      const r = await interrupt(backend, signal, when);
      if (when.after === 'temporary') expect(r.sawTemporary).toBe(true);
      expect(r.exit.signal).toBe(signal); // killed by it, not finished first
      expect(readdirSync(r.dir).sort()).toEqual(['out.npy', 'spec.json']);
      expect(readFileSync(r.out, 'utf8')).toBe('the previous result');
    }, 90000);
  }
});
