// 2-D canvas drawing of the main plot's overlay (axes, exact densities as curves or contours,
// sample paths in the plane, legend, the heatmap's colour bar) above the WebGPU layer. The
// overlay must line up pixel for pixel with the WebGPU layer under it, which a chart library
// does not do; the time charts use uPlot (web/charts.ts). The particles themselves are drawn
// by the GPU (web/gpu-plot.ts).
import type { Densities, PlotGeometry } from './densities.ts';
import type { PlotRect } from './gpu-plot.ts';
import { viridis } from './colormap.ts';

export interface Size {
  width: number;
  height: number;
}

/** Sizes the canvas's backing store to its CSS size x devicePixelRatio; returns the CSS size. */
export function fitCanvas(canvas: HTMLCanvasElement): Size {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  const w = Math.round(width * dpr);
  const h = Math.round(height * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  return { width, height };
}

/** A 2-D context drawing in CSS pixels. */
export function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2-D canvas context');
  const dpr = canvas.width / Math.max(1, canvas.clientWidth);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

export const MARGIN = { left: 56, right: 16, top: 14, bottom: 40 };

/**
 * The plot area inside the margins. With `aspect` (data width / data height, for a 2-D plot)
 * the area is narrowed or shortened, and centred, so that both axes have the same scale.
 */
export function plotRect(size: Size, aspect?: number, top = MARGIN.top, right = MARGIN.right): PlotRect {
  let width = Math.max(10, size.width - MARGIN.left - right);
  let height = Math.max(10, size.height - top - MARGIN.bottom);
  let x = MARGIN.left;
  let y = top;
  if (aspect && aspect > 0) {
    if (width / height > aspect) {
      const w = height * aspect;
      x += (width - w) / 2;
      width = w;
    } else {
      const h = width / aspect;
      y += (height - h) / 2;
      height = h;
    }
  }
  return { x, y, width, height };
}

/** Room on the right of a 2-D plot for its colour bar. */
export const COLOUR_BAR_MARGIN = 96;

/** The main plot's area: 2-D plots keep equal scales and leave room for the colour bar. */
export function mainPlotRect(size: Size, g: PlotGeometry | null): PlotRect {
  const twoD = g !== null && g.axes.length > 1;
  return plotRect(size, g ? geometryAspect(g) : undefined, MARGIN.top, twoD ? COLOUR_BAR_MARGIN : MARGIN.right);
}

/** The data aspect ratio of a 2-D geometry (undefined for 1-D). */
export function geometryAspect(g: PlotGeometry): number | undefined {
  return g.axes.length > 1 ? (g.high[0] - g.low[0]) / (g.high[1] - g.low[1]) : undefined;
}

/** About n round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

const COLORS = {
  axis: '#333',
  grid: 'rgba(0,0,0,0.08)',
  conditional: '#111',
  tilted: '#e8590c',
  unconditional: '#868e96',
  negative: '#7048e8',
  contourConditional: '#ffffff',
  contourUnconditional: '#adb5bd',
  contourNegative: '#b197fc',
  contourTilted: '#ff922b',
  series: ['#1c7ed6', '#d6336c'],
  paths: ['#1c7ed6', '#2f9e44', '#e8590c', '#ae3ec9', '#f59f00', '#0ca678', '#d6336c', '#495057'],
};

interface Scale {
  lo: number;
  hi: number;
  /** Pixel of lo and of hi. */
  p0: number;
  p1: number;
  log?: boolean;
}

function map(s: Scale, v: number): number {
  const f = s.log ? (Math.log(v) - Math.log(s.lo)) / (Math.log(s.hi) - Math.log(s.lo)) : (v - s.lo) / (s.hi - s.lo);
  return s.p0 + f * (s.p1 - s.p0);
}

