// Many components: the general kernel stages component factors through workgroup memory
// in tiles (src/gpu/kernel.ts tileComponents). Checked per particle against the f64 CPU
// reference at d up to 64 and up to 1024 components, with tiles that do not divide the
// component count, and spare invocations (particle counts not a multiple of 64).
import { expect, it } from 'vitest';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { tileComponents } from '../../src/gpu/kernel.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { describeGpu } from '../support/gpu.ts';
import { sampleGpuParticles } from '../support/gpu-sample.ts';
import { normal4 } from '../../src/rng/philox.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';

/** A mixture of `count` components in d dimensions: Gaussians and (every third) boxes, seeded. */
function manyComponents(d: number, count: number, seed: number) {
  const z = new Float64Array(4);
  const draw = (k: number, i: number) => {
    normal4(seed, k, 7, i >> 2, z);
    return z[i & 3];
  };
  return Array.from({ length: count }, (_, k) => {
    const mean = Array.from({ length: d }, (_, i) => 2 * draw(k, i));
    if (k % 3 === 2) return { kind: 'uniform', low: mean.map((m) => m - 0.3), high: mean.map((m) => m + 0.4) };
    return {
      kind: 'gaussian',
      weight: 1 + (k % 5),
      mean,
      cov: Array.from({ length: d }, (_, i) => 0.2 + 0.1 * ((k + i) % 4)),
    };
  });
}

// The f64 error model (finite-difference Jacobians) costs d x components per particle-step:
// the d = 64, 1024-component case is checked for bit-identity with unstaged reads and
// finiteness only (the arithmetic is the d <= 16 cases').
const CASES = [
  { d: 8, target: 100, negative: 40, particles: 301, steps: 12, model: true },
  { d: 16, target: 150, negative: 70, particles: 64, steps: 6, model: true },
  { d: 64, target: 700, negative: 324, particles: 67, steps: 2, model: false },
];

await describeGpu('many components: factors staged through workgroup memory', (ctx) => {
  for (const c of CASES) {
    const components = c.target + c.negative;
    const tile = tileComponents(c.d, components, ctx.limits.maxComputeWorkgroupStorageSize);
    it(`d = ${c.d}, ${components} components (tile of ${tile}), ${c.particles} particles x ${c.steps} heun steps`, async () => {
      expect(tile).toBeGreaterThan(0);
      expect(components % tile).not.toBe(0);
      const spec = parseSpec({
        dim: c.d,
        classes: [
          { name: 'a', components: manyComponents(c.d, c.target, 1) },
          { name: 'b', components: manyComponents(c.d, c.negative, 2) },
        ],
        target: 'a',
        process: { kind: 'ou', T: 4 },
        guidance: { kind: 'cfg', w: 1.5, negative: 'b' },
        solver: { kind: 'heun', steps: c.steps, tMin: 0.05 },
        particles: c.particles,
        seed: 3,
      });
      const gpu = await sampleGpuParticles(ctx, spec);
      expect(gpu.info.kernel).toBe('step');
      expect(gpu.info.tile).toBe(tile);
      // Staging changes where the factors are read from, not the arithmetic: bit-identical.
      const direct = await sampleGpuParticles(ctx, spec, { staging: 'never' });
      expect(direct.info.tile).toBe(0);
      expect(Buffer.compare(Buffer.from(gpu.particles.buffer), Buffer.from(direct.particles.buffer))).toBe(0);
      expect(gpu.particles.every(Number.isFinite)).toBe(true);
      if (!c.model) return;
      // Against the f64 reference with the per-particle f32 error model of the parity tests.
      const ref = referenceWithBound(spec);
      expect(ref.particles).toEqual(sampleCpu(spec).particles);
      const report = compareWithBound(gpu.particles, ref, spec.dim);
      console.log(formatReport(`d = ${c.d}, ${components} components`, report));
      expect(report.nonFinite).toBe(0);
      expect(report.failures).toBe(0);
      expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
    });
  }
});
