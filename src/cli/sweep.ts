// `guidance-sampler sweep SPEC --w 0,1,3,7,15` (or --vary PATH=v1,v2,... over any spec field, e.g.
// a schedule's guidance.w.tLow): one row per setting with coverage, fidelity and distances to
// the conditional and tilted targets, all binned on the GPU; written as JSON and CSV, with
// figures (SVG and PNG) of fidelity against coverage and of histograms against the exact
// densities.
//
// Columns (per setting, n particles):
//   modeCoverage  share of the target's components whose soft occupancy lies inside the two-sided
//                 Bernstein (binomial-variance) envelope around n w_k, at alpha / K per mode
//   recall, precision  PRD summaries F_8 and F_1/8 (Sajjadi et al. 2018) against p(x|c) on exact
//                 bins (1-D: 64 equiprobable bins of x0; 2-D: 64 x 64 cells; d > 2: x0's bins)
//   hdr50, hdr90, hdr99  shares inside p(x|c)'s highest-density regions of those masses
//   ksConditional, ksTilted  largest binned KS distance over the projections
//   klConditional*, klTilted*  forward KL(q_n || p) and reverse KL(p || q_n) on the same bins
//   fracBeyondSqrtW, fracWrongSide (1-D): shares with s x > sqrt(w) and s x < 0, s the sign of the
//                 target class's mean; with the exact values under p(x|c) and the tilted law.
import { hasLearnedScore, prepareExperiment } from '../experiment/plan.ts';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { checkOutput, writeFileAtomic } from '../io/output.ts';
import { checkResources, estimateResources } from './resources.ts';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { SpecError } from '../experiment/errors.ts';
import { parseSpec } from '../experiment/parse.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { planCheck, type CheckPlan } from '../checks/plan.ts';
import {
  bernsteinHalfWidth,
  binnedKl,
  binnedKs,
  binProbabilities,
  COARSE_BINS,
  DEFAULT_ALPHA,
  mergeBins,
  prd,
  withEnds,
} from '../metrics/statistics.ts';
import { measure, type Measurements } from '../checks/measure.ts';
import { target1d, type Target1d } from '../targets/one-d.ts';
import { tiltWeight } from '../targets/definition.ts';
import { targetDef } from '../targets/from-spec.ts';
import { targetGrid } from '../targets/grid.ts';
import { exactCoverageFidelity } from '../checks/exact-density.ts';
import { cpuLogDensityBackend } from '../cpu/log-density.ts';
import { webGpuLogDensityBackend } from '../checks/log-density-webgpu.ts';
import type { LogDensityBackend } from '../backend/log-density.ts';
import { logDensityUnsupported } from '../model/divergence.ts';
import {
  fidelityCoverageSpec,
  histogramSpec,
  klFigureSpec,
  prCurvesSpec,
  renderSvg,
  svgToPng,
  type DensityRow,
} from '../io/figures.ts';
import { gpuFor } from './check.ts';

export interface SweepSetting {
  label: string;
  spec: ExperimentSpec;
}

/** The exact, density-ratio metrics of one setting (docs/coverage-fidelity.md). */
export interface SweepExact {
  klQP: { value: number; se: number };
  klPQ: { value: number; se: number };
  klTilted: { value: number; se: number };
  /** How Z of the tilted law was found for klTilted: quadrature (d <= 2, `error` on log Z) or importance sampling (`error` its SE). */
  klTiltedZ: { method: string; logZ: number; error: number };
  recall: number;
  precision: number;
  particles: number;
  pSamples: number;
  tailTopShare: number;
  tailFlagged: boolean;
  prCurve: { precision: number[]; recall: number[] };
}

export type SweepRow = Record<string, number | string | null | SweepExact>;

/** CSV cells: the exact metrics flattened to exactKlQP, exactKlQPSe, ... (the curve is JSON only). */
function flatRow(r: SweepRow): Record<string, number | string | null> {
  const { exact, ...rest } = r as SweepRow & { exact?: SweepExact };
  const out = rest as Record<string, number | string | null>;
  if (!exact) return out;
  return {
    ...out,
    exactKlQP: exact.klQP.value,
    exactKlQPSe: exact.klQP.se,
    exactKlPQ: exact.klPQ.value,
    exactKlPQSe: exact.klPQ.se,
    exactKlTilted: exact.klTilted.value,
    exactKlTiltedSe: exact.klTilted.se,
    exactKlTiltedZMethod: exact.klTiltedZ.method,
    exactKlTiltedZError: exact.klTiltedZ.error,
    exactRecall: exact.recall,
    exactPrecision: exact.precision,
    exactTailTopShare: exact.tailTopShare,
  };
}

