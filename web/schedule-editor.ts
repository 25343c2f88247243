// The w(t) schedule as a small SVG plot with draggable points, from the start time (left) to
// tMin (right), in sampling order. The t axis is linear by default, or log t; either way a tick
// marks each time of the solver's grid (the points where the solver evaluates w), so the plot
// shows where the steps are (a uniform grid spends few steps at small t; an edm grid many).
// Handles:
//   constant   one handle: drag it up or down
//   interval   the corners of the plateau set tLow, tHigh and w; a handle on the left sets
//              `outside` (the w outside the interval)
//   piecewise  every point drags (t kept between its neighbours); double-click the background
//              to add a point, double-click a point to remove it. A negative-w window is a
//              piecewise schedule that dips below 0 (the page's "negative window" button).
import { scheduleAt } from '../src/guidance/schedule.ts';
import type { WSchedule } from '../src/experiment/types.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';
const PAD = { left: 34, right: 10, top: 8, bottom: 22 };

type Handle = { x: number; y: number; drag: (t: number, w: number) => void; remove?: () => void; title: string };

export class ScheduleEditor {
  private readonly svg: SVGSVGElement;
  private readonly onChange: (s: WSchedule, final: boolean) => void;
  private schedule: WSchedule | undefined;
  private tMin = 1e-3;
  private tStart = 10;
  private wLo = -2;
  private wHi = 5;
  private dragging = false;
  private logT = false;
  private grid: Float64Array | null = null;

  constructor(svg: SVGSVGElement, onChange: (s: WSchedule, final: boolean) => void) {
    this.svg = svg;
    this.onChange = onChange;
    svg.addEventListener('dblclick', (e) => this.addPoint(e));
    // The drawing is in CSS pixels of the element: redraw when its size changes.
    new ResizeObserver(() => {
      if (!this.dragging) this.render();
    }).observe(svg);
  }

  /** Log t axis (true) or linear t (false). */
  setLogT(log: boolean): void {
    this.logT = log;
    if (!this.dragging) this.render();
  }

  /** The solver's time grid (start time first), marked on the t axis. */
  setGrid(grid: Float64Array): void {
    this.grid = grid;
    if (!this.dragging) this.render();
  }

  /** Shows `schedule` (undefined: guidance off or not editable) over [tMin, tStart]. */
  set(schedule: WSchedule | undefined, tMin: number, tStart: number): void {
    if (this.dragging) return;
    this.schedule = schedule ? structuredClone(schedule) : undefined;
    if (tMin > 0 && tStart > tMin) {
      this.tMin = tMin;
      this.tStart = tStart;
    }
    this.fitRange();
    this.render();
  }

  private fitRange(): void {
    const ws = this.values();
    this.wLo = Math.min(-2, Math.floor(Math.min(...ws) - 1));
    this.wHi = Math.max(5, Math.ceil(Math.max(...ws) + 1));
  }

  private values(): number[] {
    const s = this.schedule;
    if (!s) return [0];
    if (s.kind === 'constant') return [s.w];
    if (s.kind === 'interval') return [s.w, s.outside];
    return s.points.map((p) => p[1]);
  }

  private get size(): { w: number; h: number } {
    const r = this.svg.getBoundingClientRect();
    return { w: Math.max(100, r.width || 300), h: Math.max(60, r.height || 140) };
  }

  // The t axis with the start time on the left (sampling order), w upwards.
  private frac(t: number): number {
    return this.logT
      ? (Math.log(this.tStart) - Math.log(t)) / (Math.log(this.tStart) - Math.log(this.tMin))
      : (this.tStart - t) / (this.tStart - this.tMin);
  }
  private px(t: number): number {
    const { w } = this.size;
    return PAD.left + this.frac(t) * (w - PAD.left - PAD.right);
  }
  private py(w: number): number {
    const { h } = this.size;
    return PAD.top + ((this.wHi - w) / (this.wHi - this.wLo)) * (h - PAD.top - PAD.bottom);
  }
  private tAt(px: number): number {
    const { w } = this.size;
    const f = (px - PAD.left) / (w - PAD.left - PAD.right);
    const t = this.logT
      ? Math.exp(Math.log(this.tStart) - f * (Math.log(this.tStart) - Math.log(this.tMin)))
      : this.tStart - f * (this.tStart - this.tMin);
    return Math.min(this.tStart, Math.max(this.tMin, t));
  }
  private wAt(py: number): number {
    const { h } = this.size;
    return this.wHi - ((py - PAD.top) / (h - PAD.top - PAD.bottom)) * (this.wHi - this.wLo);
  }

