// The explorer page: wires the controls (web/controls.ts), the exact densities
// (web/densities.ts), the run (web/run.ts) and the plots (web/gpu-plot.ts, web/plots.ts).
// Test hook: window.__explorer holds the page's status and its figures (test/browser/explorer.test.ts).
import { acquireGpu, type GpuContext } from '../src/gpu/device.ts';
import { buildModel, classGroup } from '../src/model/mixture.ts';
import { lawMoments, projectedLaw } from '../src/targets/law1d.ts';
import { browserPlatform } from '../src/platform/browser.ts';
import { priorScale, processAt, startTime } from '../src/processes/process.ts';
import { parseSpec } from '../src/experiment/parse.ts';
import { timeGrid } from '../src/solvers/grid.ts';
import { SpecError, type SpecIssue } from '../src/experiment/errors.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import type { HistogramCounts } from '../src/gpu/histogram.ts';
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
import { figureSvg } from './export-svg.ts';
import { drawMainOverlay, fitCanvas, type MainView, mainPlotRect, type TracePoint } from './plots.ts';
import { TimeCharts } from './charts.ts';
import {
  Cancelled,
  ExplorerRun,
  initialPaths,
  PATHS,
  type DispatchRecord,
  type RunProgress,
  type StageInfo,
} from './run.ts';
import type { CpuMessage, CpuRequest } from './cpu-worker.ts';
import { drawCpuLayer } from './cpu-plot.ts';
import { writeUrlState } from './url-state.ts';
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
  plan: { chunkParticles: number; stepsPerDispatch: number; dispatches: number; batches: number };
  backend: string;
}

/** What the main plot shows now. */
export interface PictureInfo {
  kind: 'preview' | 'full';
  particles: number;
  steps: number;
  solver: string;
}

/** performance.now() times of the current run (the benchmark reads them). */
export interface RunTiming {
  runStartedAt: number;
  firstPictureAt: number | null;
  stopRequestedAt: number | null;
  stoppedAt: number | null;
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
  /** The results on screen are for another spec than the one in the editor. */
  stale: boolean;
  picture: (PictureInfo & { binned: number }) | null;
  timing: RunTiming | null;
  /** GPU dispatches of the current run: size and measured busy time. */
  dispatches: DispatchRecord[];
  /** Frames drawn so far. */
  draws: number;
  /** The current figure as SVG (what "Export figure (SVG)" downloads). */
  exportSvg?: () => string | null;
}

const hook: ExplorerHook = {
  status: 'starting',
  runId: 0,
  summary: null,
  error: null,
  adapter: null,
  webgpu: 'pending',
  stale: false,
  picture: null,
  timing: null,
  dispatches: [],
  draws: 0,
};
(window as unknown as { __explorer: ExplorerHook }).__explorer = hook;

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page element #${id} missing`);
  return e as T;
};

const overlayCanvas = $<HTMLCanvasElement>('plot-overlay');
const gpuCanvas = $<HTMLCanvasElement>('plot-gpu');
const charts = new TimeCharts($('chart-moments'), $('chart-paths'));
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

let current: { run: { cancel(): void }; done: Promise<void> } | null = null;
let shown: ExplorerRun | null = null;
let binned = 0;
let observedTop = 0;
let trace: TracePoint[] = [];
/** Per path: times and the particle's coordinates (all dims) at each. */
let paths: { t: number[]; x: number[][] }[] = [];
let figures: Figures | null = null;
let lastSummary: Moments | null = null;
/** The raw spec (as JSON text) of the run whose results are on screen. */
let shownRaw = '';
/** The GPU's rate measured by the last run (component evaluations per second), 0 before any. */
let gpuRate = 0;
/** What the main plot shows (stage null: the CPU fallback's counts). */
let picture: (PictureInfo & { stage: StageInfo | null }) | null = null;

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

const viewSection = $<HTMLElement>('results');
const staleNote = $<HTMLParagraphElement>('stale-note');

/** Marks the results on screen as not those of the spec in the editor (or clears the mark). */
function setStale(stale: boolean): void {
  // Results exist only after a run started; before that there is nothing to mark.
  const s = stale && hook.runId > 0;
  hook.stale = s;
  viewSection.classList.toggle('stale', s);
  staleNote.hidden = !s;
}

// ---------------------------------------------------------------------------------------
// Spec -> geometry, exact densities

