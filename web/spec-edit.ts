// The page edits the spec as JSON (the format of shared/SPEC.md, as the user wrote it): the
// controls read and write fields of that raw object, the text box shows it, and parseSpec
// validates it before every run. These helpers are the only code that touches raw fields.
import type { WSchedule } from '../src/experiment/types.ts';

export type RawSpec = Record<string, unknown>;
type Obj = Record<string, unknown>;

/** The page samples at most this many particles (a spec may ask for more; the CLI takes them). */
export const MAX_PAGE_PARTICLES = 10_000_000;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** raw.key as an object, created (replacing a non-object) when missing. */
function child(raw: Obj, key: string): Obj {
  const o = obj(raw[key]);
  if (o) return o;
  const fresh: Obj = {};
  raw[key] = fresh;
  return fresh;
}

export type GuidanceKind = 'none' | 'cfg' | 'classifier';

export function guidanceKind(raw: RawSpec): GuidanceKind | undefined {
  const g = obj(raw.guidance);
  if (!g) return raw.guidance === undefined ? 'none' : undefined;
  return g.kind === 'none' || g.kind === 'cfg' || g.kind === 'classifier' ? g.kind : undefined;
}

/** Switches the guidance kind, keeping w (and cfg's other fields) where they make sense. */
export function setGuidanceKind(raw: RawSpec, kind: GuidanceKind): void {
  const g = obj(raw.guidance) ?? {};
  if (kind === 'none') {
    raw.guidance = { kind: 'none' };
    return;
  }
  // cfg keeps its other fields (negative, variant, ...); classifier guidance has only w.
  raw.guidance = kind === 'cfg' ? { ...g, kind, w: g.w ?? 1 } : { kind, w: g.w ?? 1 };
}

/** The w schedule as written (a bare number is a constant), or undefined if it is not readable. */
export function schedule(raw: RawSpec): WSchedule | undefined {
  const w = obj(raw.guidance)?.w;
  if (typeof w === 'number') return { kind: 'constant', w };
  const s = obj(w);
  if (!s) return undefined;
  if (s.kind === 'constant' && typeof s.w === 'number') return { kind: 'constant', w: s.w };
  if (s.kind === 'interval' && typeof s.w === 'number' && typeof s.tLow === 'number' && typeof s.tHigh === 'number') {
    return {
      kind: 'interval',
      w: s.w,
      tLow: s.tLow,
      tHigh: s.tHigh,
      outside: typeof s.outside === 'number' ? s.outside : 0,
    };
  }
  if (s.kind === 'piecewise' && Array.isArray(s.points)) {
    const points = s.points.filter(
      (p): p is [number, number] =>
        Array.isArray(p) && p.length === 2 && typeof p[0] === 'number' && typeof p[1] === 'number',
    );
    if (points.length === s.points.length && points.length > 0)
      return { kind: 'piecewise', points: points.map((p) => [p[0], p[1]]) };
  }
  return undefined;
}

const round = (v: number, digits = 4): number => Number(v.toPrecision(digits));

/** Writes the schedule (a constant as a bare number, as users write it), rounded for display. */
export function setSchedule(raw: RawSpec, s: WSchedule): void {
  const g = child(raw, 'guidance');
  if (g.kind !== 'cfg' && g.kind !== 'classifier') g.kind = 'cfg';
  switch (s.kind) {
    case 'constant':
      g.w = round(s.w);
      break;
    case 'interval':
      g.w = { kind: 'interval', w: round(s.w), tLow: round(s.tLow), tHigh: round(s.tHigh), outside: round(s.outside) };
      break;
    case 'piecewise':
      g.w = { kind: 'piecewise', points: s.points.map(([t, w]) => [round(t), round(w)]) };
      break;
  }
}

export function setSolver(raw: RawSpec, fields: { kind?: string; steps?: number }): void {
  const s = child(raw, 'solver');
  if (fields.kind !== undefined) s.kind = fields.kind;
  if (fields.steps !== undefined) s.steps = fields.steps;
}

export function setRun(raw: RawSpec, fields: { particles?: number; seed?: number }): void {
  if (fields.particles !== undefined) raw.particles = fields.particles;
  if (fields.seed !== undefined) raw.seed = fields.seed;
}

/** The value at a dotted path, or undefined (for filling controls from a raw spec). */
export function field(raw: RawSpec, path: string): unknown {
  let v: unknown = raw;
  for (const key of path.split('.')) v = obj(v)?.[key];
  return v;
}

/** A schedule with a window of negative w (guidance against the target) inside positive w. */
export function negativeWindow(w: number, tMin: number, tStart: number): WSchedule {
  // Points spaced evenly in log t: the window sits in the middle decade of the run.
  const at = (f: number) => Math.exp(Math.log(tMin) + f * (Math.log(tStart) - Math.log(tMin)));
  const wPos = w > 0 ? w : 2;
  return {
    kind: 'piecewise',
    points: [
      [at(0.05), wPos],
      [at(0.45), wPos],
      [at(0.5), -1],
      [at(0.65), -1],
      [at(0.7), wPos],
    ],
  };
}
