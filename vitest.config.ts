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
      // The fast kernel's variant is pinned (src/gpu/variants.ts): tests check every variant's
      // correctness (test/gpu/kernel-variants.test.ts, which also unpins it to test the tuner),
      // and no result depends on a timing race; tuning every shape of every test process would
      // also cost CI minutes. No cache file is written in the user's home either.
      env: { GUIDANCE_SAMPLER_VARIANT_CACHE: 'off', GUIDANCE_SAMPLER_KERNEL_VARIANT: 'lanes4-wg64' },
      hookTimeout: 120_000,
    },
  }),
);
