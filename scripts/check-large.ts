// npm run check:large: the acceptance checks at 10^7 particles (not in CI: minutes each on a
// software GPU). Unguided sampling of several mixtures must pass against p(x|c); slightly wrong
// samplers (variance x 1.01, a mean shift, a dropped mode) must fail. Exit 0 when every
// expectation holds. CHECK_LARGE_N overrides the particle count.
import { parseSpec } from '../src/experiment/parse.ts';
import type { ExperimentSpec } from '../src/experiment/types.ts';
import { gpuFor, runCheck } from '../src/cli/check.ts';
import { dropMode, scaleVariance, shiftMean } from '../src/checks/mutations.ts';

const n = Number(process.env.CHECK_LARGE_N ?? 1e7);
const G = (mean: number[], cov: unknown, weight = 1) => ({ kind: 'gaussian', weight, mean, cov });
const base = {
  process: { kind: 'ou', T: 10 },
  solver: { kind: 'rk4', steps: 40, grid: 'edm', tMin: 1e-3 },
  particles: n,
  seed: 1,
};
const spec = (raw: Record<string, unknown>): ExperimentSpec => parseSpec({ ...base, ...raw });
const two = spec({
  dim: 1,
  classes: [
    { name: 'pos', components: [G([1], 1)] },
    { name: 'neg', components: [G([-1], 1)] },
  ],
  target: 'pos',
});
const three = spec({
  dim: 1,
  classes: [
    { name: 'm', components: [G([-2], 0.1, 0.3), G([0], 0.2, 0.5), G([3], 0.3, 0.2)] },
    { name: 'b', components: [G([0.5], 4)] },
  ],
  target: 'm',
});
const ring = spec({
  dim: 2,
  classes: Array.from({ length: 8 }, (_, k) => ({
    name: `m${k}`,
    components: [G([2 * Math.cos((k * Math.PI) / 4), 2 * Math.sin((k * Math.PI) / 4)], 0.05)],
  })).concat([
    {
      name: 'ring',
      components: Array.from({ length: 8 }, (_, k) =>
        G([2 * Math.cos((k * Math.PI) / 4), 2 * Math.sin((k * Math.PI) / 4)], 0.05),
      ),
    },
  ]),
  target: 'ring',
});
const boxes = spec({
  dim: 2,
  classes: [
    {
      name: 'd',
      components: [
        { kind: 'uniform', low: [-2, -2], high: [-0.5, -0.5] },
        { kind: 'uniform', low: [0.5, 0.5], high: [2, 2] },
      ],
    },
    {
      name: 'a',
      components: [
        { kind: 'uniform', low: [-2, 0.5], high: [-0.5, 2] },
        { kind: 'uniform', low: [0.5, -2], high: [2, -0.5] },
      ],
    },
  ],
  target: 'd',
});

const cases: { name: string; spec: ExperimentSpec; sampler?: ExperimentSpec; expect: 'pass' | 'fail' }[] = [
  { name: 'two Gaussians', spec: two, expect: 'pass' },
  { name: 'three modes (1-D)', spec: three, expect: 'pass' },
  { name: 'ring of 8 (2-D)', spec: ring, expect: 'pass' },
  { name: 'boxes (2-D)', spec: boxes, expect: 'pass' },
  { name: 'two Gaussians, sampler variance x 1.01', spec: two, sampler: scaleVariance(two, 1.01), expect: 'fail' },
  { name: 'two Gaussians, sampler mean + 0.005', spec: two, sampler: shiftMean(two, 0.005), expect: 'fail' },
  { name: 'ring of 8, one mode dropped', spec: ring, sampler: dropMode(ring, 0), expect: 'fail' },
];

const gpu = await gpuFor('webgpu');
let ok = true;
const summary: unknown[] = [];
try {
  for (const c of cases) {
    const r = await runCheck(c.spec, { against: 'conditional', alpha: 1e-6, backend: 'webgpu' }, gpu, c.sampler);
    const got = r.pass ? 'pass' : 'fail';
    if (got !== c.expect) ok = false;
    const failed = r.outcomes.filter((o) => !o.pass).map((o) => o.name);
    summary.push({ case: c.name, expected: c.expect, got, failed, seconds: r.seconds.total });
    process.stderr.write(
      `${got === c.expect ? 'ok  ' : 'BAD '} ${c.name}: ${got} (expected ${c.expect}) ${failed.join(', ')}\n`,
    );
  }
} finally {
  gpu?.destroy();
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
process.exitCode = ok ? 0 : 1;
