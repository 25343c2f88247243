// The explorer page (index.html, web/) in headless Chromium (SwiftShader WebGPU):
//   - it loads and runs a preset with no console errors;
//   - the histogram drawn by the WebGPU render pipeline is not blank (pixels of a screenshot,
//     with the exact-density overlay switched off so that only the GPU layer can colour the plot);
//   - the page's numbers (mean, spread, coverage, fidelity, HDR share, total variation) match the f64 CPU
//     reference on the same seeded run;
//   - a bad spec is explained on the page with the field's path; a browser without WebGPU is
//     explained in words.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { sampleCpuFk } from '../../src/cpu/fk.ts';
import type { HistogramCounts } from '../../src/metrics/gpu-histogram.ts';
import { parseSpec } from '../../src/spec/parse.ts';
import { computeFigures, densities, highDensityRegion, logDensityGrid, plotGeometry } from '../../web/densities.ts';
import { browserSkipReason, startBrowserHarness, type BrowserHarness, type OpenPage } from '../support/browser.ts';
import { decodePng } from '../support/png.ts';

const skip = browserSkipReason();

// A small seeded run: 2^14 particles, 50 rk4 steps of the two-Gaussian preset (cfg, w = 3).
const RUN = { preset: 'two-gaussians', particles: 2 ** 14, steps: 50, seed: 3 };
const RUN_QUERY = `?preset=${RUN.preset}&particles=${RUN.particles}&steps=${RUN.steps}&seed=${RUN.seed}`;

type Status = { status: string; runId: number; error: string | null; webgpu: string; adapter: string | null };

async function waitForStatus(page: Page, statuses: string[], timeout = 100_000): Promise<Status> {
  await page.waitForFunction(
    (wanted: string[]) => {
      const e = (window as unknown as { __explorer?: { status: string } }).__explorer;
      return e !== undefined && wanted.includes(e.status);
    },
    { timeout, polling: 200 },
    statuses,
  );
  return page.evaluate(() => (window as unknown as { __explorer: Status }).__explorer);
}

/** Console errors, page errors, failed requests and HTTP errors seen by the page. */
function problems(open: OpenPage): string[] {
  return open.log.filter((l) => /^(console\.error|pageerror|requestfailed|HTTP \d)/.test(l));
}

/** A screenshot of the main plot's data area only (inside the axes), decoded. */
async function plotPixels(page: Page): Promise<ReturnType<typeof decodePng>> {
  const box = await (await page.$('#plot-overlay'))!.boundingBox();
  const rect = JSON.parse(await page.$eval('#plot-overlay', (e) => (e as HTMLElement).dataset.plotRect ?? 'null'));
  if (!box || !rect) throw new Error('the plot has not been drawn');
  const inset = 2; // the axes frame
  const clip = { x: box.x + rect.x + inset, y: box.y + rect.y + inset, width: rect.width - 2 * inset, height: rect.height - 2 * inset };
  return decodePng(await page.screenshot({ type: 'png', clip }));
}

/** Puts a spec into the page's text box as a user's typing would (an input event). */
async function typeSpec(page: Page, raw: unknown): Promise<void> {
  await page.$eval(
    '#spec-text',
    (el, text) => {
      const t = el as HTMLTextAreaElement;
      t.value = text as string;
      t.dispatchEvent(new Event('input', { bubbles: true }));
    },
    JSON.stringify(raw, null, 2),
  );
}

/** A figure from the page's table: the full-precision value behind the text. */
async function figure(page: Page, key: string): Promise<number> {
  const v = await page.$eval(`#fig-${key}`, (td) => (td as HTMLElement).dataset.value ?? 'NaN');
  return Number(v);
}

