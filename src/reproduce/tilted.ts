// Claim 1 (Chidambaram et al. 2024, arXiv 2409.13074): guidance is not the tilted law. On a
// two-class 1-D mixture of boxes and on a two-Gaussian mixture, as w grows the guided samples
// gather within delta of the target's far edge (the side away from the other class); the tilted
// law p(x|c) p(c|x)^w / Z does not. Statistic per w: the share of particles in the far-edge
// region R (boxes: x > 1 - delta; Gaussians: x above p(x|c)'s upper delta-quantile, fixed over
// w) against the tilted law's exact share of R.
import type { ExperimentSpec } from '../experiment/types.ts';
import { targetDef } from '../targets/from-spec.ts';
import { target1d, type Target1d } from '../targets/one-d.ts';
import { histogramSpec, type DensityRow } from '../io/figures.ts';
import { fillNormals } from '../rng/philox.ts';
import { normalCdf } from '../targets/law1d.ts';
import {
  CPU_ROUTE_PARTICLES,
  crossingBias,
  greaterThanZero,
  lineChart,
  overallVerdict,
  sampleParticles,
  share,
  spec,
  type ClaimResult,
  type ClaimTest,
  type ReproContext,
} from './runner.ts';

export const TILTED_WS = [0, 1, 3, 10, 30];
export const DELTA = 0.05;
/** The share is saturated (> 0.99) from w = 10 on: increases are tested up to here. */
export const INCREASE_UP_TO = 10;

const MIXTURES = {
  boxes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'uniform', low: [0], high: [1] }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'uniform', low: [-1], high: [0] }] },
  ],
  gaussians: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', mean: [1], cov: 0.25 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', mean: [-1], cov: 0.25 }] },
  ],
} as const;

export type MixtureName = keyof typeof MIXTURES;

export function tiltedSpec(
  mixture: MixtureName,
  w: number,
  particles: number,
  steps: number,
  seed: number,
): ExperimentSpec {
  return spec({
    dim: 1,
    classes: structuredClone(MIXTURES[mixture]) as unknown,
    target: 'pos',
    process: { kind: 'ou', T: 10 },
    guidance: { kind: 'cfg', w },
    // edm: fine steps near tMin, where the box scores sharpen.
    solver: { kind: 'rk4', steps, tMin: 1e-3, grid: { kind: 'edm', rho: 7 } },
    particles,
    seed,
  });
}

/** Exact draws from a 1-D law by inversion of its cdf (the mutation twin: "sample the tilted law"). */
function sampleLaw(law: Target1d, n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  const z = new Float64Array(4);
  for (let i = 0; i < n; i++) {
    fillNormals(seed, i, 0x7117, 1, z);
    out[i] = law.quantile(normalCdf(z[0]));
  }
  return out;
}

function countAbove(x: Float64Array, edge: number): number {
  let c = 0;
  for (const v of x) if (v > edge) c++;
  return c;
}

