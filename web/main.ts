// The explorer page: wires the controls (web/controls.ts), the exact densities
// (web/densities.ts), the run (web/run.ts) and the plots (web/gpu-plot.ts, web/plots.ts).
// Test hook: window.__explorer holds the page's status and its figures (test/browser/explorer.test.ts).
import { acquireGpu, type GpuContext } from '../src/gpu/device.ts';
import { buildModel, classGroup } from '../src/model/mixture.ts';
import { lawMoments, projectedLaw } from '../src/metrics/exact.ts';
import { browserPlatform } from '../src/platform/browser.ts';
import { priorScale, processAt, startTime } from '../src/processes/process.ts';
import { parseSpec } from '../src/spec/parse.ts';
import { SpecError, type SpecIssue } from '../src/spec/errors.ts';
import type { ExperimentSpec } from '../src/spec/types.ts';
import type { HistogramCounts } from '../src/metrics/gpu-histogram.ts';
import { Controls } from './controls.ts';
import {
  computeFigures,
  densities,
  highDensityRegion,
  logDensityGrid,
  plotGeometry,
  pointCoordinate,
  type Densities,
  type Figures,
  type LogDensityGrid,
  type PlotGeometry,
} from './densities.ts';
import { GpuPlot, type PlotRect } from './gpu-plot.ts';
import { drawMainOverlay, drawMomentsChart, drawPathsChart, fitCanvas, geometryAspect, plotRect, type TracePoint } from './plots.ts';
import { Cancelled, ExplorerRun, initialPaths, PATHS, type RunProgress } from './run.ts';
import { MAX_PAGE_PARTICLES, type RawSpec } from './spec-edit.ts';
import type { Moments } from './trace.ts';

// ---------------------------------------------------------------------------------------
// State, and the test hook

export type PageStatus = 'starting' | 'idle' | 'running' | 'done' | 'cancelled' | 'invalid' | 'error';

export interface PageSummary {
  particles: number;
  steps: number;
  solver: string;
  seed: number;
  /** Plotted coordinates and their mean and (population) variance over all finite particles. */
  axes: number[];
  mean: number[];
  variance: number[];
  nonFinite: number;
  figures: Figures | null;
  elapsedSeconds: number;
  particleStepsPerSecond: number;
  plan: { chunkParticles: number; stepsPerDispatch: number; dispatches: number };
}

interface ExplorerHook {
  status: PageStatus;
  /** Increments at every run start. */
  runId: number;
  summary: PageSummary | null;
  /** The last error or spec problem shown on the page, in words. */
  error: string | null;
  adapter: string | null;
  webgpu: 'pending' | 'ok' | 'unavailable';
}

const hook: ExplorerHook = { status: 'starting', runId: 0, summary: null, error: null, adapter: null, webgpu: 'pending' };
(window as unknown as { __explorer: ExplorerHook }).__explorer = hook;

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page element #${id} missing`);
  return e as T;
};

const overlayCanvas = $<HTMLCanvasElement>('plot-overlay');
const gpuCanvas = $<HTMLCanvasElement>('plot-gpu');
const momentsCanvas = $<HTMLCanvasElement>('chart-moments');
const pathsCanvas = $<HTMLCanvasElement>('chart-paths');
const statusLine = $<HTMLParagraphElement>('status');
const gpuMessage = $<HTMLDivElement>('gpu-message');

let gpu: GpuContext | null = null;
let gpuPlot: GpuPlot | null = null;
let spec: ExperimentSpec | null = null;
/** A note about the spec the page changed (particles capped), shown in the status line. */
let specNote = '';
let geometry: PlotGeometry | null = null;
let grid: LogDensityGrid | null = null;
let gridKey = '';
let dens: Densities | null = null;
let hdr: Uint8Array | null = null;
let exactTrace: TracePoint[] = [];

