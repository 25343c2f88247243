// Worker threads split the particle range; the counter-based generator makes the
// result independent of the split, bit for bit.
import { expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { sampleCpuParallel } from '../../src/cpu/parallel.ts';

it('parallel CPU sampling equals serial sampling bit for bit (em, so the noise streams matter)', async () => {
  const spec = parseSpec({
    dim: 2,
    classes: [
      { name: 'a', components: [{ kind: 'gaussian', mean: [1, 0], cov: [0.5, 0.2] }] },
      { name: 'b', components: [{ kind: 'uniform', low: [-2, -1], high: [0, 1] }] },
    ],
    target: 'a',
    process: { kind: 'vp' },
    guidance: { kind: 'cfg', w: 2 },
    solver: { kind: 'em', steps: 30 },
    particles: 2500, // not a multiple of the chunk or of the thread count
    seed: 11,
  });
  const serial = sampleCpu(spec);
  const parallel = await sampleCpuParallel(spec, { threads: 3 });
  expect(parallel.count).toBe(serial.count);
  expect(Buffer.compare(Buffer.from(parallel.particles.buffer), Buffer.from(serial.particles.buffer))).toBe(0);
});
