// Smoke test of `npm run bench:chrome` (bench/chrome.ts): one trivial workload through headless
// Chromium and Node, and the JSON has the documented shape. Timings are never asserted, only
// that they are positive numbers.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { browserSkipReason } from '../support/browser.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const skip = browserSkipReason();

describe.skipIf(skip !== undefined)(`bench:chrome smoke test${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('prints JSON with the adapter, the user agent, runs and medians for Chrome and Node', async () => {
    const args = ['bench/chrome.ts', '--points', '4096:2:1', '--work', '40000', '--repeats', '2', '--warmup', '1'];
    args.push('--compare-particles', '4096', '--compare-steps', '4', '--compare-repeats', '2');
    const { stdout } = await run(process.execPath, args, { cwd: root, maxBuffer: 16 * 2 ** 20, timeout: 110_000 });
    const out = JSON.parse(stdout);
    expect(out.benchmark).toBe('chrome-throughput');
    expect(out.configuration.repeats).toBe(2);
    expect(out.chrome.userAgent).toMatch(/Chrome\//);
    expect(out.chrome.adapter.label).toMatch(/^browser: /);
    expect(typeof out.chrome.timestampQuery).toBe('boolean');
    expect(out.runs).toHaveLength(1);
    const r = out.runs[0];
    expect(r.workload).toMatchObject({ particles: 4096, components: 2, dim: 1 });
    for (const side of [r.chrome, r.node]) {
      if (side === null || side.error) continue; // Node without a Dawn adapter reports why
      expect(side.wallSeconds).toHaveLength(2);
      for (const s of side.wallSeconds) expect(s).toBeGreaterThan(0);
      expect(side.particleStepsPerSecond.wall).toBeGreaterThan(0);
      if (side.gpuSeconds) for (const s of side.gpuSeconds) expect(s).toBeGreaterThan(0);
    }
    expect(r.chrome.error).toBeUndefined();
    expect(out.summary[0].chromeWallMps).toBeGreaterThan(0);
    // The project's kernel against the naive baseline, in the page (and in Node): samples, medians,
    // ratio, which variant ran and why, and the two kernels' particles agree (same draws, same math).
    for (const c of [out.comparison.chrome, out.comparison.node]) {
      if (c === null || c.error) continue;
      expect(c.projectMps).toHaveLength(2);
      expect(c.naiveMps).toHaveLength(2);
      expect(c.projectOverNaive).toBeGreaterThan(0);
      expect(c.maxAbsDifference).toBeLessThan(1e-4);
      expect(typeof c.project.variant.name).toBe('string');
      expect(['tuned', 'cached', 'forced']).toContain(c.project.chosen.why);
    }
    expect(out.comparison.chrome.error).toBeUndefined();
    console.log(`bench:chrome smoke: ${JSON.stringify(out.summary[0])}`);
  });
});
