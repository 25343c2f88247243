// The two time charts under the main plot, drawn with uPlot (a small, well-kept line-chart
// library; the million-particle density layer stays on WebGPU, web/gpu-plot.ts):
//   moments  mean and mean +- sd of the particles along each plotted axis over t (first batch),
//            with the exact unguided p_t(x | c)'s mean +- sd dashed;
//   paths    a few sample paths over t.
// The t axis is logarithmic and runs from the start time (left) to tMin (right), in sampling
// order. uPlot's legend names every series (and shows values under the cursor).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TracePoint } from './plots.ts';

const AXIS_COLORS = ['#1c7ed6', '#d6336c'];
const PATH_COLORS = ['#1c7ed6', '#2f9e44', '#e8590c', '#ae3ec9', '#f59f00', '#0ca678', '#d6336c', '#495057'];
const HEIGHT = 220;

function tAxis(): uPlot.Axis {
  return {
    label: 't (sampling runs left to right)',
    values: (_u, ticks) =>
      ticks.map((v) => (v == null ? '' : v >= 0.01 && v < 1e4 ? String(Number(v.toPrecision(2))) : v.toExponential(0))),
  };
}

/** One chart in a container element, rebuilt when its series change, else given new data. */
class Chart {
  private plot: uPlot | null = null;
  private key = '';
  private readonly el: HTMLElement;
  constructor(el: HTMLElement) {
    this.el = el;
    // Only a change of width resizes the chart: uPlot's own legend changes the element's
    // height, and resizing on that would loop (a redraw per frame, starving the page).
    // Debounced: a resize may toggle the page's scrollbar, which resizes again.
    let lastWidth = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    new ResizeObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const w = this.width();
        if (this.plot && Math.abs(w - lastWidth) > 4) {
          lastWidth = w;
          this.plot.setSize({ width: w, height: HEIGHT });
        }
      }, 150);
    }).observe(el);
  }
  private width(): number {
    return Math.max(200, this.el.clientWidth);
  }
  show(key: string, options: () => Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData): void {
    if (!this.plot || key !== this.key) {
      this.plot?.destroy();
      this.key = key;
      this.plot = new uPlot({ ...options(), width: this.width(), height: HEIGHT }, data, this.el);
    } else {
      this.plot.setData(data);
    }
  }
}

/** Columns for uPlot: x ascending (t reversed), one column per series. */
function columns(points: TracePoint[], pick: ((p: TracePoint) => number)[]): number[][] {
  const sorted = [...points].filter((p) => p.t > 0).sort((a, b) => a.t - b.t);
  return [sorted.map((p) => p.t), ...pick.map((f) => sorted.map(f))];
}

export class TimeCharts {
  private readonly moments: Chart;
  private readonly paths: Chart;
  constructor(momentsEl: HTMLElement, pathsEl: HTMLElement) {
    this.moments = new Chart(momentsEl);
    this.paths = new Chart(pathsEl);
  }

  /** The t range shown: [tMin, start time] (fixed, so a run with a single point draws quickly). */
  private range: [number, number] = [1e-3, 1];

  setTimeRange(tMin: number, tStart: number): void {
    this.range = [tMin, tStart];
  }

  private xScale(): uPlot.Scale {
    const [lo, hi] = this.range;
    return { time: false, distr: 3, log: 10, dir: -1, range: () => [lo, hi] };
  }

  drawMoments(trace: TracePoint[], exact: TracePoint[], axisNames: string[]): void {
    const k = axisNames.length;
    const obs = columns(
      trace,
      axisNames.flatMap((_, a) => [
        (p: TracePoint) => p.mean[a],
        (p: TracePoint) => p.mean[a] + p.sd[a],
        (p: TracePoint) => p.mean[a] - p.sd[a],
      ]),
    );
    const ex = columns(
      exact,
      axisNames.flatMap((_, a) => [(p: TracePoint) => p.mean[a] + p.sd[a], (p: TracePoint) => p.mean[a] - p.sd[a]]),
    );
    const data = uPlot.join([obs as uPlot.AlignedData, ex as uPlot.AlignedData]);
    const series: uPlot.Series[] = [{ label: 't' }];
    axisNames.forEach((name, a) => {
      const stroke = AXIS_COLORS[a % AXIS_COLORS.length];
      series.push({ label: `${name}: mean of the particles`, stroke, width: 2, spanGaps: true });
      series.push({ label: `${name}: mean + sd`, stroke, width: 1, spanGaps: true });
      series.push({ label: `${name}: mean - sd`, stroke, width: 1, spanGaps: true });
    });
    axisNames.forEach((name, a) => {
      const stroke = AXIS_COLORS[a % AXIS_COLORS.length];
      series.push({ label: `${name}: exact unguided mean + sd`, stroke, width: 1, dash: [5, 4], spanGaps: true });
      series.push({ label: `${name}: exact unguided mean - sd`, stroke, width: 1, dash: [5, 4], spanGaps: true });
    });
    this.moments.show(
      `m${k}:${axisNames.join()}:${this.range.join()}`,
      () => ({
        series,
        scales: { x: this.xScale() },
        axes: [tAxis(), { label: 'mean ± sd' }],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      }),
      data,
    );
  }

  drawPaths(paths: { t: number[]; x: number[] }[], axisName: string): void {
    const t = paths[0]?.t ?? [];
    const order = t
      .map((_, i) => i)
      .filter((i) => t[i] > 0)
      .sort((a, b) => t[a] - t[b]);
    const data = [order.map((i) => t[i]), ...paths.map((p) => order.map((i) => p.x[i]))] as uPlot.AlignedData;
    this.paths.show(
      `p${paths.length}:${axisName}:${this.range.join()}`,
      () => ({
        series: [
          { label: 't' },
          ...paths.map((_, i) => ({
            label: `path ${i + 1}`,
            stroke: PATH_COLORS[i % PATH_COLORS.length],
            width: 1.25,
          })),
        ],
        scales: { x: this.xScale() },
        axes: [tAxis(), { label: axisName }],
        legend: { show: paths.length > 0, live: false },
        cursor: { drag: { x: false, y: false } },
      }),
      data,
    );
  }
}
