// The explorer page (index.html, web/) in headless Chromium (SwiftShader WebGPU):
//   - it loads and runs a preset with no console errors;
//   - the histogram drawn by the WebGPU render pipeline is not blank (pixels of a screenshot,
//     with the exact-density overlay switched off so that only the GPU layer can colour the plot);
//   - the page's numbers (mean, spread, coverage, fidelity, HDR share, total variation) match the f64 CPU
//     reference on the same seeded run;
//   - a bad spec is explained on the page with the field's path, JSON syntax errors with line and
//     column, and the results on screen are marked stale;
//   - Run gives a first (preview) picture, Stop stops the run (no timing is asserted: the
//     latencies are measured by `npm run bench:explorer`);
//   - the spec and view in the URL reproduce the picture; a spec from the URL is validated and
//     its strings are never rendered as HTML (a hostile class name);
//   - Chromium without WebGPU samples on the CPU in a Web Worker;
//   - axe-core finds no serious or critical accessibility violation, at 1280 and 390 px.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { sampleCpu } from '../../src/cpu/reference.ts';
import { sampleCpuFk } from '../../src/cpu/fk.ts';
import type { HistogramCounts } from '../../src/gpu/histogram.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { computeFigures, densities, highDensityRegion, logDensityGrid, plotGeometry } from '../../web/densities.ts';
import {
  browserSkipReason,
  CHROMIUM_ARGS,
  findChromium,
  startBrowserHarness,
  type BrowserHarness,
  type OpenPage,
} from '../support/browser.ts';
import { decodePng } from '../support/png.ts';

const skip = browserSkipReason();

// A small seeded run: 2^14 particles, 50 rk4 steps of the two-Gaussian preset (cfg, w = 3).
const RUN = { preset: 'two-gaussians', particles: 2 ** 14, steps: 50, seed: 3 };
const RUN_QUERY = `?preset=${RUN.preset}&particles=${RUN.particles}&steps=${RUN.steps}&seed=${RUN.seed}`;

type Status = {
  status: string;
  runId: number;
  error: string | null;
  webgpu: string;
  adapter: string | null;
  stale: boolean;
  picture: { kind: string; particles: number; steps: number; binned: number } | null;
  timing: { runStartedAt: number; firstPictureAt: number | null } | null;
  dispatches: { ms: number; work: number }[];
  summary: { backend: string; mean: number[]; particles: number } | null;
};

const hookOf = (page: Page): Promise<Status> =>
  page.evaluate(() => (window as unknown as { __explorer: Status }).__explorer);

