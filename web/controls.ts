// The form: preset, spec text (typed, pasted or dropped), guidance kind and w with its schedule
// (web/schedule-editor.ts), solver, steps, particles, seed. Every control edits the raw spec
// (web/spec-edit.ts); the text box shows it; the page validates it and reruns.
import type { SpecIssue } from '../src/experiment/errors.ts';
import type { WSchedule } from '../src/experiment/types.ts';
import { referenceW } from './densities.ts';
import { jsonSyntaxError } from './json-location.ts';
import { readUrlState, type ViewState } from './url-state.ts';
import { presetSpec, PRESETS } from './presets.ts';
import { ScheduleEditor } from './schedule-editor.ts';
import {
  field,
  guidanceKind,
  MAX_PAGE_PARTICLES,
  negativeWindow,
  schedule,
  setGuidanceKind,
  setRun,
  setSchedule,
  setSolver,
  type GuidanceKind,
  type RawSpec,
} from './spec-edit.ts';

export interface ControlCallbacks {
  /** The raw spec changed; run: whether to (re)start a run (false while dragging). */
  onSpecChange(raw: RawSpec, opts: { run: boolean }): void;
  /** The text is not a spec at all (not JSON): nothing can be validated. */
  onInvalid(issues: SpecIssue[]): void;
  onRun(): void;
  onStop(): void;
  onDisplayChange(): void;
  /** The spec text was edited (before it is validated): the results on screen are stale. */
  onEdit(): void;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** JSON with arrays of numbers kept on one line (as the example files are written). */
export function formatSpec(raw: unknown): string {
  return JSON.stringify(raw, null, 2).replace(
    /\[\s+([^[\]{}]*?)\s+\]/g,
    (_, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`,
  );
}

export class Controls {
  private readonly cb: ControlCallbacks;
  private raw: RawSpec = {};
  private readonly preset = $<HTMLSelectElement>('preset');
  private readonly text = $<HTMLTextAreaElement>('spec-text');
  private readonly file = $<HTMLInputElement>('spec-file');
  private readonly errors = $<HTMLDivElement>('spec-errors');
  private readonly guidance = $<HTMLSelectElement>('guidance-kind');
  private readonly scheduleKind = $<HTMLSelectElement>('schedule-kind');
  private readonly w = $<HTMLInputElement>('w');
  private readonly wRange = $<HTMLInputElement>('w-range');
  private readonly solver = $<HTMLSelectElement>('solver-kind');
  private readonly steps = $<HTMLInputElement>('steps');
  private readonly seed = $<HTMLInputElement>('seed');
  private readonly particles = $<HTMLInputElement>('particles');
  private readonly particlesRange = $<HTMLInputElement>('particles-range');
  private readonly exact = $<HTMLInputElement>('show-exact');
  private readonly pathsBox = $<HTMLInputElement>('show-paths');
  private readonly logT = $<HTMLInputElement>('log-t');
  private readonly editor: ScheduleEditor;
  private tMin = 1e-3;
  private tStart = 10;
  private textTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(cb: ControlCallbacks) {
    this.cb = cb;
    this.editor = new ScheduleEditor($('schedule-editor') as unknown as SVGSVGElement, (s, final) => {
      setSchedule(this.raw, s);
      this.syncW();
      this.changed(final);
    });
  }

  get showExact(): boolean {
    return this.exact.checked;
  }
  get showPaths(): boolean {
    return this.pathsBox.checked;
  }
  get view(): ViewState {
    return { exact: this.exact.checked, paths: this.pathsBox.checked, logT: this.logT.checked };
  }
  /** The raw spec being edited (as written; parseSpec validates it). */
  get rawSpec(): RawSpec {
    return this.raw;
  }

  /**
   * Fills the form from the URL (web/url-state.ts): spec= (the raw spec as JSON) and view=, or
   * the older preset, particles, steps, solver, seed, w.
   */
  init(params: URLSearchParams): void {
    for (const p of PRESETS) this.preset.add(new Option(p.label, p.id));
    this.preset.add(new Option('Custom spec', 'custom'));
    const state = readUrlState(params.toString());
    this.exact.checked = state.view.exact;
    this.pathsBox.checked = state.view.paths;
    this.logT.checked = state.view.logT;
    this.editor.setLogT(state.view.logT);
    if (state.specText !== null) {
      // A spec from a link: parsed as JSON and validated like a typed one, never run as code.
      this.bind();
      this.preset.value = 'custom';
      this.text.value = state.specText;
      this.fromText(state.specText);
      return;
    }
    const id = PRESETS.some((p) => p.id === params.get('preset')) ? params.get('preset')! : PRESETS[0].id;
    this.preset.value = id;
    this.raw = presetSpec(id)!;
    const int = (name: string) => {
      const v = params.get(name);
      return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
    };
    setRun(this.raw, { particles: int('particles'), seed: int('seed') });
    setSolver(this.raw, { steps: int('steps'), kind: params.get('solver') ?? undefined });
    const w = params.get('w');
    if (w !== null && Number.isFinite(Number(w))) setSchedule(this.raw, { kind: 'constant', w: Number(w) });
    this.bind();
    this.load(false);
  }

  /** Shows the spec's problems (path: what was expected), or hides the box. */
  showIssues(issues: SpecIssue[] | null): void {
    this.errors.hidden = issues === null;
    this.errors.classList.toggle('error', issues !== null);
    if (!issues) {
      this.errors.replaceChildren();
      return;
    }
    const head = document.createElement('strong');
    head.textContent = issues.length === 1 ? 'The spec has a problem:' : `The spec has ${issues.length} problems:`;
    const list = document.createElement('ul');
    for (const i of issues) {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = i.path;
      li.append(code, `: ${i.message}`);
      list.append(li);
    }
    this.errors.replaceChildren(head, list);
  }

  /** The validated spec's time range, for the schedule editor. */
  setTimeDomain(tMin: number, tStart: number, grid?: Float64Array): void {
    if (grid) this.editor.setGrid(grid);
    if (tMin === this.tMin && tStart === this.tStart) return;
    this.tMin = tMin;
    this.tStart = tStart;
    this.editor.set(schedule(this.raw), tMin, tStart);
  }

  private bind(): void {
    this.preset.addEventListener('change', () => {
      const raw = presetSpec(this.preset.value);
      if (!raw) return;
      this.raw = raw;
      this.load(true);
    });
    this.text.addEventListener('input', () => {
      this.cb.onEdit();
      clearTimeout(this.textTimer);
      this.textTimer = setTimeout(() => this.fromText(this.text.value), 400);
    });
    this.file.addEventListener('change', () => {
      const f = this.file.files?.[0];
      if (f) void f.text().then((t) => this.fromText(t, true));
    });
    const drop = (e: DragEvent) => {
      e.preventDefault();
      this.text.classList.remove('dragover');
      const f = e.dataTransfer?.files?.[0];
      if (f) void f.text().then((t) => this.fromText(t, true));
      else {
        const t = e.dataTransfer?.getData('text/plain');
        if (t) this.fromText(t, true);
      }
    };
    for (const target of [this.text, document.body]) {
      target.addEventListener('dragover', (e) => {
        e.preventDefault();
        this.text.classList.add('dragover');
      });
      target.addEventListener('dragleave', () => this.text.classList.remove('dragover'));
      target.addEventListener('drop', drop);
    }

    this.guidance.addEventListener('change', () => {
      setGuidanceKind(this.raw, this.guidance.value as GuidanceKind);
      this.syncGuidance();
      this.changed(true);
    });
    this.scheduleKind.addEventListener('change', () => {
      const s = schedule(this.raw) ?? { kind: 'constant', w: 1 };
      setSchedule(this.raw, this.convert(s, this.scheduleKind.value as WSchedule['kind']));
      this.syncGuidance();
      this.changed(true);
    });
    const setW = (value: number, final: boolean) => {
      if (!Number.isFinite(value)) return;
      const s = schedule(this.raw) ?? { kind: 'constant', w: value };
      if (s.kind === 'constant') s.w = value;
      else if (s.kind === 'interval') s.w = value;
      else return;
      setSchedule(this.raw, s);
      this.syncGuidance(final ? undefined : 'range');
      this.changed(final);
    };
    this.wRange.addEventListener('input', () => setW(Number(this.wRange.value), false));
    this.wRange.addEventListener('change', () => setW(Number(this.wRange.value), true));
    this.w.addEventListener('change', () => setW(Number(this.w.value), true));
    $('negative-window').addEventListener('click', () => {
      const s = schedule(this.raw);
      setSchedule(this.raw, negativeWindow(s ? referenceW(s) : 2, this.tMin, this.tStart));
      this.syncGuidance();
      this.changed(true);
    });

    this.solver.addEventListener('change', () => {
      setSolver(this.raw, { kind: this.solver.value });
      this.changed(true);
    });
    this.steps.addEventListener('change', () => {
      setSolver(this.raw, { steps: Number(this.steps.value) });
      this.changed(true);
    });
    this.seed.addEventListener('change', () => {
      setRun(this.raw, { seed: Number(this.seed.value) });
      this.changed(true);
    });
    this.particles.addEventListener('change', () => {
      setRun(this.raw, { particles: Number(this.particles.value) });
      this.syncRun();
      this.changed(true);
    });
    this.particlesRange.addEventListener('input', () => {
      this.particles.value = String(this.rangeToParticles());
    });
    this.particlesRange.addEventListener('change', () => {
      setRun(this.raw, { particles: this.rangeToParticles() });
      this.syncRun();
      this.changed(true);
    });
    $('run').addEventListener('click', () => this.cb.onRun());
    $('stop').addEventListener('click', () => this.cb.onStop());
    this.exact.addEventListener('change', () => this.cb.onDisplayChange());
    this.pathsBox.addEventListener('change', () => this.cb.onDisplayChange());
    this.logT.addEventListener('change', () => {
      this.editor.setLogT(this.logT.checked);
      this.cb.onDisplayChange();
    });
  }

  private rangeToParticles(): number {
    const v = Math.round(2 ** Number(this.particlesRange.value));
    // Round to 2 significant digits, as a person would pick.
    const mag = 10 ** Math.max(0, Math.floor(Math.log10(v)) - 1);
    return Math.min(MAX_PAGE_PARTICLES, Math.max(1, Math.round(v / mag) * mag));
  }

  private fromText(text: string, fromFile = false): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      const at = jsonSyntaxError(text);
      this.text.setAttribute('aria-invalid', 'true');
      this.cb.onInvalid([
        at
          ? { path: `line ${at.line}, column ${at.column}`, message: `not valid JSON: ${at.message}` }
          : { path: '(spec)', message: `not valid JSON: ${(e as Error).message}` },
      ]);
      return;
    }
    this.text.removeAttribute('aria-invalid');
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      this.cb.onInvalid([
        {
          path: '(spec)',
          message: `expected a JSON object, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`,
        },
      ]);
      return;
    }
    this.raw = raw as RawSpec;
    this.preset.value = 'custom';
    if (fromFile) this.text.value = formatSpec(raw);
    this.syncAll(false);
    this.cb.onSpecChange(this.raw, { run: true });
  }

  private load(run: boolean): void {
    this.syncAll(true);
    this.cb.onSpecChange(this.raw, { run });
  }

  private changed(run: boolean): void {
    this.text.value = formatSpec(this.raw);
    this.cb.onSpecChange(this.raw, { run });
  }

  private convert(s: WSchedule, kind: WSchedule['kind']): WSchedule {
    const w = referenceW(s);
    const at = (f: number) => Math.exp(Math.log(this.tMin) + f * (Math.log(this.tStart) - Math.log(this.tMin)));
    if (kind === s.kind) return s;
    switch (kind) {
      case 'constant':
        return { kind: 'constant', w };
      case 'interval':
        return { kind: 'interval', w, tLow: at(0.35), tHigh: at(0.75), outside: 0 };
      case 'piecewise':
        if (s.kind === 'interval') {
          return {
            kind: 'piecewise',
            points: [
              [Math.max(s.tLow, this.tMin), s.outside],
              [Math.max(s.tLow, this.tMin) * 1.2, s.w],
              [s.tHigh / 1.2, s.w],
              [s.tHigh, s.outside],
            ],
          };
        }
        return {
          kind: 'piecewise',
          points: [
            [at(0.2), w],
            [at(0.8), w],
          ],
        };
    }
  }

  private syncAll(text: boolean): void {
    if (text) this.text.value = formatSpec(this.raw);
    this.syncGuidance();
    this.syncRun();
    const kind = field(this.raw, 'solver.kind');
    if (typeof kind === 'string') this.solver.value = kind;
    const steps = field(this.raw, 'solver.steps');
    this.steps.value = typeof steps === 'number' ? String(steps) : '';
  }

  private syncRun(): void {
    const n = field(this.raw, 'particles');
    const particles = typeof n === 'number' ? n : 100000;
    this.particles.value = String(particles);
    this.particlesRange.value = String(Math.log2(Math.max(1024, Math.min(MAX_PAGE_PARTICLES, particles))));
    const seed = field(this.raw, 'seed');
    this.seed.value = typeof seed === 'number' ? String(seed) : '0';
  }

  private syncW(): void {
    const s = schedule(this.raw);
    const w = s ? (s.kind === 'piecewise' ? referenceW(s) : s.kind === 'constant' ? s.w : s.w) : 0;
    this.w.value = String(w);
    this.wRange.value = String(w);
    const editable = s !== undefined && s.kind !== 'piecewise';
    this.w.disabled = !editable;
    this.wRange.disabled = !editable;
  }

  private syncGuidance(skip?: 'range'): void {
    const kind = guidanceKind(this.raw);
    this.guidance.value = kind ?? 'cfg';
    const s = kind === 'none' ? undefined : schedule(this.raw);
    this.scheduleKind.disabled = kind === 'none' || !s;
    if (s) this.scheduleKind.value = s.kind;
    if (skip !== 'range') this.syncW();
    else this.w.value = this.wRange.value;
    this.editor.set(s, this.tMin, this.tStart);
  }
}
