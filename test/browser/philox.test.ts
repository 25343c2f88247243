// The WGSL generator in headless Chromium (SwiftShader WebGPU) against the TS one.

import { describe, expect, it } from 'vitest';
import { browserSkipReason, waitForResult, withBrowserPage } from '../support/browser.ts';
import type { PhiloxCheckResult } from '../support/philox-check.ts';
import type { GpuAdapterInfo } from '../../src/gpu/device.ts';

const skip = browserSkipReason();

describe.skipIf(skip !== undefined)(`philox4x32-10 WGSL vs TS in Chromium${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('agrees on 2^16 draws: words bit-identical, normals within tolerance', async () => {
    const result = await withBrowserPage('test/browser/philox.html', (open) =>
      waitForResult<PhiloxCheckResult & { adapterInfo: GpuAdapterInfo; userAgent: string }>(open),
    );
    console.log(
      `browser adapter: ${result.adapterInfo.label}; ${result.count} draws in ${result.gpuMs.toFixed(0)} ms; ` +
        `max |dz| ${result.maxAbsError.toExponential(2)}, max |dz|/tol ${result.maxErrorOverTolerance.toFixed(3)}`,
    );
    expect(result.adapterInfo.label).toMatch(/^browser: /);
    expect(result.firstWordMismatch).toBeNull();
    expect(result.wordMismatches).toBe(0);
    expect(result.firstNormalFailure).toBeNull();
    expect(result.normalFailures).toBe(0);
  });
});
