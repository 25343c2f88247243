// Explorer latency benchmark: headless Chromium (puppeteer-core, SwiftShader WebGPU) opens the
// explorer page (index.html, served by Vite) on a preset at its full size and measures what a
// user feels, from the page's own clock (performance.now(), window.__explorer.timing) and from
// input sent through the DevTools protocol like a real click:
//   - time to first picture: from the Run click to the frame after the first binned picture;
//   - dispatch durations: GPU busy time of every step-kernel dispatch (submit or previous
//     completion to onSubmittedWorkDone), preview and full stage apart;
//   - click-to-paint latency while sampling: a click on a display switch (exact densities) until
//     the frame after the page redrew (puppeteer's raf polling), repeated;
//   - stop latency: the Stop click until the run has ended (status 'cancelled').
// Targets (issue 17, SwiftShader): first picture < 2 s, dispatches ~30 ms, Stop < 200 ms.
// Prints nothing unless asked: --json FILE writes the JSON result, --stdout prints it.
//
//   npm run bench:explorer -- --json explorer-bench.json
//   npm run bench:explorer -- --preset ring-8 --repeats 5 --stdout
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Page } from 'puppeteer-core';
import { browserSkipReason, startBrowserHarness } from '../test/support/browser.ts';
import { intOption, nodeEnvironment } from './node-env.ts';

const cli = new Command('bench:explorer')
  .description(
    'explorer latencies in headless Chromium: first picture, dispatch durations, click-to-paint, stop; JSON via --json FILE or --stdout',
  )
  .option('--preset <id>', 'preset to run (at its own size unless --particles/--steps)', 'two-gaussians')
  .option('--particles <n>', 'particles (default: the preset)', intOption('--particles'))
  .option('--steps <n>', 'steps (default: the preset)', intOption('--steps'))
  .option('--repeats <n>', 'Run/Stop cycles measured', intOption('--repeats'), 3)
  .option('--clicks <n>', 'click-to-paint samples per cycle', intOption('--clicks'), 5)
  .option('--sample-seconds <s>', 'seconds of sampling after the first picture before Stop', (v) => Number(v), 4)
  .option('--json <file>', 'write the JSON result to FILE')
  .option('--stdout', 'print the JSON result on stdout', false)
  .parse(process.argv);
const opts = cli.opts<{
  preset: string;
  particles?: number;
  steps?: number;
  repeats: number;
  clicks: number;
  sampleSeconds: number;
  json?: string;
  stdout: boolean;
}>();

interface Hook {
  status: string;
  draws: number;
  adapter: string | null;
  timing: {
    runStartedAt: number;
    firstPictureAt: number | null;
    stopRequestedAt: number | null;
    stoppedAt: number | null;
  } | null;
  dispatches: { stage: string; particles: number; steps: number; work: number; ms: number }[];
  picture: { kind: string; particles: number; steps: number; binned: number } | null;
}
const hook = (page: Page) => page.evaluate(() => (window as unknown as { __explorer: Hook }).__explorer);