  private el<K extends keyof SVGElementTagNameMap>(
    name: K,
    attrs: Record<string, string | number>,
    parent: Element = this.svg,
  ): SVGElementTagNameMap[K] {
    const e = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    parent.appendChild(e);
    return e;
  }

  private render(): void {
    const svg = this.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const { w, h } = this.size;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    this.el('rect', {
      x: PAD.left,
      y: PAD.top,
      width: w - PAD.left - PAD.right,
      height: h - PAD.top - PAD.bottom,
      class: 'se-frame',
    });
    // Axes: w ticks, t decades.
    for (let v = Math.ceil(this.wLo); v <= this.wHi; v++) {
      if ((this.wHi - this.wLo > 10 && v % 2 !== 0) || v === 0) continue;
      this.el('text', { x: PAD.left - 4, y: this.py(v) + 3, class: 'se-label', 'text-anchor': 'end' }).textContent =
        String(v);
    }
    this.el('line', { x1: PAD.left, x2: w - PAD.right, y1: this.py(0), y2: this.py(0), class: 'se-zero' });
    this.el('text', { x: PAD.left - 4, y: this.py(0) + 3, class: 'se-label', 'text-anchor': 'end' }).textContent = '0';
    const ticks = this.logT
      ? Array.from(
          { length: Math.floor(Math.log10(this.tStart)) - Math.ceil(Math.log10(this.tMin)) + 1 },
          (_, k) => 10 ** (Math.ceil(Math.log10(this.tMin)) + k),
        )
      : niceLinear(this.tMin, this.tStart);
    for (const t of ticks) {
      const x = this.px(t);
      this.el('line', { x1: x, x2: x, y1: h - PAD.bottom, y2: h - PAD.bottom + 3, class: 'se-tick' });
      const label = this.logT ? (t === 1 ? '1' : `1e${Math.round(Math.log10(t))}`) : String(Number(t.toPrecision(3)));
      this.el('text', { x, y: h - 6, class: 'se-label', 'text-anchor': 'middle' }).textContent = label;
    }
    // The solver's grid: one mark per time point (at most 400 drawn; beyond that every k-th).
    if (this.grid && this.grid.length > 1) {
      const k = Math.max(1, Math.ceil(this.grid.length / 400));
      let d = '';
      for (let i = 0; i < this.grid.length; i += k) {
        const x = this.px(Math.min(this.tStart, Math.max(this.tMin, this.grid[i]))).toFixed(1);
        d += `M${x},${PAD.top}V${PAD.top + 5}`;
      }
      const marks = this.el('path', { d, class: 'se-steps' });
      this.el('title', {}, marks).textContent =
        `the solver's ${this.grid.length - 1} steps${k > 1 ? ` (every ${k}th time point marked)` : ''}`;
    }
    const s = this.schedule;
    if (!s) {
      this.el('text', { x: w / 2, y: h / 2, class: 'se-label', 'text-anchor': 'middle' }).textContent = 'no guidance';
      return;
    }
    // The curve, sampled densely (a linear-in-t segment is curved on the log axis).
    const n = 200;
    let d = '';
    for (let i = 0; i <= n; i++) {
      const t = this.tAt(PAD.left + (i / n) * (w - PAD.left - PAD.right));
      d += `${i === 0 ? 'M' : 'L'}${this.px(t).toFixed(1)},${this.py(scheduleAt(s, t)).toFixed(1)}`;
    }
    this.el('path', { d, class: 'se-curve' });
    this.handles().forEach((handle, i) => {
      this.addHandle(handle, i);
    });
  }

