// GpuPlatform for Node: Dawn through the npm package `webgpu` (dawn.node), with a Vulkan
// driver underneath (Mesa >= 25 lavapipe on GPU-less machines; see shared/PLATFORM.md).

import { readFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import type { GpuPlatform } from './types.ts';

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

export const nodePlatform: GpuPlatform = {
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