/** Particles (and P-samples) of the exact metrics per setting (a separate log-density run, on the sweep's backend). */
export const EXACT_SWEEP_PARTICLES = 10000;

async function exactRow(spec: ExperimentSpec, n: number, backend: LogDensityBackend): Promise<SweepExact | null> {
  if (logDensityUnsupported(spec)) return null;
  const particles = Math.min(n, spec.particles);
  const r = await exactCoverageFidelity(spec, backend, { particles, pSamples: particles });
  return {
    klQP: r.klQP,
    klPQ: r.klPQ,
    klTilted: r.klTilted,
    klTiltedZ: { method: r.tiltZ.method, logZ: r.tiltZ.logZ, error: r.tiltZ.error },
    recall: r.recall,
    precision: r.precision,
    particles,
    pSamples: particles,
    tailTopShare: r.tail.topShare,
    tailFlagged: r.tail.flagged,
    prCurve: { precision: r.prCurve.precision, recall: r.prCurve.recall },
  };
}

/** Sets a dotted path (numbers index arrays) in a JSON object, creating objects on the way. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur: Record<string, unknown> = obj;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

/** Settings from --w (guidance weights) or --vary path=v1,v2 (any spec field). */
export function sweepSettings(
  raw: Record<string, unknown>,
  opts: { w?: number[]; vary?: { path: string; values: number[] } },
): SweepSetting[] {
  const out: SweepSetting[] = [];
  const make = (label: string, edit: (r: Record<string, unknown>) => void) => {
    const r = structuredClone(raw);
    edit(r);
    try {
      out.push({ label, spec: parseSpec(r) });
    } catch (e) {
      if (e instanceof SpecError)
        throw new SpecError(e.issues.map((i) => ({ path: `${label}: ${i.path}`, message: i.message })));
      throw e;
    }
  };
  if (opts.w) {
    for (const w of opts.w) {
      make(`w=${w}`, (r) => {
        const g = (r.guidance ?? { kind: 'none' }) as Record<string, unknown>;
        if (g.kind === undefined || g.kind === 'none') r.guidance = { kind: 'cfg', w };
        else if (g.w !== null && typeof g.w === 'object') {
          const s = g.w as Record<string, unknown>;
          if (s.kind === 'piecewise')
            throw new SpecError([
              { path: '--w', message: 'a piecewise schedule has no single w: use --vary guidance.w.points...' },
            ]);
          s.w = w;
        } else g.w = w;
      });
    }
  } else if (opts.vary) {
    for (const v of opts.vary.values) make(`${opts.vary.path}=${v}`, (r) => setPath(r, opts.vary!.path, v));
  } else {
    make('spec', () => {});
  }
  return out;
}

interface SweepPoint {
  row: SweepRow;
  density: DensityRow[];
}

function twoSidedTail(t: Target1d, b: number): number {
  return 1 - t.cdf(b);
}

