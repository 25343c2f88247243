// The one place that acquires a WebGPU adapter and device (Node Dawn or browser alike).
// It asks for the adapter's real limits (the WebGPU defaults cap storage bindings at 128 MiB
// and buffers at 256 MiB), and turns the two silent failure channels of WebGPU, device loss
// and uncaptured errors, into Errors that callers see.

import type { GpuPlatform } from '../platform/types.ts';

/** Adapter identity, for logs and result files. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A fallback (software / CPU) adapter, e.g. lavapipe or SwiftShader. */
  isFallback: boolean;
  /** One line for humans, e.g. "node-dawn: mesa/software llvmpipe: Mesa 25.0.7 ... (fallback)". */
  label: string;
}

/**
 * Which CPU implementation of WebGPU an adapter is, where a kernel's table layout depends on it
 * (measured on each: docs/benchmarks.md): Mesa's llvmpipe (lavapipe, through Dawn in Node) or
 * Google's SwiftShader (Chromium), else null (a GPU, or a CPU adapter not measured here).
 */
export function cpuImplementation(a: Pick<GpuAdapterInfo, 'label'>): 'llvmpipe' | 'swiftshader' | null {
  if (/llvmpipe|lavapipe/i.test(a.label)) return 'llvmpipe';
  if (/swiftshader/i.test(a.label)) return 'swiftshader';
  return null;
}

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: GpuAdapterInfo;
  /** The limits the device was created with (device.limits). */
  limits: GPUSupportedLimits;
  platform: GpuPlatform;
  /** Settles once the device is lost (also after destroy()); never rejects. */
  lost: Promise<GPUDeviceLostInfo>;
  /**
   * Races `work` (e.g. buffer.mapAsync, queue.onSubmittedWorkDone) against device loss:
   * rejects with a clear Error if the device is lost first, so awaits cannot hang or fail
   * with an opaque message. Also surfaces uncaptured errors seen so far (see checkErrors).
   */
  guard<T>(work: Promise<T>): Promise<T>;
  /** Throws (and clears) the first uncaptured GPU error or the device loss seen so far. */
  checkErrors(): void;
  /** Destroys the device; idempotent. Loss caused by this is not reported as an error. */
  destroy(): void;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * Overrides for the limits requested. By default the adapter's own values are requested
   * for REQUESTED_LIMITS; anything given here wins (and must be within the adapter's range).
   */
  requiredLimits?: Record<string, number>;
  requiredFeatures?: GPUFeatureName[];
  /**
   * Called with each uncaptured GPU error or unexpected device loss as an Error. Without it,
   * such errors are kept for checkErrors()/guard() and the loss is logged as one line.
   */
  onError?: (error: Error) => void;
}

/** Limits requested at the adapter's maximum, where the adapter reports them. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
] as const;

function limitOf(limits: GPUSupportedLimits, name: string): number | undefined {
  const value = (limits as unknown as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : undefined;
}

function describeAdapter(adapter: GPUAdapter, platform: GpuPlatform): GpuAdapterInfo {
  const info = adapter.info;
  // isFallbackAdapter moved from GPUAdapter to GPUAdapterInfo; older engines have only the former.
  const legacy = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const isFallback = Boolean(info?.isFallbackAdapter ?? legacy);
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const what = [[vendor, architecture].filter(Boolean).join('/'), description || device].filter(Boolean).join(' ');
  const label = `${platform.name}: ${what || 'unknown adapter'}${isFallback ? ' (fallback adapter)' : ''}`;
  return { vendor, architecture, device, description, isFallback, label };
}

function errorFromGpuError(error: GPUError): Error {
  const kind =
    typeof GPUValidationError !== 'undefined' && error instanceof GPUValidationError
      ? 'validation error'
      : typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError
        ? 'out-of-memory error'
        : typeof GPUInternalError !== 'undefined' && error instanceof GPUInternalError
          ? 'internal error'
          : 'error';
  return new Error(`WebGPU ${kind}: ${error.message}`);
}

function errorFromLoss(info: GPUDeviceLostInfo, label: string): Error {
  const message = (info.message || '').trim().split('\n')[0];
  return new Error(`WebGPU device lost (reason: ${info.reason}) on ${label}${message ? `: ${message}` : ''}`);
}

/** Acquires an adapter and a device from `platform`, with the adapter's limits. */
/**
 * The limits to request: the adapter's own for REQUESTED_LIMITS (the defaults are far below what
 * adapters allow), and the caller's, each checked against the adapter.
 */
