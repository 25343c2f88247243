// The webgpu LogDensityBackend against the CPU one, through the whole exact-metrics pipeline
// (src/checks/exact-density.ts): start: "exact" and prior starts, backward and forward carries.
// Per particle the kernel agrees to ~1e-5 in log q (test/gpu/log-density.test.ts), so the KLs of
// the two backends agree far inside their standard errors; a wrong forward table or start
// would move them by O(1).
import { expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { exactCoverageFidelity } from '../../src/checks/exact-density.ts';
import { cpuLogDensityBackend } from '../../src/cpu/log-density.ts';
import { webGpuLogDensityBackend } from '../../src/checks/log-density-webgpu.ts';
import { describeGpu } from '../support/gpu.ts';

const ring = (w: number, start: 'prior' | 'exact') =>
  parseSpec({
    dim: 2,
    classes: [0, 1, 2, 3, 4, 5, 6, 7].map((k) => ({
      name: `m${k}`,
      components: [
        { kind: 'gaussian', mean: [3 * Math.cos((k * Math.PI) / 4), 3 * Math.sin((k * Math.PI) / 4)], cov: 0.05 },
      ],
    })),
    target: 'm0',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w },
    solver: { kind: 'rk4', steps: 40, tMin: 1e-3, grid: { kind: 'edm', rho: 7 } },
    start,
    particles: 2000,
    seed: 5,
  });

await describeGpu('exact coverage/fidelity: webgpu backend vs CPU f64', (ctx) => {
  for (const [w, start] of [
    [0, 'exact'],
    [3, 'prior'],
  ] as const) {
    it(`ring of 8, cfg w=${w}, start ${start}: both KLs and recall agree`, async () => {
      const spec = ring(w, start);
      const a = await exactCoverageFidelity(spec, cpuLogDensityBackend, { particles: 2000, pSamples: 2000 });
      const b = await exactCoverageFidelity(spec, webGpuLogDensityBackend(ctx), { particles: 2000, pSamples: 2000 });
      for (const k of ['klQP', 'klPQ'] as const) {
        expect(Math.abs(a[k].value - b[k].value)).toBeLessThan(1e-3 * Math.max(1, Math.abs(a[k].value)));
        expect(b[k].se).toBeGreaterThan(0);
      }
      expect(Math.abs(a.recall - b.recall)).toBeLessThan(1e-3);
      if (w === 0) expect(Math.abs(b.klQP.value)).toBeLessThan(4 * b.klQP.se + 1e-4);
      else expect(b.klPQ.value).toBeGreaterThan(10);
    });
  }
});