/** One setting: plan against p(x|c), sample with GPU metrics, and the row. */
export async function sweepOne(
  setting: SweepSetting,
  gpu: GpuContext | null,
  alpha = DEFAULT_ALPHA,
): Promise<SweepPoint> {
  const spec = setting.spec;
  const experiment = prepareExperiment(spec);
  const d = spec.dim;
  const cond = targetDef(experiment, 'conditional');
  const w = tiltWeight(spec.guidance);
  // The sign of the target class's mean along x0 (1-D columns).
  const meanX0 = target1d(
    cond,
    Array.from({ length: d }, (_, j) => (j === 0 ? 1 : 0)),
  ).moments.mean;
  const s = meanX0 >= 0 ? 1 : -1;
  const halfSpaces =
    d === 1
      ? [
          { u: [s], b: Math.sqrt(Math.max(0, w)), label: 'beyond sqrt(w)' },
          { u: [-s], b: 0, label: 'wrong side of 0' },
        ]
      : [];
  const plan: CheckPlan = planCheck(experiment, 'conditional', { halfSpaces });
  let tilted: ReturnType<typeof targetDef> | null = null;
  let tiltedNote: string | null = null;
  try {
    tilted = d <= 2 ? targetDef(experiment, 'tilted') : null;
    if (!tilted) tiltedNote = 'tilted target: dim <= 2 only';
  } catch (e) {
    tiltedNote = (e as Error).message;
  }
  // A uniform 200-bin histogram of x0 over both targets' ranges, for the density figure.
  const x0 = Array.from({ length: d }, (_, j) => (j === 0 ? 1 : 0));
  const ranges = [plan.projections[0].target.range, ...(tilted && d <= 2 ? [target1d(tilted, x0).range] : [])];
  const figLow = Math.fround(Math.min(...ranges.map((r) => r[0])));
  const figHigh = Math.fround(Math.max(...ranges.map((r) => r[1])));
  const figBins = 200;
  // Histograms are found by the index they were planned at, never by position from the end:
  // the 2-D cells are planned by planCheck, the figure's histogram after them.
  const hist2dIndex = plan.hist2d ? plan.measurePlan.histograms.indexOf(plan.hist2d.plan) : -1;
  const figIndex =
    plan.measurePlan.histograms.push({ axes: [x0], bins: [figBins], low: [figLow], high: [figHigh], edges: [null] }) -
    1;
  const meas: Measurements = await measure(experiment, plan.measurePlan, { gpu });
  const figHist = meas.histograms[figIndex];
  const n = meas.density.finite;

  // Bins for PRD / KL: 1-D (and d > 2): 64 coarse bins of x0; 2-D: the 64 x 64 cells.
  let counts: Float64Array;
  let probsC: Float64Array;
  let probsT: Float64Array | null = null;
  const p0 = plan.projections[0];
  const h0 = withEnds(meas.histograms[0]);
  const tiltedLaws = plan.projections.map((p) => {
    if (!tilted || (d === 2 && p.u.filter((v) => v !== 0).length !== 1)) return null;
    return target1d(tilted, p.u);
  });
  if (d === 2 && plan.hist2d && hist2dIndex >= 0) {
    const h = meas.histograms[hist2dIndex];
    counts = Float64Array.from([...h.counts, h.underflow + h.overflow]);
    probsC = Float64Array.from([
      ...plan.hist2d.probs.subarray(1, 64 * 64 + 1),
      plan.hist2d.probs[0] + plan.hist2d.probs[64 * 64 + 1],
    ]);
    if (tilted) {
      const g = targetGrid(tilted, [64, 64], { low: plan.hist2d.plan.low, high: plan.hist2d.plan.high }, 8);
      probsT = Float64Array.from([...g.mass, 0]);
    }
  } else {
    counts = mergeBins(h0, COARSE_BINS);
    probsC = mergeBins(p0.probs, COARSE_BINS);
    if (tiltedLaws[0]) probsT = mergeBins(binProbabilities(tiltedLaws[0].cdf, p0.edges), COARSE_BINS);
  }
  const pr = prd(counts, probsC);
  const klC = binnedKl(counts, probsC);
  const klT = probsT ? binnedKl(counts, probsT) : null;
  let ksC = 0;
  let ksT: number | null = tilted ? 0 : null;
  plan.projections.forEach((p, j) => {
    const c = withEnds(meas.histograms[j]);
    ksC = Math.max(ksC, binnedKs(c, p.probs));
    const t = tiltedLaws[j];
    if (t && ksT !== null) ksT = Math.max(ksT, binnedKs(c, binProbabilities(t.cdf, p.edges)));
  });
  const K = plan.occupancy.p.length;
  let covered = 0;
  plan.occupancy.p.forEach((pk, k) => {
    const t = bernsteinHalfWidth(n, pk * (1 - pk), alpha / K);
    if (Math.abs(meas.density.softOccupancy[k] / n - pk) <= t) covered++;
  });
  const m1 = meas.density.projSum1[0] / n;
  const row: SweepRow = {
    setting: setting.label,
    w,
    particles: meas.particles,
    nonFinite: meas.density.nonFinite,
    modeCoverage: covered / K,
    recall: pr.f8,
    precision: pr.f1over8,
    hdr50: meas.density.hdrInside[0] / n,
    hdr90: meas.density.hdrInside[1] / n,
    hdr99: meas.density.hdrInside[2] / n,
    ksConditional: ksC,
    ksTilted: ksT,
    klConditionalForward: klC.forward,
    klConditionalReverse: klC.reverse,
    klTiltedForward: klT?.forward ?? null,
    klTiltedReverse: klT?.reverse ?? null,
    meanX0: p0.target.moments.mean + m1,
    varianceX0: meas.density.projSum2[0] / n - m1 * m1,
    seconds: meas.sampleSeconds,
    tiltedNote,
  };
  if (d === 1) {
    const t = tiltedLaws[0];
    const flip = (law: Target1d) => (s > 0 ? law : { ...law, cdf: (x: number) => 1 - law.cdf(-x) });
    row.fracBeyondSqrtW = meas.density.halfSpace[0] / n;
    row.fracWrongSide = meas.density.halfSpace[1] / n;
    row.conditionalBeyondSqrtW = twoSidedTail(flip(p0.target), Math.sqrt(Math.max(0, w)));
    row.conditionalWrongSide = flip(p0.target).cdf(0);
    row.tiltedBeyondSqrtW = t ? twoSidedTail(flip(t), Math.sqrt(Math.max(0, w))) : null;
    row.tiltedWrongSide = t ? flip(t).cdf(0) : null;
  }
  // Histogram density of x0 (uniform bins) against the exact densities.
  const density: DensityRow[] = [];
  const width = (figHigh - figLow) / figBins;
  figHist.counts.forEach((c, i) => {
    density.push({
      setting: setting.label,
      x: figLow + (i + 0.5) * width,
      density: c / (meas.particles * width),
      series: 'particles',
    });
  });
  const e = p0.edges;
  const [lo, hi] = [figLow, figHigh];
  void e;
  for (let i = 0; i <= 300; i++) {
    const x = lo + ((hi - lo) * i) / 300;
    density.push({ setting: setting.label, x, density: p0.target.pdf(x), series: 'p(x|c)' });
    if (tiltedLaws[0]) density.push({ setting: setting.label, x, density: tiltedLaws[0].pdf(x), series: 'tilted' });
  }
  return { row, density };
}

