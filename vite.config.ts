// Minimal Vite config: the repo root is served as is (pages under web/ and test/browser/),
// on 127.0.0.1 because WebGPU needs a secure context and http://127.0.0.1 is one.
import { defineConfig } from 'vite';

export default defineConfig({
  root: '.',
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