function stats(values: number[]) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  return {
    n: s.length,
    min: s[0],
    median: q(0.5),
    p90: q(0.9),
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

const skip = browserSkipReason();
if (skip) {
  process.stderr.write(`bench:explorer: ${skip}\n`);
  process.exit(1);
}

const harness = await startBrowserHarness();
try {
  const query = new URLSearchParams({ preset: opts.preset, autorun: '0' });
  if (opts.particles) query.set('particles', String(opts.particles));
  if (opts.steps) query.set('steps', String(opts.steps));
  const open = await harness.open(`index.html?${query}`);
  const { page } = open;
  await page.setViewport({ width: 1280, height: 900 });
  await page.waitForFunction(
    () =>
      (window as unknown as { __explorer?: Hook }).__explorer?.status === 'idle' &&
      (window as unknown as { __explorer: Hook }).__explorer.adapter !== null,
    { timeout: 60_000 },
  );
  const cycles: {
    status: string;
    firstPictureMs: number;
    firstPicture: Hook['picture'];
    pictureAtStop: Hook['picture'];
    clickToPaintMs: number[];
    stopMs: number | null;
    stopWallMs: number;
    dispatches: { preview: ReturnType<typeof stats>; full: ReturnType<typeof stats>; count: number };
    dispatchSamples: Hook['dispatches'];
  }[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    process.stderr.write(`bench:explorer: cycle ${r + 1}/${opts.repeats}\n`);
    await page.click('#run');
    await page.waitForFunction(
      () => ((window as unknown as { __explorer: Hook }).__explorer.timing?.firstPictureAt ?? 0) > 0,
      { timeout: 120_000, polling: 20 },
    );
    const first = await hook(page);
    const firstPictureMs = first.timing!.firstPictureAt! - first.timing!.runStartedAt;
    // Click-to-paint while the run streams in.
    const clicks: number[] = [];
    for (let c = 0; c < opts.clicks; c++) {
      const before = (await hook(page)).draws;
      const t0 = performance.now();
      await page.click('#show-exact');
      await page.waitForFunction(
        (n: number) => (window as unknown as { __explorer: Hook }).__explorer.draws > n,
        { polling: 'raf', timeout: 30_000 },
        before,
      );
      clicks.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 150));
    }
    await new Promise((res) => setTimeout(res, opts.sampleSeconds * 1000));
    const tStop = performance.now();
    await page.click('#stop');
    await page.waitForFunction(() => (window as unknown as { __explorer: Hook }).__explorer.status !== 'running', {
      polling: 10,
      timeout: 30_000,
    });
    const stopWallMs = performance.now() - tStop;
    const end = await hook(page);
    const preview = end.dispatches.filter((d) => d.stage === 'preview').map((d) => d.ms);
    const full = end.dispatches.filter((d) => d.stage === 'full').map((d) => d.ms);
    cycles.push({
      status: end.status,
      firstPictureMs,
      firstPicture: first.picture,
      pictureAtStop: end.picture,
      clickToPaintMs: clicks,
      stopMs:
        end.timing!.stoppedAt && end.timing!.stopRequestedAt
          ? end.timing!.stoppedAt - end.timing!.stopRequestedAt
          : null,
      stopWallMs,
      dispatches: { preview: stats(preview), full: stats(full), count: end.dispatches.length },
      // A few raw records (the first of each stage) to see the sizes the page chose.
      dispatchSamples: [
        ...end.dispatches.filter((d) => d.stage === 'preview').slice(0, 3),
        ...end.dispatches.filter((d) => d.stage === 'full').slice(0, 3),
      ],
    });
    // Let the page settle before the next cycle.
    await new Promise((res) => setTimeout(res, 500));
  }
  const all = (f: (c: (typeof cycles)[number]) => number[]) => stats(cycles.flatMap(f));
  const result = {
    benchmark: 'explorer',
    config: {
      preset: opts.preset,
      particles: opts.particles ?? null,
      steps: opts.steps ?? null,
      repeats: opts.repeats,
      clicks: opts.clicks,
      sampleSeconds: opts.sampleSeconds,
    },
    environment: nodeEnvironment(),
    adapter: (await hook(page)).adapter,
    targets: { firstPictureMs: 2000, dispatchMs: 30, stopMs: 200 },
    summary: {
      firstPictureMs: all((c) => [c.firstPictureMs]),
      fullDispatchMs: all((c) => (c.dispatches.full?.median !== undefined ? [c.dispatches.full.median] : [])),
      previewDispatchMs: all((c) => (c.dispatches.preview?.median !== undefined ? [c.dispatches.preview.median] : [])),
      clickToPaintMs: all((c) => c.clickToPaintMs),
      stopMs: all((c) => (c.stopMs === null ? [] : [c.stopMs])),
      stopWallMs: all((c) => [c.stopWallMs]),
    },
    cycles,
  };
  const text = JSON.stringify(result, null, 2);
  if (opts.json) writeFileSync(opts.json, text + '\n');
  if (opts.stdout) process.stdout.write(text + '\n');
  await open.page.close();
} finally {
  await harness.close();
}