export function toCsv(rowsIn: SweepRow[]): string {
  const rows = rowsIn.map(flatRow);
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(v);
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export interface SweepOptions {
  backend: 'auto' | 'cpu' | 'webgpu';
  outDir: string;
  figures?: boolean;
  alpha?: number;
  /** Particles of the exact (log-density) metrics per setting; 0 skips them. */
  exactParticles?: number;
}

export async function runSweep(
  settings: SweepSetting[],
  opts: SweepOptions,
  gpuIn?: GpuContext | null,
): Promise<SweepRow[]> {
  const gpu = gpuIn === undefined ? await gpuFor(opts.backend) : gpuIn;
  const rows: SweepRow[] = [];
  const density: DensityRow[] = [];
  try {
    for (const s of settings) {
      const p = await sweepOne(s, gpu, opts.alpha);
      const nExact = opts.exactParticles ?? EXACT_SWEEP_PARTICLES;
      if (nExact > 0) {
        // A learned model's divergence (its Jacobian trace) is the CPU reference's.
        const carrier = gpu && !hasLearnedScore(s.spec) ? webGpuLogDensityBackend(gpu) : cpuLogDensityBackend;
        const ex = await exactRow(s.spec, nExact, carrier);
        if (ex) p.row.exact = ex;
        else
          process.stderr.write(
            `sweep ${s.label}: no exact metrics (${logDensityUnsupported(s.spec)!.path}: ${logDensityUnsupported(s.spec)!.message})\n`,
          );
      }
      rows.push(p.row);
      density.push(...p.density);
      process.stderr.write(`sweep ${s.label}: ${JSON.stringify(p.row)}\n`);
    }
  } finally {
    if (gpuIn === undefined) gpu?.destroy();
  }
  mkdirSync(opts.outDir, { recursive: true });
  const write = (name: string, data: string | Uint8Array) => writeFileAtomic(join(opts.outDir, name), data);
  await write('sweep.json', JSON.stringify({ backend: gpu ? gpu.adapterInfo.label : 'cpu', rows }, null, 2) + '\n');
  await write('sweep.csv', toCsv(rows));
  if (opts.figures !== false) {
    const fc = await renderSvg(
      fidelityCoverageSpec(
        rows.map(
          (r, i) =>
            ({
              setting: String(r.setting),
              coverage: Number(r.recall),
              fidelity: Number(r.precision),
              modeCoverage: Number(r.modeCoverage),
              hdr90: Number(r.hdr90),
              order: i,
            }) as never,
        ),
        'fidelity against coverage',
      ),
    );
    await write('fidelity-coverage.svg', fc);
    await write('fidelity-coverage.png', svgToPng(fc));
    const withExact = rows.filter((r) => r.exact);
    if (withExact.length > 0) {
      const ex = (r: SweepRow) => r.exact as SweepExact;
      const kl = await renderSvg(
        klFigureSpec(
          withExact.map((r, i) => ({
            setting: String(r.setting),
            klQP: ex(r).klQP.value,
            klQPSe: ex(r).klQP.se,
            klPQ: ex(r).klPQ.value,
            klPQSe: ex(r).klPQ.se,
            order: i,
          })),
        ),
      );
      await write('kl-fidelity-coverage.svg', kl);
      await write('kl-fidelity-coverage.png', svgToPng(kl));
      const pr = await renderSvg(
        prCurvesSpec(
          withExact.flatMap((r) =>
            ex(r).prCurve.recall.map((rc, j) => ({
              setting: String(r.setting),
              recall: rc,
              precision: ex(r).prCurve.precision[j],
              order: j,
            })),
          ),
        ),
      );
      await write('pr-curves.svg', pr);
      await write('pr-curves.png', svgToPng(pr));
    }
    const hs = await renderSvg(
      histogramSpec(
        density,
        'x0',
        settings.map((s) => s.label),
      ),
    );
    await write('histograms.svg', hs);
    await write('histograms.png', svgToPng(hs));
  }
  return rows;
}

const SWEEP_FILES = ['sweep.json', 'sweep.csv'];
const FIGURE_FILES = [
  'fidelity-coverage.svg',
  'fidelity-coverage.png',
  'histograms.svg',
  'histograms.png',
  'kl-fidelity-coverage.svg',
  'kl-fidelity-coverage.png',
  'pr-curves.svg',
  'pr-curves.png',
];

/** Before any work: --out-dir is a folder (or will be made), and none of its outputs is the spec or write-protected. */
function checkSweepOutputs(outDir: string, specPath: string, figures: boolean, force: boolean): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory())
    throw new SpecError([{ path: '--out-dir', message: `${outDir} exists and is not a folder` }]);
  const issues = [...SWEEP_FILES, ...(figures ? FIGURE_FILES : [])]
    .map((name) => checkOutput(join(outDir, name), { flag: '--out-dir', inputs: [specPath], force }))
    .filter((i) => i !== null);
  if (issues.length > 0) throw new SpecError(issues);
}

