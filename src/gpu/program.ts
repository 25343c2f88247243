// Programs: a kernel's WGSL text assembled from its .wgsl file (`#include` of the shared library,
// `#if` on specialisation flags through wgsl-preprocessor), compiled into a compute pipeline
// (async, compilation errors turned into one clear error) and cached per device and source, so
// repeated runs of one configuration (sweeps, benchmarks, the explorer, populations) skip the
// 0.1-0.25 s compile. Every GPU host module (step kernel, FK, histograms, density metrics, the
// page's trace) assembles and compiles here.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import type { GpuPlatform } from '../platform/types.ts';

const INCLUDE = /^[ \t]*#include[ \t]+"([^"]+)"[ \t]*$/gm;
const CONDITION = /#(if|elif)[ \t]+([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * The WGSL text of kernel `name` (shaders/<name>.wgsl): each `#include "lib/x"` line replaced by
 * that file's text (each file once, where first included, so libraries may include what they
 * need), then `#if FLAG` / `#elif FLAG` / `#else` / `#endif` resolved by wgsl-preprocessor with
 * `flags`. A flag the text names but `flags` lacks is an error (a typo must not pick a branch).
 */
export function shaderText(platform: GpuPlatform, name: string, flags: Record<string, boolean> = {}): string {
  const text = withIncludes(platform, name, new Set<string>());
  const strings: string[] = [];
  const values: boolean[] = [];
  let last = 0;
  for (const m of text.matchAll(CONDITION)) {
    const flag = m[2];
    if (!(flag in flags)) {
      throw new Error(
        `shader ${name}: #${m[1]} ${flag}: no such flag (given: ${Object.keys(flags).join(', ') || 'none'})`,
      );
    }
    strings.push(text.slice(last, m.index + m[1].length + 2));
    values.push(flags[flag]);
    last = m.index + m[0].length;
  }
  strings.push(text.slice(last));
  return wgsl(strings, ...values);
}

function withIncludes(platform: GpuPlatform, name: string, seen: Set<string>): string {
  seen.add(name);
  return platform
    .shaderSource(name)
    .replace(INCLUDE, (_line, included: string) =>
      seen.has(included) ? `// (${included}: included above)` : withIncludes(platform, included, seen),
    );
}

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
