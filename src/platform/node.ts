// GpuPlatform for Node: Dawn through the npm package `webgpu` (dawn.node), with a Vulkan
// driver underneath (Mesa >= 25 lavapipe on GPU-less machines; see shared/PLATFORM.md).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import type { GpuPlatform, VariantStore } from './types.ts';

const shadersDir = fileURLToPath(new URL('../../shaders/', import.meta.url));

// The GPU object that create() returns. It MUST stay strongly reachable for as long as any
// adapter or device made from it lives: if V8 collects it while GPU work is pending,
// dawn.node crashes in InstanceBase::ProcessEvents (segfault / futex abort; PLATFORM.md).
// A module-level binding lives as long as the module, i.e. the process.
let dawnGpu: GPU | undefined;

/** The process-wide Dawn instance, created on first use. */
export function dawn(): GPU {
  if (dawnGpu === undefined) {
    // The Vulkan loader complains on every start without XDG_RUNTIME_DIR; any writable
    // folder silences it.
    if (!process.env.XDG_RUNTIME_DIR) {
      const dir = join(tmpdir(), `xdg-runtime-${process.getuid?.() ?? 'user'}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      process.env.XDG_RUNTIME_DIR = dir;
    }
    // GPUBufferUsage, GPUMapMode, GPUShaderStage, ... as globals, as in a browser.
    Object.assign(globalThis, globals);
    dawnGpu = create([]);
  }
  return dawnGpu;
}

/**
 * The kernel-variant cache file (src/gpu/variants.ts): $GUIDANCE_SAMPLER_VARIANT_CACHE, else
 * $XDG_CACHE_HOME (or ~/.cache)/guidance-sampler/kernel-variants.json; null when that variable is
 * 'off' (in-memory choices only).
 */
export function variantCachePath(): string | null {
  const env = process.env.GUIDANCE_SAMPLER_VARIANT_CACHE;
  if (env === 'off') return null;
  if (env) return env;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'guidance-sampler', 'kernel-variants.json');
}

/** A best-effort JSON file store: unreadable or unwritable files only lose the cache. */
function fileVariantStore(): VariantStore {
  const read = (): Record<string, string> => {
    const path = variantCachePath();
    if (!path) return {};
    try {
      const data = JSON.parse(readFileSync(path, 'utf8')) as { choices?: Record<string, string> };
      return data.choices ?? {};
    } catch {
      return {};
    }
  };
  return {
    get: (key) => read()[key],
    set(key, variant) {
      const path = variantCachePath();
      if (!path) return;
      try {
        const choices = { ...read(), [key]: variant };
        mkdirSync(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(
          tmp,
          `${JSON.stringify({ about: 'guidance-sampler: tuned kernel variants', choices }, null, 2)}\n`,
        );
        renameSync(tmp, path);
      } catch {
        // The cache is an optimisation: without it the next process tunes again.
      }
    },
  };
}

export const nodePlatform: GpuPlatform = {
  variantStore: fileVariantStore(),
  get kernelVariant() {
    return process.env.GUIDANCE_SAMPLER_KERNEL_VARIANT || undefined;
  },
  name: 'node-dawn',
  noAdapterHint:
    'Dawn needs a Vulkan driver; install Mesa >= 25 lavapipe (Debian: apt-get install -t bookworm-backports ' +
    'mesa-vulkan-drivers, or run scripts/setup.sh), or point VK_ICD_FILENAMES at ' +
    "Chromium's SwiftShader (/usr/lib/chromium/vk_swiftshader_icd.json); see README",
  requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
    return dawn().requestAdapter(options);
  },
  shaderSource(name: string): string {
    if (!/^(lib\/)?[A-Za-z0-9_-]+$/.test(name)) throw new Error(`shaderSource: bad shader name '${name}'`);
    try {
      return readFileSync(join(shadersDir, `${name}.wgsl`), 'utf8');
    } catch (e) {
      throw new Error(`shaderSource: no shader 'shaders/${name}.wgsl' (${(e as Error).message})`);
    }
  },
};
