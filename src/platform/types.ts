// Where the GPU and the shader sources come from. Two implementations: Dawn in Node
// (src/platform/node.ts) and the browser's navigator.gpu (src/platform/browser.ts).
// Everything else acquires its device through src/gpu/device.ts with one of these.

export type PlatformName = 'node-dawn' | 'browser';

export interface GpuPlatform {
  readonly name: PlatformName;
  /** A WebGPU adapter, or null when the platform has none. */
  requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter | null>;
  /** Text of shaders/NAME.wgsl (NAME without the extension). Throws for an unknown name. */
  shaderSource(name: string): string;
  /** Extra words for the "no adapter" error: what to install or enable on this platform. */
  readonly noAdapterHint: string;
  /**
   * Where tuned kernel-variant choices persist across processes (src/gpu/variants.ts); absent:
   * in memory only (the browser page).
   */
  readonly variantStore?: VariantStore;
  /**
   * A kernel variant forced for every run that does not name one (Node:
   * $GUIDANCE_SAMPLER_KERNEL_VARIANT), e.g. to pin one on a machine; absent or 'auto': the tuner's.
   */
  readonly kernelVariant?: string;
}

/** A persistent store of tuned kernel-variant choices: key (adapter and workload shape) -> variant name. */
export interface VariantStore {
  get(key: string): string | undefined;
  set(key: string, variant: string): void;
}