const controls = new Controls({
  onSpecChange: (raw, opts) => onSpecChange(raw, opts),
  onInvalid: (issues) => invalidate(issues),
  onRun: () => void startRun(),
  onStop: () => {
    if (!current) return;
    if (hook.timing) hook.timing.stopRequestedAt = performance.now();
    current.run.cancel();
  },
  onEdit: () => setStale(true),
  onDisplayChange: () => {
    writeUrlState(controls.rawSpec, controls.view);
    requestDraw({ overlay: true, charts: true, immediate: true });
  },
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
    writeUrlState(raw, controls.view);
  } catch (e) {
    invalidate(e instanceof SpecError ? e.issues : [{ path: '(spec)', message: (e as Error).message }]);
    return;
  }
  controls.setTimeDomain(
    spec.solver.tMin,
    startTime(spec.process),
    timeGrid(spec.solver.grid, startTime(spec.process), spec.solver.tMin, spec.solver.steps),
  );
  // Results on screen from another spec are stale until the next run's picture replaces them.
  if (JSON.stringify(raw) !== shownRaw) setStale(true);
  updateDensities(spec);
  requestDraw({ overlay: true, charts: true });
  if (opts.run) scheduleRun();
}

/** The spec cannot run: list its problems, stop any run, keep the last picture marked stale. */
function invalidate(issues: SpecIssue[]): void {
  spec = null;
  setStale(true);
  controls.showIssues(issues);
  hook.error = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
  current?.run.cancel();
  clearTimeout(runTimer);
  hook.status = 'invalid';
  setStatus('The spec is not valid: fix the fields listed above to run.');
  requestDraw({ overlay: true, charts: true });
}

