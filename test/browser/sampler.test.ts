// The WebGPU sampler in headless Chromium (SwiftShader) against the f64 CPU reference computed
// here in Node, particle by particle from the same seed. Tolerance: the same f32 rounding-error
// model as test/gpu/sampler-parity.test.ts (K u S_N, test/support/parity.ts): it assumes only
// WGSL's accuracy guarantees (correctly rounded + - *, division 2.5 ulp, exp 3 + 2|x| ulp, log
// 2^-21 absolute near 1), which SwiftShader's f32 math meets as lavapipe's does, though the
// two differ in the last bits.
//
// The k-diffusion samplers (heun-churn, dpmpp-3m-sde) are held to their own model
// (test/support/parity-samplers.ts) and median bounds (test/support/kdiffusion-parity.ts).
//
// Without Chromium: fails with CI=true, else skipped (test/support/browser.ts).

import { afterAll, describe, expect, it } from 'vitest';
import { treeSpec } from '../../scripts/make-tree.ts';
import { parseSpec } from '../../src/experiment/parse.ts';
import { GAUSS4_VARIANTS } from '../../src/gpu/variants.ts';
import { TABLEAUS } from '../../src/solvers/tableau.ts';
import {
  browserSkipReason,
  startBrowserHarness,
  waitForResult,
  type BrowserHarness,
  type OpenPage,
} from '../support/browser.ts';
import { compareWithBound, formatReport, PARITY_ULPS, referenceWithBound } from '../support/parity.ts';
import { referenceWithBoundSampler } from '../support/parity-samplers.ts';
import { PARITY_CASES, type RawSpec } from '../support/sampler-cases.ts';
import type { SamplerPageReady, SamplerPageRun } from './sampler-page.ts';

const skip = browserSkipReason();

const cases: { name: string; raw: RawSpec; kernelVariant?: string; kernel?: string }[] = [
  {
    name: 'two 1-D Gaussians, cfg w=3, rk4, 2000 particles x 100 steps',
    raw: { ...PARITY_CASES[0].spec('rk4'), particles: 2000 },
  },
  {
    name: '1-D box mixture, cfg w=2, rk4, 400 particles x 100 EDM steps',
    raw: PARITY_CASES.find((c) => c.name.startsWith('1-D box'))!.spec('rk4'),
  },
  {
    name: '2-D box and Gaussian mixture, cfg w=1.5, em, 300 particles x 60 EDM steps',
    raw: PARITY_CASES.find((c) => c.name.startsWith('2-D box'))!.spec('em'),
  },
  // The k-diffusion samplers' kernel path (histories, churn noise), with their error model.
  {
    name: 'two 1-D Gaussians, cfg w=3, heun-churn (S_churn 10), 1000 particles x 100 steps',
    raw: {
      ...PARITY_CASES[0].spec('euler'),
      solver: { kind: 'heun-churn', steps: 100, sChurn: 10, sTmin: 0.05, sTmax: 50 },
    },
  },
  {
    name: 'two 1-D Gaussians, cfg w=3, dpmpp-3m-sde, 1000 particles x 100 steps',
    raw: { ...PARITY_CASES[0].spec('euler'), solver: { kind: 'dpmpp-3m-sde', steps: 100 } },
  },
  // The heavy-mixture kernel (shaders/step-heavy.wgsl; on SwiftShader through workgroup-memory
  // tiles, src/gpu/heavy.ts): edm2's tree at depth 3, 2 x 56 components.
  {
    name: "edm2's tree at depth 3 (112 full covariances), cfg w = 1, heun 16, 64 particles [step-heavy]",
    raw: {
      ...treeSpec(3),
      particles: 64,
      seed: 4,
      solver: { kind: 'heun', steps: 16, tMin: 0.002, grid: { kind: 'edm', rho: 7 } },
    },
    kernel: 'step-heavy',
  },
];
// Every variant of the fast kernel (src/gpu/variants.ts) on this browser's adapter, forced: the
// autotuner may pick any of them here (on SwiftShader a step-gauss1 one).
for (const v of GAUSS4_VARIANTS) {
  cases.push(
    {
      name: `two 1-D Gaussians, cfg w=3, euler, 1000 particles x 100 steps, variant ${v.name}`,
      raw: PARITY_CASES[0].spec('euler'),
      kernelVariant: v.name,
    },
    {
      name: `three 1-D classes, cfg w=3 vs the class neg, em, variant ${v.name}`,
      raw: PARITY_CASES[1].spec('em'),
      kernelVariant: v.name,
    },
  );
}

let harness: BrowserHarness | undefined;
let open: OpenPage | undefined;
let ready: SamplerPageReady | undefined;
if (!skip) {
  // Started at collection time so that the suite's title can name the browser's adapter.
  harness = await startBrowserHarness();
  open = await harness.open('test/browser/sampler.html');
  ready = await waitForResult<SamplerPageReady>(open);
}

describe.skipIf(skip !== undefined)(
  `sampler in Chromium vs CPU f64 [${ready?.adapterInfo.label ?? `skipped: ${skip}`}]`,
  () => {
    afterAll(async () => {
      await harness?.close();
    });

    it('runs on the browser platform', () => {
      console.log(`browser adapter: ${ready!.adapterInfo.label}; ${ready!.userAgent}`);
      expect(ready!.adapterInfo.label).toMatch(/^browser: /);
    });

    for (const c of cases) {
      it(c.name, async () => {
        const spec = parseSpec(c.raw);
        const run = await Promise.race([
          open!.page.evaluate((s, o) => window.__runSampler!(s, o), spec, {
            kernelVariant: c.kernelVariant,
          }) as Promise<SamplerPageRun>,
          open!.failed,
        ]);
        const kdiffusion = TABLEAUS[spec.solver.kind].denoised !== undefined;
        const ref = kdiffusion ? referenceWithBoundSampler(spec) : referenceWithBound(spec);
        const report = compareWithBound(run.particles, ref, spec.dim);
        console.log(
          `${formatReport(`Chromium: ${c.name}`, report)}; page GPU ${run.ms.toFixed(0)} ms (${run.info.adapter}; ${run.info.kernel}, tables ${run.info.tables})`,
        );
        if (c.kernelVariant) expect(run.info.variant).toEqual({ name: c.kernelVariant, why: 'forced' });
        if (c.kernel) expect(run.info.kernel).toBe(c.kernel);
        expect(report.nonFinite).toBe(0);
        expect(report.firstFailure).toBeNull();
        expect(report.maxUlpsOfRss).toBeLessThanOrEqual(PARITY_ULPS);
        // (the samplers' bound: test/support/kdiffusion-parity.ts)
        expect(report.medianTolerance).toBeLessThan(
          spec.solver.kind === 'dpmpp-3m-sde' ? 1e-3 : kdiffusion ? 2e-4 : 1e-4,
        );
      });
    }
  },
);
