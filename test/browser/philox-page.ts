// Browser page of test/browser/philox.test.ts: the same check as test/gpu/philox.test.ts,
// through src/platform/browser.ts (navigator.gpu, Vite-bundled shaders).

import { acquireGpu } from '../../src/gpu/device.ts';
import { browserPlatform } from '../../src/platform/browser.ts';
import { runPhiloxCheck } from '../support/philox-check.ts';
import { publishResult } from '../support/page.ts';

publishResult(async () => {
  const ctx = await acquireGpu(browserPlatform);
  try {
    const check = await runPhiloxCheck(ctx, 1 << 16);
    ctx.checkErrors();
    return { ...check, adapterInfo: ctx.adapterInfo, userAgent: navigator.userAgent };
  } finally {
    ctx.destroy();
  }
});