function updateDensities(s: ExperimentSpec): void {
  const key = JSON.stringify([
    s.dim,
    s.classes,
    s.target,
    s.process,
    s.solver.tMin,
    s.guidance.kind === 'cfg' ? s.guidance.negative : s.guidance.kind,
  ]);
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
  if (figures && lastCounts && lastCounts.counts.length === dens.binConditional.length)
    figures = computeFigures(lastCounts, dens, hdr);
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
let runWanted = false;

async function startRun(): Promise<void> {
  clearTimeout(runTimer);
  const generation = ++startGeneration;
  if (current) {
    current.run.cancel();
    await current.done;
  }
  if (generation !== startGeneration) return; // a later start supersedes this one
  if (!spec || !geometry || !dens) return;
  if (!gpu && hook.webgpu === 'pending') {
    runWanted = true; // Run before the GPU is ready: start once it is
    return;
  }
  const s = spec;
  const g = geometry;
  const runId = ++hook.runId;
  hook.status = 'running';
  hook.summary = null;
  hook.timing = { runStartedAt: performance.now(), firstPictureAt: null, stoppedAt: null, stopRequestedAt: null };
  hook.dispatches = [];
  binned = 0;
  observedTop = 0;
  figures = null;
  lastCounts = null;
  setStale(false);
  shownRaw = JSON.stringify(controls.rawSpec);
  const t0 = startTime(s.process);
  const start = initialPaths(s, Math.min(PATHS, s.particles));
  paths = Array.from({ length: Math.min(PATHS, s.particles) }, (_, p) => ({
    t: [t0],
    x: [Array.from(start.subarray(p * s.dim, (p + 1) * s.dim))],
  }));
  const prior = priorScale(s.process);
  trace = [{ t: t0, mean: g.axes.map(() => 0), sd: g.axes.map(() => prior) }];
  renderFigures(null, null);
  if (!gpu) {
    await startCpuRun(s, g, runId);
    return;
  }
  const run = new ExplorerRun(gpu, s, g);
  // The previous run's picture is no longer drawn.
  const old = shown;
  shown = run;
  picture = null;
  gpuPlot?.setSource(null, g.bins);
  old?.destroy();
  requestDraw({ overlay: true, charts: true });

  let progress: RunProgress | null = null;
  let fullStage: StageInfo | null = null;
  const done = (async () => {
    try {
      const result = await run.run(
        {
          onStage: (stage) => {
            if (stage.kind === 'full') fullStage = stage;
          },
          onTrace: (t, m, p) => {
            if (shown !== run) return;
            trace.push({ t, mean: m.mean, sd: m.variance.map(Math.sqrt) });
            for (let i = 0; i < paths.length; i++) {
              paths[i].t.push(t);
              paths[i].x.push(Array.from(p.subarray(i * s.dim, (i + 1) * s.dim)));
            }
            requestDraw({ charts: true, overlay: s.dim > 1 });
          },
          onBinned: (stage, n) => {
            if (shown !== run) return;
            // The preview stays on screen until the spec's own first batch is binned.
            if (picture?.stage !== stage) {
              picture = {
                stage,
                kind: stage.kind,
                particles: stage.particles,
                steps: stage.steps,
                solver: stage.solver,
              };
              gpuPlot?.setSource(stage.histogram.counts, g.bins);
            }
            binned = n;
            requestDraw({ gpu: true, caption: true });
          },
          onCounts: (stage, c, summary) => {
            // A spec change with a new plot geometry stops this run; its last counts do not fit.
            if (shown !== run || picture?.stage !== stage || !dens || c.counts.length !== dens.binConditional.length)
              return;
            lastCounts = c;
            lastSummary = summary;
            figures = computeFigures(c, dens!, hdr!);
            observedTop = observedTopDensity(c);
            renderFigures(summary, progress);
            requestDraw({ overlay: true });
          },
          onProgress: (p) => {
            progress = p;
            setStatus(progressText(p));
          },
          onDispatch: (d) => {
            if (hook.dispatches.length < 5000) hook.dispatches.push(d);
          },
        },
        gpuRate,
        expectedMean(dens!),
      );
      if (result.workRate > 0) gpuRate = result.workRate;
      if (hook.runId !== runId) return;
      lastCounts = result.counts;
      if (dens && hdr && result.counts && result.counts.counts.length === dens.binConditional.length) {
        figures = computeFigures(result.counts, dens, hdr);
      }
      void fullStage;
      finish(
        s,
        result.summary,
        {
          elapsedSeconds: result.elapsedSeconds,
          particleStepsPerSecond: result.particleStepsPerSecond,
          plan: result.plan,
        },
        progress,
      );
    } catch (e) {
      if (e instanceof Cancelled) {
        stopped(runId);
        return;
      }
      failed(e);
    } finally {
      requestDraw({ overlay: true, charts: true });
    }
  })();
  current = { run, done };
  await done;
  if (current?.run === run) current = null;
}

/** The run ended: the figures, the summary for the test hook, the status line. */
function finish(
  s: ExperimentSpec,
  m: Moments | null,
  result: { elapsedSeconds: number; particleStepsPerSecond: number; plan: PageSummary['plan'] },
  progress: RunProgress | null,
  backend = 'webgpu',
): void {
  hook.summary = {
    particles: picture?.particles ?? s.particles,
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
    backend,
  };
  renderFigures(m, progress, result);
  const n = picture?.particles ?? s.particles;
  setStatus(
    `Done: ${n.toLocaleString('en')} particles x ${s.solver.steps} ${s.solver.kind} steps in ` +
      `${result.elapsedSeconds.toFixed(2)} s (${fmtRate(result.particleStepsPerSecond)} particle-steps/s, frames included` +
      `${backend === 'cpu' ? ', CPU in a Web Worker' : ''}). ${specNote}`,
  );
  hook.status = 'done';
}

function stopped(runId: number): void {
  // Stopped by the user (a newer run or an invalid spec say so themselves).
  if (hook.runId === runId && hook.status === 'running') {
    hook.status = 'cancelled';
    if (hook.timing) hook.timing.stoppedAt = performance.now();
    setStatus('Stopped. The picture shows what was binned before Stop.');
  }
}

function failed(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  hook.status = 'error';
  hook.error = message;
  setStatus('The run failed.');
  showGpuMessage(`The run failed: ${message}`);
}

// ---------------------------------------------------------------------------------------
// Without WebGPU: the CPU reference in a Web Worker, at a reduced N

/** Particles of the CPU fallback at most: chosen so that a run takes seconds, not minutes. */
export const CPU_PARTICLES = 4096;
let cpuWorker: Worker | null = null;
let cpuCounts: HistogramCounts | null = null;

async function startCpuRun(s: ExperimentSpec, g: PlotGeometry, runId: number): Promise<void> {
  cpuWorker?.terminate();
  shown = null;
  const particles = Math.min(s.particles, CPU_PARTICLES);
  picture = null;
  cpuCounts = null;
  const stage = { kind: 'full' as const, particles, steps: s.solver.steps, solver: s.solver.kind };
  const worker = new Worker(new URL('./cpu-worker.ts', import.meta.url), { type: 'module' });
  cpuWorker = worker;
  requestDraw({ overlay: true, charts: true });
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    const end = () => {
      worker.terminate();
      if (cpuWorker === worker) cpuWorker = null;
      resolve();
    };
    worker.onmessage = (e: MessageEvent<CpuMessage>) => {
      if (hook.runId !== runId) return end();
      const m = e.data;
      if (m.error) {
        failed(new Error(m.error));
        return end();
      }
      picture = { stage: null, ...stage };
      cpuCounts = m.counts;
      binned = m.counts.total;
      lastCounts = m.counts;
      lastSummary = m.moments;
      if (dens && hdr && m.counts.counts.length === dens.binConditional.length)
        figures = computeFigures(m.counts, dens, hdr);
      observedTop = observedTopDensity(m.counts);
      const progress: RunProgress = {
        stage: 'full',
        particlesDone: m.counts.total,
        particles,
        stepsDone: s.solver.steps,
        steps: s.solver.steps,
        elapsedSeconds: m.elapsedSeconds,
        plan: { chunkParticles: 1024, stepsPerDispatch: s.solver.steps },
      };
      renderFigures(m.moments, progress);
      setStatus(progressText(progress));
      requestDraw({ overlay: true, gpu: true, caption: true });
      if (m.done) {
        const seconds = (performance.now() - started) / 1000;
        finish(
          s,
          m.moments,
          {
            elapsedSeconds: seconds,
            particleStepsPerSecond: (particles * s.solver.steps) / seconds,
            plan: { chunkParticles: 1024, stepsPerDispatch: s.solver.steps, dispatches: 0, batches: 1 },
          },
          progress,
          'cpu',
        );
        end();
      }
    };
    worker.onerror = (e) => {
      failed(new Error(`the CPU worker failed: ${e.message}`));
      end();
    };
    const request: CpuRequest = { raw: JSON.parse(JSON.stringify(controls.rawSpec)), particles, geometry: g };
    worker.postMessage(request);
  });
  const run = {
    cancel: () => {
      worker.terminate();
      if (cpuWorker === worker) cpuWorker = null;
      stopped(runId);
      resolveEarly();
    },
  };
  let resolveEarly: () => void = () => {};
  const early = new Promise<void>((r) => (resolveEarly = r));
  const whole = Promise.race([done, early]);
  current = { run, done: whole };
  await whole;
  if (current?.run === run) current = null;
}