let current: { run: ExplorerRun; done: Promise<void> } | null = null;
let shown: ExplorerRun | null = null;
let binned = 0;
let observedTop = 0;
let trace: TracePoint[] = [];
/** Per path: times and the particle's coordinates (all dims) at each. */
let paths: { t: number[]; x: number[][] }[] = [];
let figures: Figures | null = null;
/** Evaluations per dispatch: sized from the last run's measured GPU rate (~40 ms per dispatch). */
let budget = 2 ** 22;
const DISPATCH_SECONDS = 0.04;

// ---------------------------------------------------------------------------------------
// Messages

function showGpuMessage(text: string | null, isError = true): void {
  gpuMessage.hidden = text === null;
  gpuMessage.textContent = text ?? '';
  gpuMessage.classList.toggle('error', isError);
}

function setStatus(text: string): void {
  statusLine.textContent = text;
}

// ---------------------------------------------------------------------------------------
// Spec -> geometry, exact densities

const controls = new Controls({
  onSpecChange: (raw, opts) => onSpecChange(raw, opts),
  onInvalid: (issues) => invalidate(issues),
  onRun: () => void startRun(),
  onStop: () => current?.run.cancel(),
  onDisplayChange: () => requestDraw({ overlay: true, charts: true }),
});

function onSpecChange(raw: RawSpec, opts: { run: boolean }): void {
  try {
    let s = parseSpec(raw);
    specNote = '';
    if (s.particles > MAX_PAGE_PARTICLES) {
      specNote = `The page samples at most ${MAX_PAGE_PARTICLES.toLocaleString('en')} particles; the spec asks for ${s.particles.toLocaleString('en')}.`;
      s = { ...s, particles: MAX_PAGE_PARTICLES };
    }
    spec = s;
    controls.showIssues(null);
    hook.error = null;
  } catch (e) {
    invalidate(e instanceof SpecError ? e.issues : [{ path: '(spec)', message: (e as Error).message }]);
    return;
  }
  controls.setTimeDomain(spec.solver.tMin, startTime(spec.process));
  updateDensities(spec);
  requestDraw({ overlay: true, charts: true });
  if (opts.run) scheduleRun();
}

/** The spec cannot run: list its problems, stop any run, keep the last picture. */
function invalidate(issues: SpecIssue[]): void {
  spec = null;
  controls.showIssues(issues);
  hook.error = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
  current?.run.cancel();
  clearTimeout(runTimer);
  hook.status = 'invalid';
  setStatus('The spec is not valid: fix the fields listed above to run.');
  requestDraw({ overlay: true, charts: true });
}

function updateDensities(s: ExperimentSpec): void {
  const key = JSON.stringify([s.dim, s.classes, s.target, s.process, s.solver.tMin, s.guidance.kind === 'cfg' ? s.guidance.negative : s.guidance.kind]);
  if (key !== gridKey) {
    current?.run.cancel(); // its histogram's bins no longer match the plot
    geometry = plotGeometry(s);
    grid = logDensityGrid(s, geometry);
    gridKey = key;
    hdr = null;
    exactTrace = exactMoments(s, geometry);
  }
  dens = densities(grid!, s);
  hdr ??= highDensityRegion(dens.binConditional);
  if (figures && lastCounts && lastCounts.counts.length === dens.binConditional.length) figures = computeFigures(lastCounts, dens, hdr);
}

/** The exact unguided conditional law's mean and sd over t, along each plotted axis. */
function exactMoments(s: ExperimentSpec, g: PlotGeometry): TracePoint[] {
  const model = buildModel(s);
  const group = classGroup(model, s.target);
  const t0 = startTime(s.process);
  const t1 = s.solver.tMin;
  const out: TracePoint[] = [];
  try {
    for (let i = 0; i <= 60; i++) {
      const t = Math.exp(Math.log(t0) + (i / 60) * (Math.log(t1) - Math.log(t0)));
      const { alpha, sigma2 } = processAt(s.process, t);
      const mean: number[] = [];
      const sd: number[] = [];
      for (const axis of g.axes) {
        const u = Array.from({ length: s.dim }, (_, j) => (j === axis ? 1 : 0));
        const m = lawMoments(projectedLaw(model, group, alpha, sigma2, u));
        mean.push(m.mean);
        sd.push(Math.sqrt(m.variance));
      }
      out.push({ t, mean, sd });
    }
  } catch {
    return [];
  }
  return out;
}