function limitsToRequest(
  adapter: GPUAdapter,
  label: string,
  requested: Record<string, number>,
): Record<string, number> {
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) {
    const value = limitOf(adapter.limits, name);
    if (value !== undefined) requiredLimits[name] = value;
  }
  for (const [name, value] of Object.entries(requested)) {
    const max = limitOf(adapter.limits, name);
    if (max === undefined) throw new Error(`WebGPU: adapter ${label} has no limit '${name}'`);
    // Alignment limits ("min...") are better when smaller; all others when larger.
    const ok = name.startsWith('min') ? value >= max : value <= max;
    if (!ok) {
      throw new Error(`WebGPU: requested ${name} = ${value} but adapter ${label} allows ${max}`);
    }
    requiredLimits[name] = value;
  }
  return requiredLimits;
}

export async function acquireGpu(platform: GpuPlatform, opts: AcquireOptions = {}): Promise<GpuContext> {
  const adapter = await platform.requestAdapter(
    opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined,
  );
  if (!adapter) {
    throw new Error(`WebGPU: no adapter available on platform '${platform.name}' (hint: ${platform.noAdapterHint})`);
  }
  const adapterInfo = describeAdapter(adapter, platform);

  const requiredLimits = limitsToRequest(adapter, adapterInfo.label, opts.requiredLimits ?? {});

  const device = await adapter.requestDevice({
    label: 'guidance-sampler device',
    requiredLimits,
    requiredFeatures: opts.requiredFeatures ?? [],
  });

  const pending: Error[] = [];
  let destroyed = false;
  let lossError: Error | undefined;

  const report = (error: Error): void => {
    if (opts.onError) opts.onError(error);
    else pending.push(error);
  };

  device.addEventListener('uncapturederror', (event) => {
    report(errorFromGpuError((event as GPUUncapturedErrorEvent).error));
  });

  const lost = device.lost.then((info) => {
    if (!destroyed) {
      lossError = errorFromLoss(info, adapterInfo.label);
      if (opts.onError) opts.onError(lossError);
      else console.error(lossError.message);
    }
    return info;
  });

  const checkErrors = (): void => {
    if (lossError) throw lossError;
    const first = pending.shift();
    if (first) {
      const more = pending.length;
      pending.length = 0;
      throw more > 0 ? new Error(`${first.message} (and ${more} more uncaptured GPU errors)`) : first;
    }
  };

  const guard = async <T>(work: Promise<T>): Promise<T> => {
    checkErrors();
    const onLoss = lost.then((info): never => {
      throw lossError ?? errorFromLoss(info, adapterInfo.label);
    });
    // When `work` wins, onLoss still rejects at the eventual destroy(): keep that silent.
    onLoss.catch(() => {});
    const result = await Promise.race([work, onLoss]);
    checkErrors();
    return result;
  };

  return {
    device,
    adapterInfo,
    limits: device.limits,
    platform,
    lost,
    guard,
    checkErrors,
    destroy(): void {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
    },
  };
}

/**
 * Runs `fn` inside validation, out-of-memory and internal error scopes and throws if any of
 * them captured an error (after `fn` settles, whether or not it threw). Error scopes belong to
 * the device, not to a call chain: GPU calls made by other code while `fn` awaits are captured
 * too, so use this around self-contained work (tests, one-off set-up).
 */
export async function withErrorScopes<T>(device: GPUDevice, fn: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T | undefined;
  let thrown: unknown;
  let threw = false;
  try {
    result = await fn();
  } catch (e) {
    threw = true;
    thrown = e;
  }
  // Pop in reverse order of pushing: validation, out-of-memory, internal.
  const captured = [await device.popErrorScope(), await device.popErrorScope(), await device.popErrorScope()];
  const errors = captured.filter((e): e is GPUError => e !== null).map(errorFromGpuError);
  if (errors.length > 0) {
    const message = errors.map((e) => e.message).join('; ');
    throw new Error(threw ? `${message} (and fn threw: ${String(thrown)})` : message);
  }
  if (threw) throw thrown;
  return result as T;
}
