// Programs: a kernel's WGSL source compiled into a compute pipeline (async, compilation errors
// turned into one clear error) and cached per device and source, so repeated runs of one
// configuration (sweeps, benchmarks, the explorer, populations) skip the 0.1-0.25 s compile. Every
// GPU host module (step kernel, FK, histograms, density metrics, the page's trace) compiles here.
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/**
 * compileComputePipeline, once per device and source: repeated runs of one configuration
 * (sweeps, benchmarks, the explorer, populations) skip the compile. A failed compile is not kept.
 */
export function cachedComputePipeline(device: GPUDevice, name: string, code: string): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) {
    cache = new Map();
    pipelineCache.set(device, cache);
  }
  let pipeline = cache.get(code);
  if (!pipeline) {
    pipeline = compileComputePipeline(device, name, code);
    cache.set(code, pipeline);
    pipeline.catch(() => cache!.delete(code));
  }
  return pipeline;
}

/** Compiles a compute kernel (entry point `main`), turning compilation errors into one clear error. */
export async function compileComputePipeline(
  device: GPUDevice,
  name: string,
  code: string,
): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ label: `${name} kernel`, code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    throw new Error(
      `${name} kernel failed to compile: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`,
    );
  }
  return device.createComputePipelineAsync({
    label: `${name} pipeline`,
    layout: 'auto',
    compute: { module, entryPoint: 'main' },
  });
}
