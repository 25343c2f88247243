// The WGSL generator (shaders/philox.wgsl) on Dawn against the TS one (src/rng/philox.ts):
// raw words bit-identical, f32 normals within the tolerance derived in test/support/philox-check.ts.

import { expect, it } from 'vitest';
import { runPhiloxCheck } from '../support/philox-check.ts';
import { describeGpu } from '../support/gpu.ts';

await describeGpu('philox4x32-10 WGSL vs TS', (ctx) => {
  it('agrees on 2^16 (seed, particle, stream, block) draws', async () => {
    const result = await runPhiloxCheck(ctx, 1 << 16);
    console.log(
      `philox on GPU: ${result.count} draws in ${result.gpuMs.toFixed(0)} ms; ` +
        `max |dz| ${result.maxAbsError.toExponential(2)}, max |dz|/tol ${result.maxErrorOverTolerance.toFixed(3)}`,
    );
    expect(result.firstWordMismatch).toBeNull();
    expect(result.wordMismatches).toBe(0);
    expect(result.firstNormalFailure).toBeNull();
    expect(result.normalFailures).toBe(0);
  });
});
