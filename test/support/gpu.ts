// Node Dawn device for GPU tests: acquired once per test file (vitest's forks pool gives each
// file a fresh process, hence a fresh copy of this module), destroyed after the file.
//
// No adapter: with CI=true the file fails (a CI machine must have one); otherwise its tests
// are skipped with a one-line reason, so a laptop without Vulkan still runs the rest.
//
// Usage:
//   await describeGpu('philox', (ctx) => { it('...', async () => { ... ctx.device ... }); });

import { afterAll, afterEach, describe, it } from 'vitest';
import { acquireGpu, type AcquireOptions, type GpuContext } from '../../src/gpu/device.ts';
import { nodePlatform } from '../../src/platform/node.ts';

export interface TestGpu {
  /** The device, or undefined when there is no adapter (and CI is not 'true'). */
  ctx: GpuContext | undefined;
  /** Adapter label, or why there is none. */
  description: string;
}

let acquired: Promise<TestGpu> | undefined;
let destroyRegistered = false;

/** The file's GPU context (acquired on first call). Throws when there is none and CI=true. */
export function nodeGpu(opts?: AcquireOptions): Promise<TestGpu> {
  acquired ??= (async (): Promise<TestGpu> => {
    try {
      const ctx = await acquireGpu(nodePlatform, opts);
      console.log(`GPU tests on ${ctx.adapterInfo.label}`);
      return { ctx, description: ctx.adapterInfo.label };
    } catch (e) {
      const reason = (e as Error).message;
      if (process.env.CI === 'true') throw new Error(`GPU tests need an adapter on CI: ${reason}`);
      console.warn(`GPU tests skipped: ${reason}`);
      return { ctx: undefined, description: reason };
    }
  })();
  return acquired;
}

/**
 * describe() for GPU tests: the title names the adapter (e.g. "philox [node-dawn: mesa/software
 * llvmpipe ...]"). After each test, uncaptured GPU errors are thrown; after the file the
 * device is destroyed. Without an adapter the block is one skipped test naming the reason.
 */
export async function describeGpu(
  title: string,
  body: (ctx: GpuContext) => void,
  opts?: AcquireOptions,
): Promise<void> {
  const gpu = await nodeGpu(opts);
  const ctx = gpu.ctx;
  if (!ctx) {
    describe(title, () => {
      it.skip(`skipped: ${gpu.description}`, () => {});
    });
    return;
  }
  if (!destroyRegistered) {
    // File level (not inside the describe), so several describeGpu blocks share the device.
    afterAll(() => ctx.destroy());
    destroyRegistered = true;
  }
  describe(`${title} [${gpu.description}]`, () => {
    afterEach(() => ctx.checkErrors());
    body(ctx);
  });
}