/** A starting guess of the particles' final mean (the tilted law's, else the conditional's). */
function expectedMean(d: Densities): number[] {
  const g = d.grid.geometry;
  const values = d.tilted ?? d.conditional;
  const mean = g.axes.map(() => 0);
  let total = 0;
  for (let idx = 0; idx < values.length; idx++) {
    const a = idx % d.grid.points[0];
    const b = Math.floor(idx / d.grid.points[0]);
    total += values[idx];
    mean[0] += values[idx] * pointCoordinate(g, 0, a);
    if (g.axes.length > 1) mean[1] += values[idx] * pointCoordinate(g, 1, b);
  }
  return mean.map((m) => (total > 0 ? m / total : 0));
}

// ---------------------------------------------------------------------------------------
// Runs

let runTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleRun(): void {
  clearTimeout(runTimer);
  runTimer = setTimeout(() => void startRun(), 250);
}

let lastCounts: HistogramCounts | null = null;

let startGeneration = 0;

async function startRun(): Promise<void> {
  clearTimeout(runTimer);
  const generation = ++startGeneration;
  if (current) {
    current.run.cancel();
    await current.done;
  }
  if (generation !== startGeneration) return; // a later start supersedes this one
  if (!spec || !gpu || !geometry || !dens) return;
  const s = spec;
  const run = new ExplorerRun(gpu, s, geometry);
  const runId = ++hook.runId;
  hook.status = 'running';
  hook.summary = null;
  // Show the new run's (empty) histogram; the previous one is no longer drawn.
  const old = shown;
  shown = run;
  gpuPlot?.setSource(run.histogram.counts, geometry.bins);
  old?.destroy();
  binned = 0;
  observedTop = 0;
  figures = null;
  lastCounts = null;
  const t0 = startTime(s.process);
  const start = initialPaths(s, Math.min(PATHS, s.particles));
  paths = Array.from({ length: Math.min(PATHS, s.particles) }, (_, p) => ({ t: [t0], x: [Array.from(start.subarray(p * s.dim, (p + 1) * s.dim))] }));
  const prior = priorScale(s.process);
  trace = [{ t: t0, mean: geometry.axes.map(() => 0), sd: geometry.axes.map(() => prior) }];
  renderFigures(null, null);
  requestDraw({ overlay: true, charts: true });

  let progress: RunProgress | null = null;
  const done = (async () => {
    try {
      const result = await run.run(
        {
          onTrace: (t, m, p) => {
            if (shown !== run) return;
            trace.push({ t, mean: m.mean, sd: m.variance.map(Math.sqrt) });
            for (let i = 0; i < paths.length; i++) {
              paths[i].t.push(t);
              paths[i].x.push(Array.from(p.subarray(i * s.dim, (i + 1) * s.dim)));
            }
            requestDraw({ charts: true, overlay: s.dim > 1 });
          },
          onBinned: (n) => {
            if (shown !== run) return;
            binned = n;
            requestDraw({ gpu: true });
          },
          onCounts: (c, summary) => {
            // A spec change with a new plot geometry stops this run; its last counts do not fit.
            if (shown !== run || !dens || c.counts.length !== dens.binConditional.length) return;
            lastCounts = c;
            figures = computeFigures(c, dens!, hdr!);
            observedTop = observedTopDensity(c);
            renderFigures(summary, progress);
            requestDraw({ overlay: true });
          },
          onProgress: (p) => {
            progress = p;
            setStatus(progressText(p));
          },
        },
        budget,
        expectedMean(dens!),
      );
      if (result.workRate > 0) {
        // Move towards ~40 ms per dispatch, at most 2x down or 4x up per run.
        budget = Math.min(2 ** 28, Math.max(2 ** 20, budget / 2, Math.min(budget * 4, result.workRate * DISPATCH_SECONDS)));
      }
      if (hook.runId !== runId) return;
      lastCounts = result.counts;
      if (dens && hdr && result.counts && result.counts.counts.length === dens.binConditional.length) {
        figures = computeFigures(result.counts, dens, hdr);
      }
      const m = result.summary;
      hook.summary = {
        particles: s.particles,
        steps: s.solver.steps,
        solver: s.solver.kind,
        seed: s.seed,
        axes: geometry?.axes ?? [],
        mean: m?.mean ?? [],
        variance: m?.variance ?? [],
        nonFinite: m?.nonFinite ?? 0,
        figures,
        elapsedSeconds: result.elapsedSeconds,
        particleStepsPerSecond: result.particleStepsPerSecond,
        plan: result.plan,
      };
      renderFigures(m, progress, result);
      setStatus(
        `Done: ${s.particles.toLocaleString('en')} particles x ${s.solver.steps} ${s.solver.kind} steps in ` +
          `${result.elapsedSeconds.toFixed(2)} s (${fmtRate(result.particleStepsPerSecond)} particle-steps/s, frames included). ${specNote}`,
      );
      hook.status = 'done';
    } catch (e) {
      if (e instanceof Cancelled) {
        // Stopped by the user (a newer run or an invalid spec say so themselves).
        if (hook.runId === runId && hook.status === 'running') {
          hook.status = 'cancelled';
          setStatus('Stopped.');
        }
        return;
      }
      const message = e instanceof Error ? e.message : String(e);
      hook.status = 'error';
      hook.error = message;
      setStatus('The run failed.');
      showGpuMessage(`The run failed: ${message}`);
    } finally {
      requestDraw({ overlay: true, charts: true });
    }
  })();
  current = { run, done };
  await done;
  if (current?.run === run) current = null;
}

