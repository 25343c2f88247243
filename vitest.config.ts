// Node-side tests (test/**/*.test.ts). The browser tests also run from here: they drive
// headless Chromium with puppeteer-core (test/support/browser.ts), not vitest's browser mode.
import { defineConfig, mergeConfig } from 'vitest/config';
import viteConfig from './vite.config.ts';

export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      // Child processes, not worker threads: dawn.node segfaulted under the threads pool
      // (shared/PLATFORM.md). Each test file gets its own process and its own GPU device.
      pool: 'forks',
      // GPU work on a software rasteriser (lavapipe, SwiftShader) is slow; a browser test
      // also starts Vite and Chromium.
      testTimeout: 120_000,
      // Tuned kernel variants (src/gpu/variants.ts) stay in memory: tests write no cache file in the user's home.
      env: { GUIDANCE_SAMPLER_VARIANT_CACHE: 'off' },
      hookTimeout: 120_000,
    },
  }),
);
