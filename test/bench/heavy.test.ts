// Smoke test of bench/heavy.ts (the heavy-mixture workload: edm2's tree on the heavy kernel, the
// general kernel and a PyTorch CPU sampler) at a trivial size: its JSON has the documented shape,
// the heavy path ran the heavy kernel (and, with --tiles, its tiles way beside it), and torch either
// ran or is skipped with a reason. Timings
// are never asserted, only that they are positive numbers.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { describeGpu } from '../support/gpu.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const ARGS = ['bench/heavy.ts', '--particles', '64', '--general-particles', '32', '--torch-particles', '16', '--tiles'];

await describeGpu('bench/heavy.ts', () => {
  it('prints every path with samples and medians, the ratios and the torch status', async () => {
    const { stdout } = await run(process.execPath, [...ARGS, '--steps', '1', '--repeats', '2'], {
      cwd: root,
      maxBuffer: 2 ** 24,
      timeout: 120_000,
      env: { ...process.env, TORCH_PYTHON: process.env.TORCH_PYTHON ?? 'python3' },
    });
    const r = JSON.parse(stdout);
    expect(r.configuration.components).toBe(2032);
    expect(typeof r.environment.cpu).toBe('string');
    expect(typeof r.adapter.description).toBe('string');
    const paths = r.results.map((x: { path: string }) => x.path);
    // A CPU adapter reads the entries from uniform bindings, so --tiles adds the tiles path.
    expect(paths.slice(0, 3)).toEqual([
      'webgpu, heavy kernel',
      'webgpu, heavy kernel, tiles',
      'webgpu, general kernel',
    ]);
    for (const x of r.results) {
      expect(x.secondsPerRun).toHaveLength(2);
      for (const s of x.secondsPerRun) expect(s).toBeGreaterThan(0);
      expect(x.particleStepsPerSecond).toBeGreaterThan(0);
      expect(x.mean).toHaveLength(2);
    }
    expect(r.results[0].details.kernel).toBe('step-heavy');
    expect(r.results[0].details.tables).toBe('uniform');
    expect(r.results[1].details.kernel).toBe('step-heavy');
    expect(r.results[1].details.tables).toBe('storage');
    expect(r.results[1].mean).toEqual(r.results[0].mean); // bit-identical particles
    expect(r.results[2].details.kernel).toBe('step');
    expect(r.ratios.heavyToGeneral.wall).toBeGreaterThan(0);
    expect(r.ratios.heavyToTiles.wall).toBeGreaterThan(0);
    if (r.torch.skipped) {
      expect(r.torch.skipped.length).toBeGreaterThan(5);
      expect(paths.some((p: string) => p.startsWith('torch'))).toBe(false);
      expect(r.goalMet).toBeNull();
    } else {
      expect(paths).toContain('torch, precision, 1 thread');
      expect(r.ratios.heavyToTorch['torch, precision, 1 thread'].wall).toBeGreaterThan(0);
      expect(r.ratios.heavyToFastestTorch.wall).toBeGreaterThan(0);
    }
  }, 150_000);
});