export async function runTilted(ctx: ReproContext): Promise<ClaimResult> {
  const N = ctx.quick ? 20_000 : 400_000;
  const steps = ctx.quick ? 60 : 200;
  // Richardson: the first nB particles again at 2 steps, same seed (the ODE is deterministic
  // given the start, so particles are paired): the share of particles that cross the region's
  // edge bounds the discretisation bias of the share at `steps`.
  const nB = ctx.quick ? 5_000 : 50_000;
  // Increase tests on successive w up to INCREASE_UP_TO (beyond it the share is saturated near
  // 1 at these delta and tMin); margin tests at every w > 0.
  const nIncrease = TILTED_WS.filter((w) => w > 0 && w <= INCREASE_UP_TO).length;
  const m = 2 * (nIncrease + TILTED_WS.length - 1);
  const tests: ClaimTest[] = [];
  const rows: Record<string, number | string>[] = [];
  const perMixture: Record<string, unknown> = {};
  const figures = [];
  const shareRows: Record<string, number | string>[] = [];
  for (const mixture of Object.keys(MIXTURES) as MixtureName[]) {
    const cond = target1d(targetDef(tiltedSpec(mixture, 0, 1, steps, 1), 'conditional'), [1]);
    const edge = mixture === 'boxes' ? 1 - DELTA : cond.quantile(1 - DELTA);
    const density: DensityRow[] = [];
    const points: {
      w: number;
      guided: number;
      se: number;
      tilted: number;
      tiltedError: number;
      bias: number;
      crossings: number;
      routeCrossings: number | null;
    }[] = [];
    for (const [k, w] of TILTED_WS.entries()) {
      const s = tiltedSpec(mixture, w, N, steps, 1 + k);
      const tiltedLaw = target1d(targetDef(s, w === 0 ? 'conditional' : 'tilted'), [1]);
      const x = ctx.mutation ? sampleLaw(tiltedLaw, N, 1 + k) : await sampleParticles(s, ctx.gpu);
      const hits = countAbove(x, edge);
      // The mutation twin's exact draws have no discretisation: only the subsample floor 3 / nB.
      const rb = ctx.mutation
        ? { bias: 3 / nB, crossings: 0, paired: nB, routeCrossings: null, routePaired: null }
        : await crossingBias(tiltedSpec(mixture, w, nB, 2 * steps, 1 + k), x, (v) => v > edge, ctx.gpu, s);
      const bias = rb.bias;
      const g = share(hits, N);
      const tShare = 1 - tiltedLaw.cdf(edge);
      points.push({
        w,
        guided: g.p,
        se: g.se,
        tilted: tShare,
        tiltedError: tiltedLaw.cdfError,
        bias,
        crossings: rb.crossings,
        routeCrossings: rb.routeCrossings,
      });
      rows.push({ mixture, w, guided: g.p, se: g.se, tilted: tShare, conditional: 1 - cond.cdf(edge), bias });
      shareRows.push(
        { w, share: g.p, series: `${mixture}: guided` },
        { w, share: tShare, series: `${mixture}: tilted law` },
      );
      ctx.log(
        `tilted ${mixture} w=${w}: share ${g.p.toFixed(4)} (tilted ${tShare.toFixed(4)}, bias ${bias.toExponential(2)})`,
      );
      // Density figure: particles on 120 bins against the exact laws.
      const [lo, hi] = [
        Math.min(cond.range[0], tiltedLaw.range[0], -0.5),
        Math.max(cond.range[1], tiltedLaw.range[1]) + 0.5,
      ];
      const bins = 120;
      const width = (hi - lo) / bins;
      const counts = new Float64Array(bins);
      for (const v of x) {
        const b = Math.floor((v - lo) / width);
        if (b >= 0 && b < bins) counts[b]++;
      }
      const label = `w=${w}`;
      counts.forEach((c, i) => {
        density.push({ setting: label, x: lo + (i + 0.5) * width, density: c / (N * width), series: 'particles' });
      });
      for (let i = 0; i <= 300; i++) {
        const xv = lo + ((hi - lo) * i) / 300;
        density.push({ setting: label, x: xv, density: cond.pdf(xv), series: 'p(x|c)' });
        density.push({ setting: label, x: xv, density: tiltedLaw.pdf(xv), series: 'tilted' });
      }
    }
    for (let k = 1; k < points.length; k++) {
      const a = points[k - 1];
      const b = points[k];
      if (b.w <= INCREASE_UP_TO)
        tests.push(
          greaterThanZero(
            `${mixture}: share(w=${b.w}) > share(w=${a.w})`,
            b.guided - a.guided,
            Math.hypot(a.se, b.se),
            m,
            a.bias + b.bias,
          ),
        );
      tests.push(
        greaterThanZero(
          `${mixture}: share(w=${b.w}) > tilted law's share`,
          b.guided - b.tilted,
          b.se,
          m,
          b.bias + b.tiltedError,
        ),
      );
    }
    perMixture[mixture] = {
      edge,
      region: mixture === 'boxes' ? `x > 1 - delta` : `x > p(x|c)'s ${1 - DELTA} quantile`,
      points,
    };
    figures.push({
      name: `tilted-${mixture}-densities`,
      spec: histogramSpec(
        density,
        `x (${mixture})`,
        TILTED_WS.map((w) => `w=${w}`),
      ),
    });
  }
  figures.push({
    name: 'tilted-share',
    spec: lineChart(shareRows, 'w', 'share', 'series', `share of mass within the far-edge region (delta ${DELTA})`, {
      logX: true,
      yTitle: 'share in the far-edge region',
    }),
  });
  return {
    claim: 'tilted',
    reference:
      'Chidambaram et al. 2024, "What does guidance do? A fine-grained analysis in a simple setting", arXiv 2409.13074',
    setup: {
      particlesPerSetting: N,
      backend: ctx.gpu ? ctx.gpu.adapterInfo.label : 'cpu',
      solver: `rk4, ${steps} steps, edm grid (rho 7), OU T 10, tMin 1e-3`,
      discretisationBias: `per setting, the share of ${nB} paired particles that cross the region's edge between ${steps} and ${2 * steps} steps, plus (webgpu) the share of ${Math.min(N, CPU_ROUTE_PARTICLES)} paired particles that cross it between the f32 GPU and the f64 CPU reference (each a 3-sigma upper bound), added to each test's allowance`,
      delta: DELTA,
      ws: TILTED_WS,
      increaseTestedUpTo: INCREASE_UP_TO,
      alpha: `family-wise 1e-3, Bonferroni over ${m} one-sided z-tests (binomial normal approximation)`,
      mutation: ctx.mutation ? 'samples drawn from the exact tilted law in place of guidance (must FAIL)' : null,
    },
    tests,
    verdict: overallVerdict(tests),
    data: { rows, mixtures: perMixture },
    figures,
  };
}