describe.skipIf(skip !== undefined)(`explorer page in Chromium${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let harness: BrowserHarness;
  let open: OpenPage;

  beforeAll(async () => {
    harness = await startBrowserHarness();
    open = await harness.open(`index.html${RUN_QUERY}`);
    await open.page.setViewport({ width: 1280, height: 900 });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('loads, runs a preset and logs no console errors', async () => {
    const s = await waitForStatus(open.page, ['done', 'error', 'invalid']);
    expect(s.error, open.log.join('\n')).toBeNull();
    expect(s.status).toBe('done');
    expect(s.webgpu).toBe('ok');
    expect(s.adapter).toMatch(/^browser: /);
    console.log(`explorer: ${s.adapter}`);
    expect(problems(open), open.log.join('\n')).toEqual([]);
    expect(await open.page.$eval('#gpu-message', (e) => (e as HTMLElement).hidden)).toBe(true);
  });

  it('draws a histogram that is not blank (screenshot pixels, overlay off)', async () => {
    const { page } = open;
    await page.click('#show-exact'); // hide the exact densities: only the GPU layer may colour the plot
    await page.evaluate(() => new Promise((r) => setTimeout(r, 400)));
    const png = await plotPixels(page);
    // Bars are the BAR_COLOR blue (web/gpu-plot.ts); the background is white.
    let bar = 0;
    for (let i = 0; i < png.width * png.height; i++) {
      const [r, g, b] = [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]];
      if (b > 150 && b - r > 60 && b - g > 30) bar++;
    }
    const share = bar / (png.width * png.height);
    console.log(`explorer: histogram bars cover ${(100 * share).toFixed(1)}% of the plot (${png.width}x${png.height})`);
    // The sampled density (sd ~0.6 on a 15-wide axis, its peak near the top of the axis) fills
    // about 5% of the plot area; a blank or failed canvas has none.
    expect(share).toBeGreaterThan(0.01);
    await page.click('#show-exact');
  });

  it("the page's numbers match the f64 CPU reference on the same seeded run", async () => {
    const { page } = open;
    const raw = JSON.parse(readFileSync(new URL('../../examples/two-gaussians.json', import.meta.url), 'utf8'));
    const spec = parseSpec({ ...raw, particles: RUN.particles, seed: RUN.seed, solver: { ...raw.solver, steps: RUN.steps } });
    const cpu = sampleCpu(spec);
    const n = cpu.count;
    let mean = 0;
    for (const x of cpu.particles) mean += x;
    mean /= n;
    let variance = 0;
    for (const x of cpu.particles) variance += (x - mean) ** 2;
    variance /= n;

    // The CPU particles binned as the GPU bins them, and the same figures (web/densities.ts).
    const geometry = plotGeometry(spec);
    const d = densities(logDensityGrid(spec, geometry), spec);
    const bins = geometry.bins[0];
    const counts = new Uint32Array(bins);
    let underflow = 0;
    let overflow = 0;
    const scale = bins / (geometry.high[0] - geometry.low[0]);
    for (const x of cpu.particles) {
      const f = (x - geometry.low[0]) * scale;
      if (f < 0) underflow++;
      else if (f >= bins) overflow++;
      else counts[Math.min(bins - 1, Math.floor(f))]++;
    }
    const h: HistogramCounts = { counts, underflow, overflow, nonFinite: 0, total: n };
    const want = computeFigures(h, d, highDensityRegion(d.binConditional));

    const got = {
      mean: await figure(page, 'mean0'),
      sd: await figure(page, 'sd0'),
      particles: await figure(page, 'particles'),
      coverage: await figure(page, 'coverage'),
      fidelity: await figure(page, 'fidelity'),
      hdr99: await figure(page, 'hdr99'),
      tvConditional: await figure(page, 'tvConditional'),
      tvTilted: await figure(page, 'tvTilted'),
    };
    console.log(
      `explorer vs CPU: mean ${got.mean.toFixed(6)} (|diff| ${Math.abs(got.mean - mean).toExponential(1)}), ` +
        `sd ${got.sd.toFixed(6)} (|diff| ${Math.abs(got.sd - Math.sqrt(variance)).toExponential(1)}), ` +
        `fidelity ${got.fidelity.toFixed(6)} vs ${want.fidelity.toFixed(6)}, coverage ${got.coverage.toFixed(6)} vs ${want.coverage.toFixed(6)}, ` +
        `TV ${got.tvConditional.toFixed(6)} vs ${want.tvConditional.toFixed(6)}`,
    );
    expect(got.particles).toBe(n);
    // Tolerances. Each GPU particle is the f64 particle plus f32 rounding carried along its
    // path: the per-particle parity tests bound that at ~1e-5 here (the largest seen, for
    // particles near the boundary between the modes, is ~3e-5). The mean moves by at most the
    // largest particle error, the spread by at most that too; the GPU's own reduction adds f32
    // partial sums about the expected mean (relative ~1e-6). 2e-4 is several times both.
    expect(Math.abs(got.mean - mean)).toBeLessThan(2e-4);
    expect(Math.abs(got.sd - Math.sqrt(variance))).toBeLessThan(2e-4);
    // Bin figures change only if a particle within ~1e-5 of one of the 161 bin edges lands on
    // the other side: at a density <= 0.7 that is ~161 x 2e-5 x 0.7 x 16384 ~ 0.04 particles,
    // each moving a figure by ~1/16384 = 6e-5; 5e-4 allows 8 such particles.
    expect(Math.abs(got.fidelity - want.fidelity)).toBeLessThan(5e-4);
    expect(Math.abs(got.coverage - want.coverage)).toBeLessThan(5e-4);
    expect(Math.abs(got.hdr99 - want.hdr99)).toBeLessThan(5e-4);
    expect(Math.abs(got.tvConditional - want.tvConditional)).toBeLessThan(5e-4);
    expect(Math.abs(got.tvTilted - want.tvTilted!)).toBeLessThan(5e-4);
  });

  it('a Feynman-Kac corrected spec runs in the page and gives the CPU reference\'s population', async () => {
    const { page } = open;
    const raw = JSON.parse(readFileSync(new URL('../../examples/fk-two-gaussians.json', import.meta.url), 'utf8'));
    // One resampling, after the last step: before it the GPU's particles and weights are the
    // CPU's up to f32 rounding (test/gpu/fk.test.ts), and its ancestors differ from f64
    // systematic resampling's only at f32 ties (at most max(10, N / 1000) slots there).
    Object.assign(raw, { particles: 4096, seed: 5, solver: { ...raw.solver, steps: 30 }, corrector: { kind: 'fk', essThreshold: 0 } });
    const before = (await page.evaluate(() => (window as unknown as { __explorer: Status }).__explorer)).runId;
    await typeSpec(page, raw);
    await page.waitForFunction(
      (runId: number) => {
        const e = (window as unknown as { __explorer: Status }).__explorer;
        return e.runId > runId && (e.status === 'done' || e.status === 'error');
      },
      { timeout: 100_000, polling: 200 },
      before,
    );
    const status = await page.evaluate(() => (window as unknown as { __explorer: Status }).__explorer);
    expect(status.error).toBeNull();
    const cpu = sampleCpuFk(parseSpec(raw)).particles;
    const n = cpu.length;
    const mean = cpu.reduce((s, x) => s + x, 0) / n;
    const sd = Math.sqrt(cpu.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
    const range = Math.max(...cpu) - Math.min(...cpu);
    const got = { mean: await figure(page, 'mean0'), sd: await figure(page, 'sd0'), particles: await figure(page, 'particles') };
    console.log(`explorer fk vs CPU: mean ${got.mean.toFixed(5)} vs ${mean.toFixed(5)}, sd ${got.sd.toFixed(5)} vs ${sd.toFixed(5)}`);
    expect(got.particles).toBe(n);
    // Up to 10 slots with another ancestor, each moving the mean by at most range / n and the
    // spread by about as much; plain cfg's mean is ~0.4 away.
    const tolerance = (10 * range) / n + 2e-4;
    expect(Math.abs(got.mean - mean)).toBeLessThan(tolerance);
    expect(Math.abs(got.sd - sd)).toBeLessThan(tolerance);
    expect(problems(open), open.log.join('\n')).toEqual([]);
  });

  it('a bad spec is explained on the page with the path of the field', async () => {
    const { page } = open;
    const raw = JSON.parse(readFileSync(new URL('../../examples/two-gaussians.json', import.meta.url), 'utf8'));
    raw.classes[0].components[0].cov = -1;
    await typeSpec(page, raw);
    await waitForStatus(page, ['invalid'], 10_000);
    const text = await page.$eval('#spec-errors', (e) => ((e as HTMLElement).hidden ? '' : (e.textContent ?? '')));
    expect(text).toContain('classes[0].components[0].cov');
    // A JSON syntax error is explained too.
    await page.$eval('#spec-text', (el) => {
      const t = el as HTMLTextAreaElement;
      t.value = '{ "dim": 1, ';
      t.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction(() => document.getElementById('spec-errors')?.textContent?.includes('not valid JSON'), { timeout: 10_000 });
    expect(problems(open), open.log.join('\n')).toEqual([]);
  });

  it('a 2-D preset draws a density heatmap', async () => {
    const page2 = await harness.open('index.html?preset=ring-8&particles=8192&steps=20');
    try {
      await page2.page.setViewport({ width: 1280, height: 900 });
      const s = await waitForStatus(page2.page, ['done', 'error', 'invalid']);
      expect(s.status, page2.log.join('\n')).toBe('done');
      await page2.page.click('#show-exact');
      await page2.page.click('#show-paths');
      await page2.page.evaluate(() => new Promise((r) => setTimeout(r, 400)));
      const png = await plotPixels(page2.page);
      // Empty bins are the dark background (0.07, 0.07, 0.12); occupied ones viridis, never that dark.
      let lit = 0;
      for (let i = 0; i < png.width * png.height; i++) {
        const [r, g, b] = [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]];
        if (g > 40 && r + g + b < 700) lit++;
      }
      console.log(`explorer: 2-D heatmap lights ${lit} pixels of the plot (${png.width}x${png.height})`);
      expect(lit).toBeGreaterThan(200);
      expect(problems(page2), page2.log.join('\n')).toEqual([]);
    } finally {
      await page2.page.close();
    }
  });

  it('a browser without WebGPU is told so in words', async () => {
    const page = await harness.browser.newPage();
    const log: string[] = [];
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${String(e)}`));
    try {
      // As in a browser without WebGPU: navigator.gpu is undefined.
      await page.evaluateOnNewDocument(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      await page.goto(`${harness.baseUrl}/index.html?preset=two-gaussians`, { waitUntil: 'load' });
      await page.waitForFunction(() => (window as unknown as { __explorer?: { webgpu: string } }).__explorer?.webgpu === 'unavailable', {
        timeout: 30_000,
      });
      const text = await page.$eval('#gpu-message', (e) => ((e as HTMLElement).hidden ? '' : (e.textContent ?? '')));
      expect(text).toMatch(/does not support WebGPU/);
      expect(log.filter((l) => /^(console\.error|pageerror)/.test(l))).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
