// The w(t) schedule as a small SVG plot with draggable points, on a log t axis from tMin to
// the start time (sampling runs right to left here, as t decreases):
//   constant   one handle: drag it up or down
//   interval   the corners of the plateau set tLow, tHigh and w; a handle on the left sets
//              `outside` (the w outside the interval)
//   piecewise  every point drags (t kept between its neighbours); double-click the background
//              to add a point, double-click a point to remove it. A negative-w window is a
//              piecewise schedule that dips below 0 (the page's "negative window" button).
import { scheduleAt } from '../src/guidance/schedule.ts';
import type { WSchedule } from '../src/spec/types.ts';

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

  constructor(svg: SVGSVGElement, onChange: (s: WSchedule, final: boolean) => void) {
    this.svg = svg;
    this.onChange = onChange;
    svg.addEventListener('dblclick', (e) => this.addPoint(e));
    // The drawing is in CSS pixels of the element: redraw when its size changes.
    new ResizeObserver(() => {
      if (!this.dragging) this.render();
    }).observe(svg);
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

  // Log t axis with the start time on the left (sampling order), w upwards.
  private px(t: number): number {
    const { w } = this.size;
    const f = (Math.log(this.tStart) - Math.log(t)) / (Math.log(this.tStart) - Math.log(this.tMin));
    return PAD.left + f * (w - PAD.left - PAD.right);
  }
  private py(w: number): number {
    const { h } = this.size;
    return PAD.top + ((this.wHi - w) / (this.wHi - this.wLo)) * (h - PAD.top - PAD.bottom);
  }
  private tAt(px: number): number {
    const { w } = this.size;
    const f = (px - PAD.left) / (w - PAD.left - PAD.right);
    const t = Math.exp(Math.log(this.tStart) - f * (Math.log(this.tStart) - Math.log(this.tMin)));
    return Math.min(this.tStart, Math.max(this.tMin, t));
  }
  private wAt(py: number): number {
    const { h } = this.size;
    return this.wHi - ((py - PAD.top) / (h - PAD.top - PAD.bottom)) * (this.wHi - this.wLo);
  }

  private el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent: Element = this.svg): SVGElementTagNameMap[K] {
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
    this.el('rect', { x: PAD.left, y: PAD.top, width: w - PAD.left - PAD.right, height: h - PAD.top - PAD.bottom, class: 'se-frame' });
    // Axes: w ticks, t decades.
    for (let v = Math.ceil(this.wLo); v <= this.wHi; v++) {
      if ((this.wHi - this.wLo > 10 && v % 2 !== 0) || v === 0) continue;
      this.el('text', { x: PAD.left - 4, y: this.py(v) + 3, class: 'se-label', 'text-anchor': 'end' }).textContent = String(v);
    }
    this.el('line', { x1: PAD.left, x2: w - PAD.right, y1: this.py(0), y2: this.py(0), class: 'se-zero' });
    this.el('text', { x: PAD.left - 4, y: this.py(0) + 3, class: 'se-label', 'text-anchor': 'end' }).textContent = '0';
    for (let e = Math.ceil(Math.log10(this.tMin)); e <= Math.floor(Math.log10(this.tStart)); e++) {
      const x = this.px(10 ** e);
      this.el('line', { x1: x, x2: x, y1: h - PAD.bottom, y2: h - PAD.bottom + 3, class: 'se-tick' });
      this.el('text', { x, y: h - 6, class: 'se-label', 'text-anchor': 'middle' }).textContent = e === 0 ? '1' : `1e${e}`;
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
      const t = Math.exp(Math.log(this.tStart) + (i / n) * (Math.log(this.tMin) - Math.log(this.tStart)));
      d += `${i === 0 ? 'M' : 'L'}${this.px(t).toFixed(1)},${this.py(scheduleAt(s, t)).toFixed(1)}`;
    }
    this.el('path', { d, class: 'se-curve' });
    for (const handle of this.handles()) this.addHandle(handle);
  }

  private handles(): Handle[] {
    const s = this.schedule;
    if (!s) return [];
    const clampT = (t: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, t));
    switch (s.kind) {
      case 'constant': {
        const tMid = Math.sqrt(this.tMin * this.tStart);
        return [{ x: this.px(tMid), y: this.py(s.w), title: 'w (drag up/down)', drag: (_t, w) => (s.w = w) }];
      }
      case 'interval': {
        const tOut = Math.min(this.tStart, Math.max(this.tMin, s.tHigh < this.tStart ? Math.sqrt(s.tHigh * this.tStart) : Math.sqrt(this.tMin * Math.max(this.tMin, s.tLow))));
        return [
          { x: this.px(s.tHigh), y: this.py(s.w), title: 'tHigh, w', drag: (t, w) => ((s.tHigh = clampT(t, s.tLow * 1.0001, this.tStart)), (s.w = w)) },
          { x: this.px(Math.max(s.tLow, this.tMin)), y: this.py(s.w), title: 'tLow, w', drag: (t, w) => ((s.tLow = t <= this.tMin * 1.01 ? 0 : clampT(t, this.tMin, s.tHigh / 1.0001)), (s.w = w)) },
          { x: this.px(tOut), y: this.py(s.outside), title: 'w outside the interval', drag: (_t, w) => (s.outside = w) },
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

  private addHandle(h: Handle): void {
    const c = this.el('circle', { cx: h.x, cy: h.y, r: 6, class: 'se-handle' });
    this.el('title', {}, c).textContent = h.title;
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