function drawAxes(
  ctx: CanvasRenderingContext2D,
  rect: PlotRect,
  x: Scale,
  y: Scale,
  xLabel: string,
  yLabel: string,
  xTicks: number[],
  yTicks: number[],
  grid: boolean,
): void {
  ctx.save();
  ctx.strokeStyle = COLORS.axis;
  ctx.fillStyle = COLORS.axis;
  ctx.lineWidth = 1;
  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeRect(rect.x + 0.5, rect.y + 0.5, rect.width - 1, rect.height - 1);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const v of xTicks) {
    const px = map(x, v);
    if (px < rect.x - 1 || px > rect.x + rect.width + 1) continue;
    ctx.beginPath();
    ctx.moveTo(px, rect.y + rect.height);
    ctx.lineTo(px, rect.y + rect.height + 4);
    ctx.stroke();
    ctx.fillText(formatTick(v), px, rect.y + rect.height + 6);
    if (grid) {
      ctx.save();
      ctx.strokeStyle = COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(px, rect.y);
      ctx.lineTo(px, rect.y + rect.height);
      ctx.stroke();
      ctx.restore();
    }
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of yTicks) {
    const py = map(y, v);
    if (py < rect.y - 1 || py > rect.y + rect.height + 1) continue;
    ctx.beginPath();
    ctx.moveTo(rect.x - 4, py);
    ctx.lineTo(rect.x, py);
    ctx.stroke();
    ctx.fillText(formatTick(v), rect.x - 6, py);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText(xLabel, rect.x + rect.width / 2, rect.y + rect.height + 36);
  ctx.save();
  ctx.translate(Math.max(12, rect.x - 44), rect.y + rect.height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'middle';
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  ctx.restore();
}

/** Paints everything outside the plot area (the WebGPU layer shows through the plot area). */
function paintMargins(ctx: CanvasRenderingContext2D, size: Size, rect: PlotRect): void {
  ctx.clearRect(0, 0, size.width, size.height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, size.width, rect.y);
  ctx.fillRect(0, rect.y + rect.height, size.width, size.height - rect.y - rect.height);
  ctx.fillRect(0, rect.y, rect.x, rect.height);
  ctx.fillRect(rect.x + rect.width, rect.y, size.width - rect.x - rect.width, rect.height);
}

function legend(
  ctx: CanvasRenderingContext2D,
  rect: PlotRect,
  entries: { label: string; color: string; dash?: number[]; width?: number }[],
  dark: boolean,
  corner: 'right' | 'left' = 'right',
): void {
  if (entries.length === 0) return;
  ctx.save();
  ctx.font = '11px system-ui, sans-serif';
  const w = Math.max(...entries.map((e) => ctx.measureText(e.label).width)) + 40;
  const h = entries.length * 16 + 8;
  const x0 = corner === 'right' ? rect.x + rect.width - w - 8 : rect.x + 8;
  const y0 = rect.y + 8;
  ctx.fillStyle = dark ? 'rgba(20,20,30,0.75)' : 'rgba(255,255,255,0.85)';
  ctx.fillRect(x0, y0, w, h);
  entries.forEach((e, i) => {
    const y = y0 + 12 + i * 16;
    ctx.strokeStyle = e.color;
    ctx.lineWidth = e.width ?? 2;
    ctx.setLineDash(e.dash ?? []);
    ctx.beginPath();
    ctx.moveTo(x0 + 6, y);
    ctx.lineTo(x0 + 28, y);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = dark ? '#eee' : '#222';
    ctx.textBaseline = 'middle';
    ctx.fillText(e.label, x0 + 34, y);
  });
  ctx.restore();
}

export interface MainView {
  geometry: PlotGeometry;
  densities: Densities | null;
  /** Top of the density axis (1-D) or the density of full colour (2-D). */
  topDensity: number;
  showExact: boolean;
  /** Sample paths in the plane (2-D): each a list of points [x0, x1]. */
  paths: number[][][];
  showPaths: boolean;
  /** The target class's name (drawn as canvas text, never as HTML). */
  target: string;
}

/** The main plot's overlay: margins, axes, exact densities, legend, paths. */
export function drawMainOverlay(canvas: HTMLCanvasElement, view: MainView): PlotRect {
  return drawMainOverlayOn(context2d(canvas), fitCanvas(canvas), view);
}

/**
 * The same overlay on any 2-D context in CSS pixels: the page's canvas, or the SVG context
 * that the figure export records it on (web/export-svg.ts).
 */
export function drawMainOverlayOn(ctx: CanvasRenderingContext2D, size: Size, view: MainView): PlotRect {
  const g = view.geometry;
  const rect = mainPlotRect(size, g);
  paintMargins(ctx, size, rect);
  const c = `c = ${view.target.length > 24 ? `${view.target.slice(0, 23)}…` : view.target}`;
  const x: Scale = { lo: g.low[0], hi: g.high[0], p0: rect.x, p1: rect.x + rect.width };
  const axisName = (k: number) => (g.dim === 1 ? 'x' : `x[${g.axes[k]}]`);
  const d = view.densities;
  if (g.axes.length === 1) {
    const y: Scale = { lo: 0, hi: view.topDensity, p0: rect.y + rect.height, p1: rect.y };
    drawAxes(
      ctx,
      rect,
      x,
      y,
      axisName(0),
      g.dim > 1 ? 'marginal density' : 'density',
      niceTicks(x.lo, x.hi),
      niceTicks(0, view.topDensity, 5),
      false,
    );
    const entries: { label: string; color: string; dash?: number[]; width?: number }[] = [];
    if (d && view.showExact) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(rect.x, rect.y, rect.width, rect.height);
      ctx.clip();
      const n = d.grid.points[0];
      const curve = (values: Float64Array, color: string, dash: number[], width: number) => {
        ctx.strokeStyle = color;
        ctx.lineWidth = width;
        ctx.setLineDash(dash);
        ctx.beginPath();
        for (let j = 0; j < n; j++) {
          const px = x.p0 + ((j + 0.5) / n) * (x.p1 - x.p0);
          const py = map(y, values[j]);
          if (j === 0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        }
        ctx.stroke();
        ctx.setLineDash([]);
      };
      curve(d.unconditional, COLORS.unconditional, [2, 3], 1.5);
      entries.push({ label: 'p(x), all classes (exact)', color: COLORS.unconditional, dash: [2, 3], width: 1.5 });
      if (d.negative && d.negative !== d.unconditional && !sameValues(d.negative, d.unconditional)) {
        curve(d.negative, COLORS.negative, [1, 2], 1.5);
        entries.push({ label: d.negativeLabel, color: COLORS.negative, dash: [1, 2], width: 1.5 });
      }
      curve(d.conditional, COLORS.conditional, [], 2);
      entries.push({ label: `p(x | c), the target (exact), ${c}`, color: COLORS.conditional });
      if (d.tilted && d.tilted !== d.conditional) {
        curve(d.tilted, COLORS.tilted, [6, 4], 2);
        entries.push({ label: d.tiltLabel, color: COLORS.tilted, dash: [6, 4] });
      }
      ctx.restore();
    }
    entries.push({ label: 'histogram of the samples', color: '#5c8fd9', width: 8 });
    legend(ctx, rect, entries, false);
    return rect;
  }

  const y: Scale = { lo: g.low[1], hi: g.high[1], p0: rect.y + rect.height, p1: rect.y };
  drawAxes(ctx, rect, x, y, axisName(0), axisName(1), niceTicks(x.lo, x.hi), niceTicks(y.lo, y.hi), false);
  const entries: { label: string; color: string; dash?: number[]; width?: number }[] = [];
  ctx.save();
  ctx.beginPath();
  ctx.rect(rect.x, rect.y, rect.width, rect.height);
  ctx.clip();
  if (d && view.showExact) {
    const [n0, n1] = d.grid.points;
    const toPx = (a: number, b: number): [number, number] => [
      x.p0 + ((a + 0.5) / n0) * (x.p1 - x.p0),
      y.p0 + ((b + 0.5) / n1) * (y.p1 - y.p0),
    ];
    const contour = (values: Float64Array, color: string, dash: number[]) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.25;
      ctx.setLineDash(dash);
      for (const level of hdrLevels(values, [0.5, 0.9, 0.99])) drawContour(ctx, values, n0, n1, level, toPx);
      ctx.setLineDash([]);
    };
    contour(d.unconditional, COLORS.contourUnconditional, [1, 3]);
    entries.push({
      label: 'p(x), all classes: 50/90/99% regions',
      color: COLORS.contourUnconditional,
      dash: [1, 3],
      width: 1.25,
    });
    if (d.negative && !sameValues(d.negative, d.unconditional)) {
      contour(d.negative, COLORS.contourNegative, [2, 2]);
      entries.push({ label: d.negativeLabel, color: COLORS.contourNegative, dash: [2, 2], width: 1.25 });
    }
    contour(d.conditional, COLORS.contourConditional, []);
    entries.push({ label: `p(x | c), ${c}: 50/90/99% regions`, color: COLORS.contourConditional, width: 1.25 });
    if (d.tilted && d.tilted !== d.conditional) {
      contour(d.tilted, COLORS.contourTilted, [5, 3]);
      entries.push({ label: d.tiltLabel, color: COLORS.contourTilted, dash: [5, 3], width: 1.25 });
    }
  }
  if (view.showPaths && view.paths.length > 0) {
    ctx.lineWidth = 1.5;
    view.paths.forEach((path, i) => {
      ctx.strokeStyle = COLORS.paths[i % COLORS.paths.length];
      ctx.beginPath();
      path.forEach(([a, b], j) => {
        const px = map(x, a);
        const py = map(y, b);
        if (j === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      });
      ctx.stroke();
      const last = path[path.length - 1];
      if (last) {
        ctx.fillStyle = ctx.strokeStyle;
        ctx.beginPath();
        ctx.arc(map(x, last[0]), map(y, last[1]), 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    });
    entries.push({ label: 'sample paths', color: COLORS.paths[0], width: 1.5 });
  }
  ctx.restore();
  legend(ctx, rect, entries, true);
  colourBar(ctx, rect, view.topDensity);
  return rect;
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1e-12 * (Math.abs(a[i]) + 1e-300)) return false;
  return true;
}

/**
 * The heatmap's colour bar, right of the plot: colour viridis(sqrt(density / top)), as
 * shaders/render-heatmap.wgsl draws it; labelled in density of samples per unit area.
 */
function colourBar(ctx: CanvasRenderingContext2D, rect: PlotRect, top: number): void {
  const x = rect.x + rect.width + 12;
  const w = 12;
  const h = rect.height;
  for (let i = 0; i < h; i++) {
    const f = 1 - i / h;
    const [r, g, b] = viridis(f);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, rect.y + i, w, 1.5);
  }
  ctx.save();
  ctx.strokeStyle = COLORS.axis;
  ctx.strokeRect(x + 0.5, rect.y + 0.5, w, h - 1);
  ctx.fillStyle = COLORS.axis;
  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  // Density v sits at sqrt(v / top) of the bar's height.
  for (const f of [0, 0.1, 0.25, 0.5, 1]) {
    const py = rect.y + h - Math.sqrt(f) * h;
    ctx.fillText(formatTick(f * top), x + w + 4, py);
  }
  ctx.translate(x + w + 62, rect.y + h / 2);
  ctx.rotate(Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('sample density (sqrt scale)', 0, 0);
  ctx.restore();
}

/** Density levels whose upper sets hold the given masses. */
export function hdrLevels(values: Float64Array, masses: number[]): number[] {
  const sorted = Float64Array.from(values).sort().reverse();
  let total = 0;
  for (const v of sorted) total += v;
  const out: number[] = [];
  for (const m of masses) {
    let acc = 0;
    let level = sorted[sorted.length - 1];
    for (const v of sorted) {
      acc += v;
      if (acc >= m * total) {
        level = v;
        break;
      }
    }
    if (level > 0) out.push(level);
  }
  return out;
}

/** Marching squares: the contour of `values` (grid n0 x n1, index a + n0 b) at `level`. */
function drawContour(
  ctx: CanvasRenderingContext2D,
  values: Float64Array,
  n0: number,
  n1: number,
  level: number,
  toPx: (a: number, b: number) => [number, number],
): void {
  ctx.beginPath();
  const v = (a: number, b: number) => values[a + n0 * b];
  for (let b = 0; b < n1 - 1; b++) {
    for (let a = 0; a < n0 - 1; a++) {
      const c00 = v(a, b);
      const c10 = v(a + 1, b);
      const c01 = v(a, b + 1);
      const c11 = v(a + 1, b + 1);
      const code = (c00 > level ? 1 : 0) | (c10 > level ? 2 : 0) | (c11 > level ? 4 : 0) | (c01 > level ? 8 : 0);
      if (code === 0 || code === 15) continue;
      // Crossing points on the four edges (bottom, right, top, left), in grid units.
      const pts: [number, number][] = [];
      const cross = (p: number, q: number) => (level - p) / (q - p);
      if (c00 > level !== c10 > level) pts.push([a + cross(c00, c10), b]);
      if (c10 > level !== c11 > level) pts.push([a + 1, b + cross(c10, c11)]);
      if (c01 > level !== c11 > level) pts.push([a + cross(c01, c11), b + 1]);
      if (c00 > level !== c01 > level) pts.push([a, b + cross(c00, c01)]);
      for (let i = 0; i + 1 < pts.length; i += 2) {
        const [x0, y0] = toPx(pts[i][0], pts[i][1]);
        const [x1, y1] = toPx(pts[i + 1][0], pts[i + 1][1]);
        ctx.moveTo(x0, y0);
        ctx.lineTo(x1, y1);
      }
    }
  }
  ctx.stroke();
}

export interface TracePoint {
  t: number;
  mean: number[];
  sd: number[];
}
