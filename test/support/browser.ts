// Headless Chromium harness for browser tests: Vite serves the repo (so pages can import
// src/**/*.ts and shaders/*.wgsl?raw), puppeteer-core drives a system Chromium, and the page
// publishes its result as JSON on window.
//
// Chromium is taken from PUPPETEER_EXECUTABLE_PATH, CHROME_PATH, or /usr/bin/chromium. When
// none exists: with CI=true the test fails, otherwise it is skipped with a one-line reason
// (see browserSkipReason). WebGPU needs a secure context, so the page is served from
// http://127.0.0.1 (about:blank and data: pages get no adapter; shared/PLATFORM.md).
//
// Usage:
//   const result = await withBrowserPage('test/browser/philox.html', (page) => waitForResult(page));
// or, for several pages from one server and browser:
//   const harness = await startBrowserHarness(); ... harness.open(path) ...; await harness.close();

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createServer, type ViteDevServer } from 'vite';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The window property a test page sets to its JSON result (or to { error }). */
export const RESULT_KEY = '__testResult';

/**
 * Chromium flags for headless WebGPU on a machine without a GPU (shared/PLATFORM.md). The three
 * ANGLE / Vulkan flags let a WebGPU canvas present (the explorer page draws with a render
 * pipeline); measured on Chromium 156 with SwiftShader: with none of them compute works but
 * getCurrentTexture() throws "OperationError: A valid external Instance reference no longer
 * exists"; without --use-vulkan=swiftshader the canvas stays blank in screenshots.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-angle=swiftshader',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Path of the Chromium to use, or undefined if there is none. */
export function findChromium(): string | undefined {
  const candidates = [process.env.PUPPETEER_EXECUTABLE_PATH, process.env.CHROME_PATH, '/usr/bin/chromium'];
  return candidates.find((p): p is string => Boolean(p) && existsSync(p as string));
}

/**
 * Undefined when Chromium is available. Otherwise the one-line reason to skip, or, with
 * CI=true, throws (a CI machine must run the browser tests).
 */
export function browserSkipReason(): string | undefined {
  if (findChromium()) return undefined;
  const reason =
    'no Chromium found (set PUPPETEER_EXECUTABLE_PATH or CHROME_PATH, or apt-get install chromium / run scripts/setup.sh)';
  if (process.env.CI === 'true') throw new Error(`browser tests need Chromium on CI: ${reason}`);
  return reason;
}

export interface OpenPage {
  page: Page;
  /** Console lines and page errors seen so far (for failure messages). */
  log: string[];
  /** Rejects at the page's first uncaught error or crash (so waits fail fast). */
  failed: Promise<never>;
}

export interface BrowserHarness {
  /** Base URL of the Vite server, e.g. http://127.0.0.1:41234 (no trailing slash). */
  baseUrl: string;
  browser: Browser;
  /** Opens `path` (relative to the repo root, e.g. 'test/browser/philox.html') in a new tab. */
  open(path: string): Promise<OpenPage>;
  /** Closes the browser and the server. */
  close(): Promise<void>;
}

/** Starts Vite on 127.0.0.1 (a free port) and headless Chromium. */
export async function startBrowserHarness(): Promise<BrowserHarness> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(browserSkipReason() ?? 'no Chromium');

  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await createServer({
      root: repoRoot,
      logLevel: 'warn',
      clearScreen: false,
      // Port 0: the OS picks a free port. No file watching or HMR: pages load once.
      server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, watch: null },
    });
    await server.listen();
    const address = server.httpServer?.address() as AddressInfo | null;
    if (!address || typeof address !== 'object') throw new Error('Vite did not report its address');
    const baseUrl = `http://127.0.0.1:${address.port}`;

    browser = await puppeteer.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    const b = browser;
    const s = server;
    return {
      baseUrl,
      browser: b,
      async open(path: string): Promise<OpenPage> {
        const page = await b.newPage();
        const log: string[] = [];
        let fail: (e: Error) => void = () => {};
        const failed = new Promise<never>((_, reject) => (fail = reject));
        failed.catch(() => {}); // observed only by waitForResult
        page.on('console', (msg) => log.push(`console.${msg.type()}: ${msg.text()}`));
        page.on('pageerror', (err) => {
          const message = `pageerror: ${err instanceof Error ? err.message : String(err)}`;
          log.push(message);
          fail(new Error(message));
        });
        page.on('error', (err) => fail(new Error(`page crashed: ${err.message}`)));
        page.on('requestfailed', (req) => log.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
        page.on('response', (res) => {
          if (res.status() >= 400) log.push(`HTTP ${res.status()}: ${res.url()}`);
        });
        await page.goto(`${baseUrl}/${path.replace(/^\//, '')}`, { waitUntil: 'load' });
        return { page, log, failed };
      },
      async close(): Promise<void> {
        await b.close().catch(() => {});
        await s.close();
      },
    };
  } catch (e) {
    await browser?.close().catch(() => {});
    await server?.close().catch(() => {});
    throw e;
  }
}

/**
 * Waits until the page sets window[RESULT_KEY] and returns it. A page reports failure by
 * setting { error: message }; that, a timeout, or a page error throws with the page's log.
 */
export async function waitForResult<T>(open: OpenPage, timeoutMs = 110_000): Promise<T> {
  const { page, log, failed } = open;
  try {
    const done = page.waitForFunction(
      (key: string) => (window as unknown as Record<string, unknown>)[key] !== undefined,
      { timeout: timeoutMs, polling: 100 },
      RESULT_KEY,
    );
    done.catch(() => {}); // if `failed` wins, the pending wait is abandoned
    await Promise.race([done, failed]);
  } catch (e) {
    throw new Error(`page ${page.url()} set no result: ${(e as Error).message}\n${log.join('\n')}`);
  }
  const result = await page.evaluate((key: string) => (window as unknown as Record<string, unknown>)[key], RESULT_KEY);
  const error = (result as { error?: unknown } | null)?.error;
  if (error !== undefined) throw new Error(`page ${page.url()} failed: ${String(error)}\n${log.join('\n')}`);
  return result as T;
}

/** Starts a harness, opens `path`, runs `fn`, and always closes everything. */
export async function withBrowserPage<T>(
  path: string,
  fn: (open: OpenPage, harness: BrowserHarness) => Promise<T>,
): Promise<T> {
  const harness = await startBrowserHarness();
  try {
    const open = await harness.open(path);
    return await fn(open, harness);
  } finally {
    await harness.close();
  }
}
