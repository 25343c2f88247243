// src/gpu/device.ts on Dawn: limits requested, GPU errors and device loss turned into Errors.

import { expect, it } from 'vitest';
import { acquireGpu, REQUESTED_LIMITS, withErrorScopes } from '../../src/gpu/device.ts';
import { nodePlatform } from '../../src/platform/node.ts';
import { describeGpu } from '../support/gpu.ts';

// A bind group whose layout wants a buffer but gets none: a validation error.
function provokeValidationError(device: GPUDevice): void {
  const layout = device.createBindGroupLayout({
    label: 'device-test layout',
    entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } }],
  });
  device.createBindGroup({ label: 'device-test invalid bind group', layout, entries: [] });
}

await describeGpu('acquireGpu', (ctx) => {
  it('describes the adapter and requests its limits', async () => {
    expect(ctx.adapterInfo.label).toMatch(/^node-dawn: /);
    const adapter = await nodePlatform.requestAdapter();
    for (const name of REQUESTED_LIMITS) {
      expect(ctx.limits[name], name).toBe(adapter!.limits[name]);
    }
  });

  it('withErrorScopes throws on a validation error and passes results through', async () => {
    await expect(withErrorScopes(ctx.device, () => provokeValidationError(ctx.device))).rejects.toThrow(
      /WebGPU validation error: .*device-test invalid bind group/s,
    );
    await expect(withErrorScopes(ctx.device, async () => 42)).resolves.toBe(42);
  });

  it('uncaptured errors surface in checkErrors() and guard()', async () => {
    provokeValidationError(ctx.device);
    // Uncaptured errors arrive asynchronously; a finished queue makes sure it was delivered.
    await ctx.device.queue.onSubmittedWorkDone();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(() => ctx.checkErrors()).toThrow(/WebGPU validation error/);
    expect(() => ctx.checkErrors()).not.toThrow(); // cleared
    provokeValidationError(ctx.device);
    await ctx.device.queue.onSubmittedWorkDone();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(ctx.guard(Promise.resolve(1))).rejects.toThrow(/WebGPU validation error/);
  });

  it('a lost device rejects guarded work with a clear error; destroy() is not reported', async () => {
    const errors: Error[] = [];
    const own = await acquireGpu(nodePlatform, { onError: (e) => errors.push(e) });
    const pending = own.guard(new Promise(() => {})); // work that would never finish
    own.destroy();
    await expect(pending).rejects.toThrow(/WebGPU device lost \(reason: destroyed\)/);
    expect((await own.lost).reason).toBe('destroyed');
    expect(errors).toEqual([]);
  });

  it('refuses limits beyond the adapter', async () => {
    const max = ctx.limits.maxComputeWorkgroupsPerDimension;
    await expect(
      acquireGpu(nodePlatform, { requiredLimits: { maxComputeWorkgroupsPerDimension: max + 1 } }),
    ).rejects.toThrow(/allows/);
  });
});