  private handles(): Handle[] {
    const s = this.schedule;
    if (!s) return [];
    const clampT = (t: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, t));
    switch (s.kind) {
      case 'constant': {
        const tMid = this.logT ? Math.sqrt(this.tMin * this.tStart) : (this.tMin + this.tStart) / 2;
        return [{ x: this.px(tMid), y: this.py(s.w), title: 'w (drag up/down)', drag: (_t, w) => (s.w = w) }];
      }
      case 'interval': {
        const tOut = Math.min(
          this.tStart,
          Math.max(
            this.tMin,
            s.tHigh < this.tStart
              ? Math.sqrt(s.tHigh * this.tStart)
              : Math.sqrt(this.tMin * Math.max(this.tMin, s.tLow)),
          ),
        );
        return [
          {
            x: this.px(s.tHigh),
            y: this.py(s.w),
            title: 'tHigh, w',
            drag: (t, w) => {
              s.tHigh = clampT(t, s.tLow * 1.0001, this.tStart);
              s.w = w;
            },
          },
          {
            x: this.px(Math.max(s.tLow, this.tMin)),
            y: this.py(s.w),
            title: 'tLow, w',
            drag: (t, w) => {
              s.tLow = t <= this.tMin * 1.01 ? 0 : clampT(t, this.tMin, s.tHigh / 1.0001);
              s.w = w;
            },
          },
          {
            x: this.px(tOut),
            y: this.py(s.outside),
            title: 'w outside the interval',
            drag: (_t, w) => (s.outside = w),
          },
        ];
      }
      case 'piecewise':
        return s.points.map((p, i) => ({
          x: this.px(clampT(p[0], this.tMin, this.tStart)),
          y: this.py(p[1]),
          title: `point ${i}: (t, w); double-click removes`,
          drag: (t, w) => {
            const lo = i > 0 ? s.points[i - 1][0] : this.tMin;
            const hi = i + 1 < s.points.length ? s.points[i + 1][0] : this.tStart;
            p[0] = clampT(t, lo, hi);
            p[1] = w;
          },
          remove: s.points.length > 1 ? () => s.points.splice(i, 1) : undefined,
        }));
    }
  }

  private addHandle(h: Handle, index: number): void {
    const w0 = this.wAt(h.y);
    const c = this.el('circle', {
      cx: h.x,
      cy: h.y,
      r: 6,
      class: 'se-handle',
      tabindex: 0,
      role: 'slider',
      'aria-label': `${h.title}; arrow keys: up/down w, left/right t`,
      'aria-valuenow': Math.round(w0 * 100) / 100,
      'aria-valuemin': this.wLo,
      'aria-valuemax': this.wHi,
      'aria-valuetext': `w = ${Math.round(w0 * 100) / 100} at t = ${Number(this.tAt(h.x).toPrecision(3))}`,
    });
    this.el('title', {}, c).textContent = h.title;
    // Keyboard: arrows move the handle (shift: 10x), as a drag would; the run follows.
    c.addEventListener('keydown', (e) => {
      const dw = e.key === 'ArrowUp' ? 0.1 : e.key === 'ArrowDown' ? -0.1 : 0;
      const dx = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (dw === 0 && dx === 0) return;
      e.preventDefault();
      const k = e.shiftKey ? 10 : 1;
      const { w } = this.size;
      const x = h.x + dx * k * 0.02 * (w - PAD.left - PAD.right);
      h.drag(this.tAt(x), Math.round((this.wAt(h.y) + dw * k) * 20) / 20);
      this.fitRange();
      this.render();
      (this.svg.querySelectorAll('.se-handle')[index] as SVGElement | undefined)?.focus();
      this.onChange(structuredClone(this.schedule!), true);
    });
    c.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      e.stopPropagation();
      this.dragging = true;
      let moved = false;
      // Listen on the window: every move redraws the plot, replacing this circle.
      const move = (ev: PointerEvent) => {
        moved = true;
        const r = this.svg.getBoundingClientRect();
        const { w, h: hh } = this.size;
        const x = ((ev.clientX - r.left) / r.width) * w;
        const y = ((ev.clientY - r.top) / r.height) * hh;
        h.drag(this.tAt(x), Math.round(this.wAt(y) * 20) / 20);
        this.render();
        this.onChange(structuredClone(this.schedule!), false);
      };
      const up = () => {
        window.removeEventListener('pointermove', move);
        window.removeEventListener('pointerup', up);
        window.removeEventListener('pointercancel', up);
        this.dragging = false;
        if (!moved) return; // a click: keep this circle (a double-click on it removes the point)
        this.fitRange();
        this.render();
        this.onChange(structuredClone(this.schedule!), true);
      };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', up);
      window.addEventListener('pointercancel', up);
    });
    if (h.remove) {
      c.addEventListener('dblclick', (e) => {
        e.stopPropagation();
        h.remove!();
        this.render();
        this.onChange(structuredClone(this.schedule!), true);
      });
    }
  }

  private addPoint(e: MouseEvent): void {
    const s = this.schedule;
    if (!s || s.kind !== 'piecewise') return;
    const r = this.svg.getBoundingClientRect();
    const { w, h } = this.size;
    const t = this.tAt(((e.clientX - r.left) / r.width) * w);
    const wv = Math.round(this.wAt(((e.clientY - r.top) / r.height) * h) * 20) / 20;
    s.points.push([t, wv]);
    s.points.sort((a, b) => a[0] - b[0]);
    this.fitRange();
    this.render();
    this.onChange(structuredClone(s), true);
  }
}

/** About 5 round values in [lo, hi]. */
function niceLinear(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(v);
  return out;
}