function numberList(name: string) {
  return (value: string): number[] => {
    const v = value.split(',').map((s) => Number(s.trim()));
    if (v.length === 0 || v.some((x) => !Number.isFinite(x)))
      throw new Error(`${name}: expected numbers separated by commas, got ${value}`);
    return v;
  };
}

export function addSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description(
      'sample the spec at several guidance settings; coverage, fidelity and distances per setting (JSON, CSV, figures)',
    )
    .argument('<spec>', 'experiment spec (JSON)')
    .option('--w <list>', 'guidance weights, e.g. 0,1,3,7,15', numberList('--w'))
    .option('--vary <path=list>', "vary one spec field, e.g. guidance.w.tLow=0.5,1,2 (a schedule's parameter)")
    .option('--particles <n>', "override the spec's particle count", (v: string) => Number(v))
    .option('--seed <s>', "override the spec's seed", (v: string) => Number(v))
    .addOption(
      new Option('--backend <backend>', 'where to sample and bin').choices(['auto', 'cpu', 'webgpu']).default('auto'),
    )
    .option('--out-dir <dir>', 'folder for sweep.json, sweep.csv and the figures', 'sweep-out')
    .option('--no-figures', 'skip the SVG/PNG figures')
    .option('--force', 'replace write-protected files in --out-dir')
    .option(
      '--exact-particles <n>',
      `particles (and exact P-samples) of the exact KL/PRD metrics per setting, 0: none (default ${EXACT_SWEEP_PARTICLES})`,
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0)
          throw new SpecError([{ path: '--exact-particles', message: `expected an integer >= 0, got ${v}` }]);
        return n;
      },
    )
    .exitOverride()
    .action(async (specPath: string, opts) => {
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(readFileSync(specPath, 'utf8'));
      } catch (err) {
        throw new SpecError([
          { path: '(file)', message: `cannot read ${specPath} as JSON: ${(err as Error).message}` },
        ]);
      }
      if (opts.particles !== undefined) raw.particles = opts.particles;
      if (opts.seed !== undefined) raw.seed = opts.seed;
      let vary: { path: string; values: number[] } | undefined;
      if (opts.vary) {
        const m = /^([A-Za-z0-9_.]+)=(.+)$/.exec(opts.vary);
        if (!m) throw new SpecError([{ path: '--vary', message: `expected PATH=v1,v2,..., got ${opts.vary}` }]);
        vary = { path: m[1], values: numberList('--vary')(m[2]) };
      }
      if (opts.w && vary) throw new SpecError([{ path: '--w', message: 'give --w or --vary, not both' }]);
      const settings = sweepSettings(raw, { w: opts.w, vary });
      checkSweepOutputs(opts.outDir, specPath, opts.figures !== false, opts.force === true);
      for (const s of settings)
        checkResources(estimateResources(s.spec, { backend: opts.backend === 'cpu' ? 'cpu' : 'webgpu' }));
      const rows = await runSweep(settings, {
        backend: opts.backend,
        outDir: opts.outDir,
        figures: opts.figures,
        exactParticles: opts.exactParticles,
      });
      process.stdout.write(toCsv(rows));
    });
}