/** axe-core's violations of impact serious or critical on the page (its source injected). */
async function seriousViolations(page: Page): Promise<string[]> {
  const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: source });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            ctx: Document,
            o: object,
          ): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.targets.slice(0, 5).join(', ')}`);
}

async function waitForStatus(page: Page, statuses: string[], timeout = 100_000): Promise<Status> {
  await page
    .waitForFunction(
      (wanted: string[]) => {
        const e = (window as unknown as { __explorer?: { status: string } }).__explorer;
        return e !== undefined && wanted.includes(e.status);
      },
      { timeout, polling: 200 },
      statuses,
    )
    .catch(async (e: Error) => {
      // Say where the page was (its hook, without the dispatch log).
      const state = await page
        .evaluate(() =>
          JSON.stringify({ ...(window as unknown as { __explorer: object }).__explorer, dispatches: undefined }),
        )
        .catch(() => '?');
      throw new Error(`${e.message}; waiting for ${statuses.join('/')}, the page: ${state}`);
    });
  return page.evaluate(() => (window as unknown as { __explorer: Status }).__explorer);
}

/** Console errors, page errors, failed requests and HTTP errors seen by the page. */
function problems(open: OpenPage): string[] {
  return open.log.filter((l) => /^(console\.error|pageerror|requestfailed|HTTP \d)/.test(l));
}

/** A screenshot of the main plot's data area only (inside the axes), decoded. */
async function plotPixels(page: Page): Promise<ReturnType<typeof decodePng>> {
  // A click may have scrolled the page: the bounding box is in viewport coordinates.
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = await (await page.$('#plot-overlay'))!.boundingBox();
  const rect = JSON.parse(await page.$eval('#plot-overlay', (e) => (e as HTMLElement).dataset.plotRect ?? 'null'));
  if (!box || !rect) throw new Error('the plot has not been drawn');
  const inset = 2; // the axes frame
  const clip = {
    x: box.x + rect.x + inset,
    y: box.y + rect.y + inset,
    width: rect.width - 2 * inset,
    height: rect.height - 2 * inset,
  };
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
    const spec = parseSpec({
      ...raw,
      particles: RUN.particles,
      seed: RUN.seed,
      solver: { ...raw.solver, steps: RUN.steps },
    });
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

  it("a Feynman-Kac corrected spec runs in the page and gives the CPU reference's population", async () => {
    const { page } = open;
    const raw = JSON.parse(readFileSync(new URL('../../examples/fk-two-gaussians.json', import.meta.url), 'utf8'));
    // One resampling, after the last step: before it the GPU's particles and weights are the
    // CPU's up to f32 rounding (test/gpu/fk.test.ts), and its ancestors differ from f64
    // systematic resampling's only at f32 ties (at most max(10, N / 1000) slots there).
    Object.assign(raw, {
      particles: 4096,
      seed: 5,
      solver: { ...raw.solver, steps: 30 },
      corrector: { kind: 'fk', essThreshold: 0 },
    });
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
    const got = {
      mean: await figure(page, 'mean0'),
      sd: await figure(page, 'sd0'),
      particles: await figure(page, 'particles'),
    };
    console.log(
      `explorer fk vs CPU: mean ${got.mean.toFixed(5)} vs ${mean.toFixed(5)}, sd ${got.sd.toFixed(5)} vs ${sd.toFixed(5)}`,
    );
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
    await page.waitForFunction(() => document.getElementById('spec-errors')?.textContent?.includes('not valid JSON'), {
      timeout: 10_000,
    });
    const json = await page.$eval('#spec-errors', (e) => e.textContent ?? '');
    // '{ "dim": 1, ' ends where a property name should start: line 1, column 13.
    expect(json).toContain('line 1, column 13');
    expect(json).toContain('expected a property name');
    // The results on screen are from the last valid spec: marked stale.
    const hook = await hookOf(page);
    expect(hook.stale).toBe(true);
    expect(await page.$eval('#results', (e) => e.classList.contains('stale'))).toBe(true);
    expect(await page.$eval('#stale-note', (e) => (e as HTMLElement).hidden)).toBe(false);
    // A syntax error on a later line.
    await page.$eval('#spec-text', (el) => {
      const t = el as HTMLTextAreaElement;
      t.value = '{\n  "dim": 1,\n  "seed": 01\n}';
      t.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction(
      () => document.getElementById('spec-errors')?.textContent?.includes('line 3, column 12'),
      { timeout: 10_000 },
    );
    expect(problems(open), open.log.join('\n')).toEqual([]);
  });

  it('Run shows a first (preview) picture while sampling, and Stop stops the run', async () => {
    // The default preset at its full size (10^5 particles x 1000 rk4 steps): minutes of work
    // on SwiftShader, so the preview and Stop are what the page can show in the meantime.
    const page3 = await harness.open('index.html?preset=two-gaussians&autorun=0');
    try {
      await page3.page.setViewport({ width: 1280, height: 900 });
      await page3.page.waitForFunction(() => (window as unknown as { __explorer: Status }).__explorer.webgpu === 'ok', {
        timeout: 30_000,
      });
      await page3.page.click('#run');
      await page3.page.waitForFunction(
        () => ((window as unknown as { __explorer: Status }).__explorer.timing?.firstPictureAt ?? 0) > 0,
        {
          timeout: 60_000,
          polling: 50,
        },
      );
      const h = await hookOf(page3.page);
      expect(h.status).toBe('running');
      expect(h.picture?.kind).toBe('preview');
      expect(h.picture!.binned).toBeGreaterThan(0);
      expect(await page3.page.$eval('#picture-caption', (e) => e.textContent)).toMatch(
        /^Preview: [\d,]+ of [\d,]+ particles after \d+ rk4 steps/,
      );
      expect(h.dispatches.length).toBeGreaterThan(0);
      console.log(
        `explorer: first picture ${(h.timing!.firstPictureAt! - h.timing!.runStartedAt).toFixed(0)} ms after Run (not asserted)`,
      );
      await page3.page.click('#stop');
      const s = await waitForStatus(page3.page, ['cancelled', 'error'], 30_000);
      expect(s.status).toBe('cancelled');
      expect(await page3.page.$eval('#status', (e) => e.textContent)).toMatch(/^Stopped/);
      // Nothing more is dispatched after Stop.
      const n = (await hookOf(page3.page)).dispatches.length;
      await page3.page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
      expect((await hookOf(page3.page)).dispatches.length).toBe(n);
      expect(problems(page3), page3.log.join('\n')).toEqual([]);
    } finally {
      await page3.page.close();
    }
  });

  it('the spec and view in the URL reproduce the picture', async () => {
    const a = await harness.open('index.html?preset=boxes-2d&particles=4096&steps=20&seed=7');
    try {
      await a.page.setViewport({ width: 1280, height: 900 });
      await waitForStatus(a.page, ['done', 'error', 'invalid']);
      await a.page.click('#show-paths'); // a view switch goes into the URL too
      await a.page.waitForFunction(
        () => location.search.includes('view=exact&') || location.search.endsWith('view=exact'),
        { timeout: 10_000 },
      );
      const url = await a.page.evaluate(() => location.href);
      const mean = [await figure(a.page, 'mean0'), await figure(a.page, 'mean1')];
      const bins: Record<string, number> = {};
      for (const key of ['particles', 'coverage', 'fidelity', 'hdr99', 'tvConditional', 'tvTilted'])
        bins[key] = await figure(a.page, key);
      const text = await a.page.$eval('#spec-text', (e) => (e as HTMLTextAreaElement).value);
      const b = await harness.open(url.replace(harness.baseUrl + '/', ''));
      try {
        await b.page.setViewport({ width: 1280, height: 900 });
        const s = await waitForStatus(b.page, ['done', 'error', 'invalid']);
        expect(s.status, b.log.join('\n')).toBe('done');
        expect(JSON.parse(await b.page.$eval('#spec-text', (e) => (e as HTMLTextAreaElement).value))).toEqual(
          JSON.parse(text),
        );
        expect(await b.page.$eval('#show-paths', (e) => (e as HTMLInputElement).checked)).toBe(false);
        expect(await b.page.$eval('#show-exact', (e) => (e as HTMLInputElement).checked)).toBe(true);
        // The same seeded particles: the same bin counts, so the same bin figures to the last
        // digit; the mean is an f32 GPU reduction whose summation order follows the chunk
        // sizes (sized from the measured rate), so it agrees to f32 rounding.
        for (const key of ['particles', 'coverage', 'fidelity', 'hdr99', 'tvConditional', 'tvTilted']) {
          expect(await figure(b.page, key), key).toBe(bins[key]);
        }
        const again = [await figure(b.page, 'mean0'), await figure(b.page, 'mean1')];
        for (let k = 0; k < 2; k++) expect(Math.abs(again[k] - mean[k])).toBeLessThan(1e-5);
        expect(problems(b), b.log.join('\n')).toEqual([]);
      } finally {
        await b.page.close();
      }
    } finally {
      await a.page.close();
    }
  });

  it('a spec from the URL is validated, and a hostile class name is shown as text, never as HTML', async () => {
    const raw = JSON.parse(readFileSync(new URL('../../examples/two-gaussians.json', import.meta.url), 'utf8'));
    const hostile = '<img src=x onerror=alert(1)>';
    raw.classes[0].name = hostile;
    raw.target = hostile;
    raw.particles = 2048;
    raw.solver.steps = 10;
    const dialogs: string[] = [];
    const run = async (spec: unknown, wanted: string) => {
      const o = await harness.open(`index.html?spec=${encodeURIComponent(JSON.stringify(spec))}`);
      o.page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await waitForStatus(o.page, [wanted, 'error'], 60_000);
      return o;
    };
    const ok = await run(raw, 'done');
    try {
      expect((await hookOf(ok.page)).status).toBe('done');
      expect(await ok.page.$eval('#picture-caption', (e) => e.textContent)).toContain(`target c = ${hostile}`);
      expect(await ok.page.evaluate(() => document.querySelectorAll('img').length)).toBe(0);
      expect(await ok.page.$eval('#spec-text', (e) => (e as HTMLTextAreaElement).value)).toContain(hostile);
    } finally {
      await ok.page.close();
    }
    // Invalid: the negative names a class that does not exist (its name is the hostile string).
    const bad = structuredClone(raw);
    bad.target = `${hostile}!`;
    const o = await run(bad, 'invalid');
    try {
      const errors = await o.page.$eval('#spec-errors', (e) => e.textContent ?? '');
      expect(errors).toContain('target');
      expect(errors).toContain(`${hostile}!`);
      expect(await o.page.evaluate(() => document.querySelectorAll('img').length)).toBe(0);
      expect(problems(o), o.log.join('\n')).toEqual([]);
    } finally {
      await o.page.close();
    }
    expect(dialogs).toEqual([]);
  });

  it('has no serious accessibility violations (axe-core), and at 390 px the plot comes first', async () => {
    const o = await harness.open('index.html?preset=ring-8&particles=4096&steps=10');
    try {
      await o.page.setViewport({ width: 1280, height: 900 });
      await waitForStatus(o.page, ['done', 'error', 'invalid']);
      const wide = await seriousViolations(o.page);
      await o.page.setViewport({ width: 390, height: 844, isMobile: true, deviceScaleFactor: 1 });
      await o.page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
      const narrow = await seriousViolations(o.page);
      expect(wide).toEqual([]);
      expect(narrow).toEqual([]);
      const plot = (await (await o.page.$('#plot-stack'))!.boundingBox())!;
      const controls = (await (await o.page.$('.controls'))!.boundingBox())!;
      expect(plot.y).toBeLessThan(controls.y);
      expect(plot.y + plot.height).toBeLessThanOrEqual(844); // above the fold
      expect(plot.width).toBeLessThanOrEqual(390);
      // Keyboard: Run is reachable with Tab and works with Enter/Space like a click.
      expect(await o.page.$eval('#run', (e) => (e as HTMLButtonElement).tabIndex)).toBe(0);
      expect(problems(o), o.log.join('\n')).toEqual([]);
    } finally {
      await o.page.close();
    }
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

      // The SVG export: the overlay stays vector (axes, legend as <text>), the density layer
      // is one embedded PNG under it, cropped to the plot, and it is the same lit heatmap.
      const svg = await page2.page.evaluate(() => {
        const text = (window as unknown as { __explorer: { exportSvg: () => string | null } }).__explorer.exportSvg();
        if (!text) return null;
        const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
        const image = doc.querySelector('image.density-layer');
        return {
          root: doc.documentElement.nodeName,
          parseError: doc.querySelector('parsererror') !== null,
          texts: [...doc.querySelectorAll('text')].map((t) => t.textContent ?? ''),
          paths: doc.querySelectorAll('path').length,
          href: image?.getAttribute('href') ?? null,
          firstChild: doc.documentElement.firstElementChild?.nodeName ?? null,
        };
      });
      expect(svg).not.toBeNull();
      expect(svg!.root).toBe('svg');
      expect(svg!.parseError).toBe(false);
      expect(svg!.texts).toContain('x[0]');
      expect(svg!.texts).toContain('x[1]');
      expect(svg!.texts, svg!.texts.join(' / ')).toContain('sample density (sqrt scale)'); // the colour bar
      expect(svg!.paths).toBeGreaterThan(5); // the sample paths (shown by the click above) are vector
      expect(svg!.firstChild).toBe('image');
      expect(svg!.href).toMatch(/^data:image\/png;base64,/);
      const layer = decodePng(Buffer.from(svg!.href!.slice('data:image/png;base64,'.length), 'base64'));
      let litSvg = 0;
      for (let i = 0; i < layer.width * layer.height; i++) {
        const [r, g, b] = [layer.data[4 * i], layer.data[4 * i + 1], layer.data[4 * i + 2]];
        if (g > 40 && r + g + b < 700) litSvg++;
      }
      console.log(
        `explorer: SVG export's density layer lights ${litSvg} pixels (${layer.width}x${layer.height}), ${svg!.texts.length} text elements`,
      );
      expect(litSvg).toBeGreaterThan(200);
      expect(problems(page2), page2.log.join('\n')).toEqual([]);
    } finally {
      await page2.page.close();
    }
  });

  it('Chromium without WebGPU samples on the CPU in a Web Worker, at a reduced N', async () => {
    // A second browser, launched without --enable-unsafe-webgpu and with WebGPU switched off.
    const args = CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu').concat('--disable-features=WebGPU');
    const browser = await puppeteer.launch({ executablePath: findChromium()!, headless: true, args });
    try {
      const page = await browser.newPage();
      const log: string[] = [];
      page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => log.push(`pageerror: ${String(e)}`));
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(`${harness.baseUrl}/index.html?preset=two-gaussians&particles=2048&steps=20&seed=3`, {
        waitUntil: 'load',
      });
      const s = await waitForStatus(page, ['done', 'error', 'invalid'], 100_000);
      expect(s.status, log.join('\n')).toBe('done');
      expect(s.webgpu).toBe('unavailable');
      expect(s.summary?.backend).toBe('cpu');
      const text = await page.$eval('#gpu-message', (e) => ((e as HTMLElement).hidden ? '' : (e.textContent ?? '')));
      expect(text).toMatch(/^No WebGPU here .*samples on the CPU in a Web Worker/);
      // The worker runs the f64 reference itself: the page's mean is the reference's.
      const raw = JSON.parse(readFileSync(new URL('../../examples/two-gaussians.json', import.meta.url), 'utf8'));
      const cpu = sampleCpu(parseSpec({ ...raw, particles: 2048, seed: 3, solver: { ...raw.solver, steps: 20 } }));
      const mean = cpu.particles.reduce((a, x) => a + x, 0) / cpu.count;
      expect(Math.abs((await figure(page, 'mean0')) - mean)).toBeLessThan(1e-9);
      // The histogram is drawn (2-D canvas): bars in the plot area.
      await page.click('#show-exact');
      await page.evaluate(() => new Promise((r) => setTimeout(r, 400)));
      const png = await plotPixels(page);
      let bar = 0;
      for (let i = 0; i < png.width * png.height; i++) {
        const [r, g, b] = [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]];
        if (b > 150 && b - r > 60 && b - g > 30) bar++;
      }
      expect(bar / (png.width * png.height)).toBeGreaterThan(0.01);
      expect(log.filter((l) => /^(console\.error|pageerror)/.test(l))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
