// Device loss in the middle of a WebGPU run (issue 14 item 5): `device.destroy()` on the raw
// device while `run --out` streams gives a clear error, no output, no temporary, and leaves an
// existing output intact. (GpuContext.destroy() would mark the loss as expected; the raw call
// is what a driver reset or a lost adapter looks like to the code.)
// @vitest-environment node
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireGpu } from '../../src/gpu/device.ts';
import { nodePlatform } from '../../src/platform/node.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { runSpec } from '../../src/cli/run.ts';
import { liveTemporaries } from '../../src/io/output.ts';

const spec = (kind: 'gaussian' | 'uniform') =>
  parseSpec({
    dim: 1,
    classes: [
      { name: 'pos', components: [kind === 'gaussian' ? { kind, mean: [1], cov: 1 } : { kind, low: [0], high: [2] }] },
      {
        name: 'neg',
        components: [kind === 'gaussian' ? { kind, mean: [-1], cov: 1 } : { kind, low: [-2], high: [0] }],
      },
    ],
    target: 'pos',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w: 3 },
    solver: { kind: 'rk4', steps: 2000 },
    // About 3 s on lavapipe. Dawn's destroy() waits for the submitted dispatches to drain, so
    // the run must be short enough for that and long enough to be lost half-way.
    particles: kind === 'gaussian' ? 2 ** 17 : 2 ** 14,
    seed: 1,
  });

describe('device loss mid-run', () => {
  // Both kernels: step-gauss4 (Gaussians) and the general one (boxes).
  for (const kind of ['gaussian', 'uniform'] as const) {
    it(`${kind} components: a clear error, no output, no temporary`, async () => {
      const gpu = await acquireGpu(nodePlatform); // with CI=true a missing adapter fails here
      const dir = mkdtempSync(join(tmpdir(), 'gs-loss-'));
      const out = join(dir, 'out.npy');
      writeFileSync(out, 'the previous result');
      let sawTemporary = false;
      const timer = setTimeout(() => {
        sawTemporary = readdirSync(dir).some((f) => f.endsWith('.tmp'));
        gpu.device.destroy();
      }, 500);
      const quiet = console.error;
      console.error = () => {}; // the context logs the loss once; the rejection is what is tested
      try {
        await expect(runSpec(spec(kind), { backend: 'webgpu', out, dtype: 'f32', gpu })).rejects.toThrow(
          /WebGPU device lost/,
        );
      } finally {
        clearTimeout(timer);
        console.error = quiet;
      }
      expect(sawTemporary).toBe(true); // it was lost while writing
      expect(readdirSync(dir)).toEqual(['out.npy']);
      expect(readFileSync(out, 'utf8')).toBe('the previous result');
      expect(liveTemporaries()).toEqual([]);
    }, 60000);
  }
});
