// The main plot's density layer without WebGPU: the CPU fallback's bin counts (a few thousand
// particles, web/cpu-worker.ts) on a 2-D canvas, drawn as the GPU layer draws them
// (web/gpu-plot.ts): 1-D bars, 2-D heatmap of viridis(sqrt(density / top)).
import type { HistogramCounts } from '../src/gpu/histogram.ts';
import { viridis } from './colormap.ts';
import type { PlotGeometry } from './densities.ts';
import { BAR_COLOR, PLOT_BACKGROUND_1D, PLOT_BACKGROUND_2D, type PlotRect } from './gpu-plot.ts';
import { context2d, fitCanvas } from './plots.ts';

const css = (c: readonly number[]) =>
  `rgb(${c
    .slice(0, 3)
    .map((v) => Math.round(255 * v))
    .join(',')})`;

export function drawCpuLayer(
  canvas: HTMLCanvasElement,
  rect: PlotRect,
  g: PlotGeometry,
  h: HistogramCounts | null,
  binSize: number,
  top: number,
): void {
  const size = fitCanvas(canvas);
  const ctx = context2d(canvas);
  const dims = g.axes.length;
  ctx.fillStyle = css(dims === 1 ? PLOT_BACKGROUND_1D : PLOT_BACKGROUND_2D);
  ctx.fillRect(0, 0, size.width, size.height);
  if (!h || h.total === 0 || !(top > 0)) return;
  const scale = 1 / (h.total * binSize * top);
  if (dims === 1) {
    ctx.fillStyle = css(BAR_COLOR);
    const n = g.bins[0];
    for (let i = 0; i < n; i++) {
      const height = Math.min(1, h.counts[i] * scale) * rect.height;
      if (height <= 0) continue;
      ctx.fillRect(rect.x + (i / n) * rect.width, rect.y + rect.height - height, rect.width / n + 0.5, height);
    }
    return;
  }
  const [n0, n1] = g.bins;
  const image = ctx.createImageData(n0, n1);
  for (let b = 0; b < n1; b++) {
    for (let a = 0; a < n0; a++) {
      const c = h.counts[a + n0 * b];
      const o = 4 * (a + n0 * (n1 - 1 - b)); // the second axis grows upwards
      const [r, gg, bb] =
        c === 0 ? PLOT_BACKGROUND_2D.map((v) => Math.round(255 * v)) : viridis(Math.sqrt(Math.min(1, c * scale)));
      image.data.set([r, gg, bb, 255], o);
    }
  }
  // Scaled up without smoothing: each bin a block, as the GPU layer draws it.
  const off = new OffscreenCanvas(n0, n1);
  off.getContext('2d')!.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, rect.x, rect.y, rect.width, rect.height);
}
