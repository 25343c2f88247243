// The shared part of `guidance-sampler reproduce <claim>`: sample a spec on the chosen backend,
// one-sided claim tests with a stated envelope and bias allowance, the verdict, and the atomic
// writes of the JSON and the figures (docs/reproductions.md).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { parseSpec } from '../experiment/parse.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { collectParticles } from '../backend/sampler.ts';
import { cpuBackend } from '../cpu/backend.ts';
import { prepareExperiment } from '../experiment/plan.ts';
import { webGpuBackend } from '../gpu/backend.ts';
import { writeFileAtomic } from '../io/output.ts';
import { renderSvg, svgToPng } from '../io/figures.ts';
import { normalUpperQuantile } from '../metrics/statistics.ts';

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE';

/** Same rule as `check` (docs/checks.md): a bias allowance above 3 envelopes cannot decide. */
export const CONCLUSIVE_BIAS_RATIO = 3;

/** Family-wise false-failure rate of each claim's tests (Bonferroni over its m tests). */
export const CLAIM_ALPHA = 1e-3;

export interface ClaimTest {
  name: string;
  /** The effect the claim predicts to be > 0 (or, for "equal" tests, to be ~0). */
  effect: number;
  /** Standard error of the effect. */
  se: number;
  /** z for this test's share alpha / m; envelope = z se. */
  z: number;
  envelope: number;
  /** Deterministic allowance (discretisation, quadrature, tMin smoothing). */
  bias: number;
  verdict: Verdict;
  /** How the verdict was reached, in words. */
  rule: string;
}

/**
 * The record shared by the claim tests below: the envelope z se, and the verdict that the test's
 * rule reaches from it.
 */
function claimTest(
  name: string,
  effect: number,
  se: number,
  z: number,
  bias: number,
  verdictFor: (envelope: number) => Verdict,
  rule: string,
): ClaimTest {
  const envelope = z * se;
  return { name, effect, se, z, envelope, bias, verdict: verdictFor(envelope), rule };
}

/**
 * The claim "effect > 0": PASS when effect - bias > z se (significant beyond every allowance);
 * otherwise INCONCLUSIVE when the bias alone exceeds 3 envelopes (the test could not decide),
 * else FAIL.
 */
export function greaterThanZero(
  name: string,
  effect: number,
  se: number,
  m: number,
  bias = 0,
  alpha = CLAIM_ALPHA,
): ClaimTest {
  return claimTest(
    name,
    effect,
    se,
    normalUpperQuantile(alpha / m),
    bias,
    (envelope) =>
      effect - bias > envelope ? 'PASS' : bias > CONCLUSIVE_BIAS_RATIO * envelope ? 'INCONCLUSIVE' : 'FAIL',
    `PASS iff effect - bias > z se (z at alpha ${alpha}/${m}, one-sided)`,
  );
}

/**
 * The claim "effect = 0 within tolerance": PASS when |effect| <= tolerance + bias + z se (two-sided
 * z at alpha / (2m)), else FAIL; a tolerance of 0 is a plain agreement test. Its power is shown
 * by the claim's mutation twin, which must FAIL it.
 */
export function withinTolerance(
  name: string,
  effect: number,
  se: number,
  m: number,
  tolerance: number,
  bias = 0,
  alpha = CLAIM_ALPHA,
): ClaimTest {
  return claimTest(
    name,
    effect,
    se,
    normalUpperQuantile(alpha / (2 * m)),
    bias + tolerance,
    (envelope) => (Math.abs(effect) <= tolerance + bias + envelope ? 'PASS' : 'FAIL'),
    `PASS iff |effect| <= tolerance ${tolerance} + bias + z se (z at alpha ${alpha}/(2 ${m}))`,
  );
}

/** The claim "effect <= 0": PASS when effect <= bias + z se (one-sided z at alpha / m), else FAIL. */
export function atMostZero(
  name: string,
  effect: number,
  se: number,
  m: number,
  bias = 0,
  alpha = CLAIM_ALPHA,
): ClaimTest {
  return claimTest(
    name,
    effect,
    se,
    normalUpperQuantile(alpha / m),
    bias,
    (envelope) => (effect <= bias + envelope ? 'PASS' : 'FAIL'),
    `PASS iff effect <= bias + z se (z at alpha ${alpha}/${m}, one-sided)`,
  );
}

/** Most particles of the CPU f64 route run beside the GPU's, per setting (same seed: paired). */
export const CPU_ROUTE_PARTICLES = 20_000;

/**
 * Bias of a share, from paired re-runs of its first particles (the ODE is deterministic given
 * the start, and the same seed gives the same starts on every backend):
 *  - discretisation: the first fineSpec.particles again at twice the steps;
 *  - route (with a GPU): the first CPU_ROUTE_PARTICLES on the f64 CPU reference, which also
 *    compares the two independent implementations (f32 WGSL and f64 TypeScript).
 * Each term is the share of paired particles whose membership of the region changes, as a
 * 3-sigma upper bound on the population's rate from its subsample; the bias is their sum.
 */