function progressText(p: RunProgress): string {
  const pct = (100 * (p.particlesDone + (p.stepsDone / p.steps) * Math.min(p.plan.chunkParticles, p.particles - p.particlesDone))) / p.particles;
  return (
    `Running: ${pct.toFixed(0)}% — ${p.particlesDone.toLocaleString('en')} of ${p.particles.toLocaleString('en')} particles done, ` +
    `step ${p.stepsDone}/${p.steps} of the current chunk (${p.plan.chunkParticles.toLocaleString('en')} particles, ` +
    `${p.plan.stepsPerDispatch} steps per dispatch), ${p.elapsedSeconds.toFixed(1)} s. ${specNote}`
  );
}

function fmtRate(v: number): string {
  return v >= 1e9 ? `${(v / 1e9).toFixed(2)} G` : v >= 1e6 ? `${(v / 1e6).toFixed(1)} M` : `${(v / 1e3).toFixed(1)} k`;
}

/** The largest bin density seen (per unit length or area). */
function observedTopDensity(c: HistogramCounts): number {
  if (!geometry || c.total === 0) return 0;
  let max = 0;
  for (const v of c.counts) max = Math.max(max, v);
  const binSize = geometry.low.reduce((a, lo, k) => a * ((geometry!.high[k] - lo) / geometry!.bins[k]), 1);
  return max / (c.total * binSize);
}

// ---------------------------------------------------------------------------------------
// Figures table

