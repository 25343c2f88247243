// GpuPlatform for the browser: navigator.gpu, with every shaders/*.wgsl bundled by Vite as text.
// The page must be a secure context (https or http://127.0.0.1 / localhost) to get an adapter.

import type { GpuPlatform } from './types.ts';

// Vite inlines the text of every shader at build time (keys like '../../shaders/philox.wgsl'; lib/ files are named 'lib/mixture').
const sources = import.meta.glob(['../../shaders/*.wgsl', '../../shaders/lib/*.wgsl'], {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

const byName = new Map<string, string>();
for (const [path, text] of Object.entries(sources)) {
  byName.set(path.replace(/^.*\/shaders\//, '').replace(/\.wgsl$/, ''), text);
}

export const browserPlatform: GpuPlatform = {
  name: 'browser',
  noAdapterHint:
    'this browser exposes no WebGPU adapter; use a WebGPU-capable browser on a secure (https or localhost) page; ' +
    'headless Chromium needs --enable-unsafe-webgpu',
  async requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
    if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) return null;
    return navigator.gpu.requestAdapter(options);
  },
  shaderSource(name: string): string {
    const text = byName.get(name);
    if (text === undefined) {
      throw new Error(`shaderSource: no shader 'shaders/${name}.wgsl' (known: ${[...byName.keys()].join(', ')})`);
    }
    return text;
  },
};