export async function crossingBias(
  fineSpec: ExperimentSpec,
  coarse: Float64Array,
  inRegion: (x: number) => boolean,
  gpu: GpuContext | null,
  coarseSpec?: ExperimentSpec,
): Promise<{
  bias: number;
  crossings: number;
  paired: number;
  routeCrossings: number | null;
  routePaired: number | null;
}> {
  const bound = (c: number, n: number) => (c + 3 * Math.sqrt(c) + 3) / n;
  const count = (other: Float64Array, n: number) => {
    let c = 0;
    for (let i = 0; i < n; i++) if (inRegion(coarse[i]) !== inRegion(other[i])) c++;
    return c;
  };
  const n = fineSpec.particles;
  const c = count(await sampleParticles(fineSpec, gpu), n);
  let bias = bound(c, n);
  let routeCrossings: number | null = null;
  let routePaired: number | null = null;
  if (gpu && coarseSpec) {
    routePaired = Math.min(CPU_ROUTE_PARTICLES, coarseSpec.particles);
    routeCrossings = count(await sampleParticles({ ...coarseSpec, particles: routePaired }, null), routePaired);
    bias += bound(routeCrossings, routePaired);
  }
  return { bias, crossings: c, paired: n, routeCrossings, routePaired };
}

export function overallVerdict(tests: ClaimTest[]): Verdict {
  if (tests.some((t) => t.verdict === 'FAIL')) return 'FAIL';
  if (tests.some((t) => t.verdict === 'INCONCLUSIVE')) return 'INCONCLUSIVE';
  return 'PASS';
}

export const VERDICT_EXIT: Record<Verdict, number> = { PASS: 0, FAIL: 1, INCONCLUSIVE: 3 };

export interface ReproContext {
  quick: boolean;
  /** null: the CPU reference. */
  gpu: GpuContext | null;
  /** Run the claim's mutation twin (it must FAIL). */
  mutation: boolean;
  log: (line: string) => void;
}

export interface Figure {
  name: string;
  spec: TopLevelSpec;
}

export interface ClaimResult {
  claim: string;
  reference: string;
  /** Particles per setting, solver, and its discretisation bias, in words and numbers. */
  setup: Record<string, unknown>;
  tests: ClaimTest[];
  verdict: Verdict;
  /** Every number of the experiment. */
  data: Record<string, unknown>;
  figures: Figure[];
  /** Further files the claim writes beside its JSON (e.g. trained model files), name -> text. */
  extraFiles?: { name: string; text: string }[];
}

export function spec(raw: Record<string, unknown>): ExperimentSpec {
  return parseSpec(raw);
}

/** The final particles of `s` (N x dim, f64) on the GPU when one is given, else the CPU reference. */
export async function sampleParticles(s: ExperimentSpec, gpu: GpuContext | null): Promise<Float64Array> {
  const backend = gpu ? webGpuBackend(gpu) : cpuBackend();
  return (await collectParticles(backend, prepareExperiment(s))).particles;
}

/** A binomial share's estimate and standard error. */
export function share(hits: number, n: number): { p: number; se: number } {
  const p = hits / n;
  return { p, se: Math.sqrt(Math.max(p * (1 - p), 1 / n) / n) };
}

/**
 * Line chart of y against x, one line per series (log x on request). Points are joined in x
 * order, or in the order of the field `orderBy` when given (a trade-off curve traced over w).
 */
export function lineChart(
  rows: Record<string, number | string>[],
  x: string,
  y: string,
  series: string,
  title: string,
  opts: { logX?: boolean; xTitle?: string; yTitle?: string; orderBy?: string } = {},
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 300,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: x,
        type: 'quantitative',
        title: opts.xTitle ?? x,
        scale: opts.logX ? { type: 'symlog' } : { zero: false },
      },
      y: { field: y, type: 'quantitative', title: opts.yTitle ?? y },
      ...(opts.orderBy ? { order: { field: opts.orderBy, type: 'quantitative' } } : {}),
      color: { field: series, type: 'nominal', title: null, legend: { labelLimit: 400 } },
    },
  } as TopLevelSpec;
}

/** result.json plus NAME.svg and NAME.png per figure, each written atomically. */
export async function writeClaim(outDir: string, r: ClaimResult): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, data: string | Uint8Array) => {
    await writeFileAtomic(join(outDir, name), data);
    files.push(join(outDir, name));
  };
  for (const f of r.figures) {
    const svg = await renderSvg(f.spec);
    await write(`${f.name}.svg`, svg);
    await write(`${f.name}.png`, svgToPng(svg));
  }
  for (const f of r.extraFiles ?? []) await write(f.name, f.text);
  const { figures, extraFiles, ...rest } = r;
  const extra = extraFiles ? { files: extraFiles.map((f) => f.name) } : {};
  await write(
    `${r.claim}.json`,
    JSON.stringify({ ...rest, figures: figures.map((f) => f.name), ...extra }, null, 2) + '\n',
  );
  return files;
}

/** The table printed on stderr. */
export function formatClaim(r: ClaimResult): string {
  const lines = [`${r.claim}: ${r.reference}`, `setup: ${JSON.stringify(r.setup)}`];
  for (const t of r.tests) {
    lines.push(
      `  ${t.verdict.padEnd(12)} ${t.name}: effect ${t.effect.toPrecision(4)} (se ${t.se.toPrecision(3)}, envelope ${t.envelope.toPrecision(3)}, bias ${t.bias.toPrecision(3)})`,
    );
  }
  lines.push(r.verdict);
  return lines.join('\n');
}