function renderFigures(m: Moments | null, p: RunProgress | null, result?: { elapsedSeconds: number; particleStepsPerSecond: number }): void {
  const body = document.querySelector<HTMLTableSectionElement>('#figures tbody')!;
  const rows: [string, string, string, number | null][] = [];
  const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(1)}%`);
  const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(4));
  const f = figures;
  const name = (k: number) => (geometry && geometry.dim > 1 ? `x[${geometry.axes[k]}]` : 'x');
  rows.push(['particles', 'Particles binned', f ? `${f.particles.toLocaleString('en')} of ${(spec?.particles ?? 0).toLocaleString('en')}` : '—', f?.particles ?? null]);
  (geometry?.axes ?? []).forEach((_, k) => {
    rows.push([`mean${k}`, `Mean of ${name(k)}`, num(m?.mean[k]), m?.mean[k] ?? null]);
    rows.push([`sd${k}`, `Spread (sd) of ${name(k)}`, num(m ? Math.sqrt(m.variance[k]) : undefined), m ? Math.sqrt(m.variance[k]) : null]);
  });
  rows.push(['coverage', 'Coverage: PRD recall F8 against p(x | c)', num(f?.coverage), f?.coverage ?? null]);
  rows.push(['fidelity', 'Fidelity: PRD precision F1/8 against p(x | c)', num(f?.fidelity), f?.fidelity ?? null]);
  rows.push(['hdr99', 'Inside the 99% region of p(x | c)', pct(f?.hdr99), f?.hdr99 ?? null]);
  rows.push(['modes', 'Modes of p(x | c) reached (≥ 10% of their mass)', f ? `${f.modesCovered} of ${f.modes}` : '—', f?.modesCovered ?? null]);
  rows.push(['tvConditional', 'Total variation to p(x | c), binned', num(f?.tvConditional), f?.tvConditional ?? null]);
  rows.push(['tvTilted', `Total variation to the ${dens?.tiltLabel ?? 'tilted law'}`, f?.tvTilted == null ? '—' : num(f.tvTilted), f?.tvTilted ?? null]);
  rows.push(['outside', 'Outside the plot / non-finite', f ? `${pct(f.outside / Math.max(1, f.particles))} / ${f.nonFinite}` : '—', f ? f.outside : null]);
  if (result) rows.push(['rate', 'Particle-steps per second (wall, frames included)', fmtRate(result.particleStepsPerSecond), result.particleStepsPerSecond]);
  else if (p) rows.push(['rate', 'Elapsed', `${p.elapsedSeconds.toFixed(1)} s`, p.elapsedSeconds]);
  body.replaceChildren(
    ...rows.map(([key, label, text, value]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = label;
      const td = document.createElement('td');
      td.id = `fig-${key}`;
      td.textContent = text;
      if (value !== null && Number.isFinite(value)) td.dataset.value = String(value);
      tr.append(th, td);
      return tr;
    }),
  );
}

// ---------------------------------------------------------------------------------------
// Drawing (coalesced into animation frames)

let drawQueued = false;
let lastDraw = 0;
/** Draws at most this often while a run streams in (software compositors are slow). */
const DRAW_INTERVAL_MS = 120;
const dirty = { overlay: true, charts: true, gpu: true };
let lastRect: PlotRect | null = null;

/** Marks parts of the picture stale and draws them in an animation frame (throttled). */
function requestDraw(parts: { overlay?: boolean; charts?: boolean; gpu?: boolean }): void {
  dirty.overlay ||= Boolean(parts.overlay);
  dirty.charts ||= Boolean(parts.charts);
  // The overlay's scale (top density) is the GPU layer's too.
  dirty.gpu ||= Boolean(parts.gpu) || Boolean(parts.overlay);
  if (drawQueued) return;
  drawQueued = true;
  const wait = Math.max(0, lastDraw + DRAW_INTERVAL_MS - performance.now());
  setTimeout(
    () =>
      requestAnimationFrame(() => {
        drawQueued = false;
        lastDraw = performance.now();
        try {
          draw();
        } catch (e) {
          showGpuMessage(`Drawing failed: ${(e as Error).message}`);
        }
      }),
    wait,
  );
}

function topDensity(): number {
  if (!dens || !geometry) return 1;
  if (geometry.axes.length === 1) return 1.15 * Math.max(dens.maxDensity, observedTop);
  return observedTop > 0 ? observedTop : dens.maxDensity;
}

function draw(): void {
  const size = fitCanvas(overlayCanvas);
  fitCanvas(gpuCanvas);
  const rect = plotRect(size, geometry ? geometryAspect(geometry) : undefined);
  // Where the plot area is, in CSS pixels of the canvases (tests crop screenshots to it).
  overlayCanvas.dataset.plotRect = JSON.stringify(rect);
  const moved = !lastRect || rect.x !== lastRect.x || rect.y !== lastRect.y || rect.width !== lastRect.width || rect.height !== lastRect.height;
  lastRect = rect;
  if (geometry && (dirty.overlay || moved)) {
    drawMainOverlay(overlayCanvas, {
      geometry,
      densities: spec ? dens : null,
      topDensity: topDensity(),
      showExact: controls.showExact,
      paths: geometry.axes.length > 1 ? paths.map((p) => p.x.map((x) => [x[geometry!.axes[0]], x[geometry!.axes[1]]])) : [],
      showPaths: controls.showPaths,
    });
  }
  if (gpuPlot && geometry && (dirty.gpu || moved)) {
    const binSize = geometry.low.reduce((a, lo, k) => a * ((geometry!.high[k] - lo) / geometry!.bins[k]), 1);
    gpuPlot.draw(rect, shown ? binned : 0, binSize, topDensity(), geometry.axes.length);
  }
  if (dirty.charts && spec && geometry) {
    const names = geometry.axes.map((a) => (geometry!.dim > 1 ? `x[${a}]` : 'x'));
    drawMomentsChart(momentsCanvas, { tStart: startTime(spec.process), tEnd: spec.solver.tMin, trace, exact: exactTrace, axisNames: names });
    const axis = geometry.axes[0];
    drawPathsChart(
      pathsCanvas,
      startTime(spec.process),
      spec.solver.tMin,
      controls.showPaths ? paths.map((p) => ({ t: p.t, x: p.x.map((x) => x[axis]) })) : [],
      names[0],
    );
  }
  dirty.overlay = false;
  dirty.charts = false;
  dirty.gpu = false;
}

window.addEventListener('resize', () => requestDraw({ overlay: true, charts: true }));

// ---------------------------------------------------------------------------------------
// WebGPU

async function initGpu(): Promise<void> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    hook.webgpu = 'unavailable';
    showGpuMessage(
      'This browser does not support WebGPU (navigator.gpu is missing), so nothing can be sampled here. ' +
        'Use a browser with WebGPU (Chrome or Edge 113 or later, Safari 26, Firefox 141 on Windows), on an https:// ' +
        'or http://localhost page. The exact densities below are still drawn; the command line ' +
        '(npx guidance-sampler run SPEC.json) samples on the CPU.',
    );
    return;
  }
  try {
    gpu = await acquireGpu(browserPlatform, {
      onError: (e) => {
        hook.error = e.message;
        showGpuMessage(`WebGPU reported an error: ${e.message}`);
      },
    });
  } catch (e) {
    hook.webgpu = 'unavailable';
    const message = (e as Error).message;
    showGpuMessage(
      `WebGPU is present but gave no usable GPU: ${message}. The browser may have WebGPU turned off or the GPU ` +
        'blocklisted (see chrome://gpu); the exact densities are still drawn.',
    );
    return;
  }
  hook.webgpu = 'ok';
  hook.adapter = gpu.adapterInfo.label;
  $('adapter').textContent = `WebGPU adapter: ${gpu.adapterInfo.label.replace(/^browser: /, '')}`;
  if (gpu.adapterInfo.isFallback) budget = 2 ** 22;
  else budget = 2 ** 25;
  try {
    gpuPlot = new GpuPlot(gpu, gpuCanvas);
  } catch (e) {
    gpuPlot = null;
    showGpuMessage(
      `WebGPU computes here but cannot draw to the page (${(e as Error).message}); runs still report their figures.`,
      false,
    );
  }
  gpu.lost.then((info) => {
    if (info.reason !== 'destroyed') {
      hook.webgpu = 'unavailable';
      showGpuMessage(`The GPU device was lost (${info.message || info.reason}); reload the page to start again.`);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Start

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  controls.init(params);
  hook.status = 'idle';
  await initGpu();
  requestDraw({ overlay: true, charts: true });
  if (params.get('autorun') !== '0' && spec && gpu) await startRun();
}

void main().catch((e: unknown) => {
  hook.status = 'error';
  hook.error = (e as Error).message;
  showGpuMessage(`The page failed to start: ${(e as Error).message}`);
});