function progressText(p: RunProgress): string {
  const pct =
    (100 *
      (p.particlesDone + (p.stepsDone / p.steps) * Math.min(p.plan.chunkParticles, p.particles - p.particlesDone))) /
    p.particles;
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
// Figures table, and the line that says what the picture holds

const caption = $<HTMLParagraphElement>('picture-caption');
function renderCaption(): void {
  const text = (() => {
    if (!spec && !picture) return 'No picture: the spec is not valid.';
    if (!picture)
      return hook.status === 'running'
        ? 'Sampling… the first picture comes after the first batch of particles.'
        : 'No samples yet: press Run.';
    const n = `${binned.toLocaleString('en')} of ${picture.particles.toLocaleString('en')} particles`;
    const steps = `${picture.steps} ${picture.solver} steps`;
    if (picture.kind === 'preview') {
      return `Preview: ${n} after ${steps}, target c = ${spec?.target ?? '?'} (a coarse grid; the spec asks for ${spec?.solver.steps ?? '?'} steps and ${(spec?.particles ?? 0).toLocaleString('en')} particles, which follow).`;
    }
    const cpu = picture.stage === null ? ` (CPU reference in a Web Worker, at a reduced N: no WebGPU here)` : '';
    return `Showing ${n} after ${steps} on the spec's grid, target c = ${spec?.target ?? '?'}${cpu}.`;
  })();
  if (caption.textContent !== text) caption.textContent = text;
}

function renderFigures(
  m: Moments | null,
  p: RunProgress | null,
  result?: { elapsedSeconds: number; particleStepsPerSecond: number },
): void {
  const body = document.querySelector<HTMLTableSectionElement>('#figures tbody')!;
  const rows: [string, string, string, number | null][] = [];
  const pct = (v: number | null | undefined) =>
    v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(1)}%`;
  const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(4));
  const f = figures;
  const name = (k: number) => (geometry && geometry.dim > 1 ? `x[${geometry.axes[k]}]` : 'x');
  rows.push([
    'particles',
    'Particles binned',
    f ? `${f.particles.toLocaleString('en')} of ${(spec?.particles ?? 0).toLocaleString('en')}` : '—',
    f?.particles ?? null,
  ]);
  (geometry?.axes ?? []).forEach((_, k) => {
    rows.push([`mean${k}`, `Mean of ${name(k)}`, num(m?.mean[k]), m?.mean[k] ?? null]);
    rows.push([
      `sd${k}`,
      `Spread (sd) of ${name(k)}`,
      num(m ? Math.sqrt(m.variance[k]) : undefined),
      m ? Math.sqrt(m.variance[k]) : null,
    ]);
  });
  rows.push(['coverage', 'Coverage: PRD recall F8 against p(x | c)', num(f?.coverage), f?.coverage ?? null]);
  rows.push(['fidelity', 'Fidelity: PRD precision F1/8 against p(x | c)', num(f?.fidelity), f?.fidelity ?? null]);
  rows.push(['hdr99', 'Inside the 99% region of p(x | c)', pct(f?.hdr99), f?.hdr99 ?? null]);
  rows.push([
    'modes',
    'Modes of p(x | c) reached (≥ 10% of their mass)',
    f ? `${f.modesCovered} of ${f.modes}` : '—',
    f?.modesCovered ?? null,
  ]);
  rows.push(['tvConditional', 'Total variation to p(x | c), binned', num(f?.tvConditional), f?.tvConditional ?? null]);
  rows.push([
    'tvTilted',
    `Total variation to the ${dens?.tiltLabel ?? 'tilted law'}`,
    f?.tvTilted == null ? '—' : num(f.tvTilted),
    f?.tvTilted ?? null,
  ]);
  rows.push([
    'outside',
    'Outside the plot / non-finite',
    f ? `${pct(f.outside / Math.max(1, f.particles))} / ${f.nonFinite}` : '—',
    f ? f.outside : null,
  ]);
  if (result)
    rows.push([
      'rate',
      'Particle-steps per second (wall, frames included)',
      fmtRate(result.particleStepsPerSecond),
      result.particleStepsPerSecond,
    ]);
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
function requestDraw(parts: {
  overlay?: boolean;
  charts?: boolean;
  gpu?: boolean;
  caption?: boolean;
  immediate?: boolean;
}): void {
  dirty.overlay ||= Boolean(parts.overlay);
  dirty.charts ||= Boolean(parts.charts);
  // The overlay's scale (top density) is the GPU layer's too.
  dirty.gpu ||= Boolean(parts.gpu) || Boolean(parts.overlay);
  if (drawQueued) return;
  drawQueued = true;
  // A user's input draws at the next frame; streaming updates are throttled.
  const wait = parts.immediate ? 0 : Math.max(0, lastDraw + DRAW_INTERVAL_MS - performance.now());
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

function mainView(g: PlotGeometry): MainView {
  return {
    geometry: g,
    densities: spec ? dens : null,
    topDensity: topDensity(),
    showExact: controls.showExact,
    paths: g.axes.length > 1 ? paths.map((p) => p.x.map((x) => [x[g.axes[0]], x[g.axes[1]]])) : [],
    showPaths: controls.showPaths,
    target: spec?.target ?? '',
  };
}

function draw(): void {
  const size = fitCanvas(overlayCanvas);
  fitCanvas(gpuCanvas);
  const rect = mainPlotRect(size, geometry);
  // Where the plot area is, in CSS pixels of the canvases (tests crop screenshots to it).
  overlayCanvas.dataset.plotRect = JSON.stringify(rect);
  const moved =
    !lastRect ||
    rect.x !== lastRect.x ||
    rect.y !== lastRect.y ||
    rect.width !== lastRect.width ||
    rect.height !== lastRect.height;
  lastRect = rect;
  if (geometry && (dirty.overlay || moved)) {
    drawMainOverlay(overlayCanvas, mainView(geometry));
  }
  const binSize = geometry
    ? geometry.low.reduce((a, lo, k) => a * ((geometry!.high[k] - lo) / geometry!.bins[k]), 1)
    : 1;
  if (gpuPlot && geometry && (dirty.gpu || moved)) {
    gpuPlot.draw(rect, picture ? binned : 0, binSize, topDensity(), geometry.axes.length);
  } else if (hook.webgpu === 'unavailable' && geometry && (dirty.gpu || moved)) {
    // (Only once WebGPU is known to be missing: a 2-D context would take the canvas for good.)
    // No WebGPU: the CPU fallback's counts, drawn on a 2-D canvas.
    drawCpuLayer(gpuCanvas, rect, geometry, picture ? cpuCounts : null, binSize, topDensity());
  }
  if (picture && binned > 0 && hook.timing && hook.timing.firstPictureAt === null) {
    // The frame after this one: the picture has been presented.
    const timing = hook.timing;
    timing.firstPictureAt = -1;
    requestAnimationFrame(() => (timing.firstPictureAt = performance.now()));
  }
  hook.picture = picture
    ? { kind: picture.kind, particles: picture.particles, steps: picture.steps, solver: picture.solver, binned }
    : null;
  hook.draws++;
  renderCaption();
  if (dirty.charts && spec && geometry) {
    const names = geometry.axes.map((a) => (geometry!.dim > 1 ? `x[${a}]` : 'x'));
    charts.setTimeRange(spec.solver.tMin, startTime(spec.process));
    charts.drawMoments(trace, exactTrace, names);
    const axis = geometry.axes[0];
    charts.drawPaths(controls.showPaths ? paths.map((p) => ({ t: p.t, x: p.x.map((x) => x[axis]) })) : [], names[0]);
  }
  dirty.overlay = false;
  dirty.charts = false;
  dirty.gpu = false;
}

// ---------------------------------------------------------------------------------------
// Export: the figure as PNG (the density layer and the overlay composed), the spec as JSON

function download(name: string, blob: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

$('export-png').addEventListener('click', () => {
  // Redraw both layers now, then compose them in the same task (the WebGPU canvas still holds
  // this frame's texture).
  dirty.overlay = dirty.gpu = true;
  draw();
  const out = document.createElement('canvas');
  out.width = gpuCanvas.width;
  out.height = gpuCanvas.height;
  const ctx = out.getContext('2d')!;
  ctx.drawImage(gpuCanvas, 0, 0);
  ctx.drawImage(overlayCanvas, 0, 0);
  out.toBlob((b) => b && download('explorer-figure.png', b), 'image/png');
});
/** The figure as SVG text (null before there is a plot); the button and the tests use it. */
function exportSvg(): string | null {
  if (!geometry) return null;
  dirty.overlay = dirty.gpu = true;
  draw(); // the density layer must hold this frame when it is copied (as for the PNG)
  return figureSvg(
    fitCanvas(overlayCanvas),
    mainView(geometry),
    hook.webgpu === 'unavailable' || gpuPlot ? gpuCanvas : null,
  );
}
hook.exportSvg = exportSvg;
$('export-svg').addEventListener('click', () => {
  const text = exportSvg();
  if (text) download('explorer-figure.svg', new Blob([text], { type: 'image/svg+xml' }));
});
$('export-spec').addEventListener('click', () => {
  download('spec.json', new Blob([JSON.stringify(controls.rawSpec, null, 2) + '\n'], { type: 'application/json' }));
});
$('copy-link').addEventListener('click', () => {
  void navigator.clipboard?.writeText(location.href).then(
    () => setStatus('The link to this spec and view is copied.'),
    () => setStatus(`Copy this link: ${location.href}`),
  );
});

window.addEventListener('resize', () => requestDraw({ overlay: true, charts: true }));

// ---------------------------------------------------------------------------------------
// WebGPU

async function initGpu(): Promise<void> {
  const fallback = (why: string) => {
    hook.webgpu = 'unavailable';
    $('adapter').textContent = 'No WebGPU: the CPU reference samples instead';
    showGpuMessage(
      `No WebGPU here (${why}): the page samples on the CPU in a Web Worker, at most ${CPU_PARTICLES.toLocaleString('en')} particles per run.`,
      false,
    );
  };
  if (!('gpu' in navigator) || !navigator.gpu) {
    fallback('this browser has no navigator.gpu');
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
    fallback(`no usable adapter: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  hook.webgpu = 'ok';
  hook.adapter = gpu.adapterInfo.label;
  $('adapter').textContent = `WebGPU adapter: ${gpu.adapterInfo.label.replace(/^browser: /, '')}`;
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
  // (A spec from the URL may already be 'invalid'.)
  if (hook.status === 'starting') hook.status = 'idle';
  await initGpu();
  requestDraw({ overlay: true, charts: true });
  if ((params.get('autorun') !== '0' || runWanted) && spec) await startRun();
}

void main().catch((e: unknown) => {
  hook.status = 'error';
  hook.error = (e as Error).message;
  showGpuMessage(`The page failed to start: ${(e as Error).message}`);
});
