// `check` for corrected specs (src/checks/population.ts): t tests over independent
// populations against the exact law. The fk corrector's population passes against the tilted
// law; mutation twins fail: plain cfg (no corrector), and the corrector run on data shifted
// by 0.25 (its mean moves by 0.25, about 5 times what the test detects at this size).
// False-failure budget: the check's own alpha (1e-6, Bonferroni over its tests; asymptotic).
import { expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { runPopulationCheck } from '../../src/checks/population.ts';
import { describeGpu } from '../support/gpu.ts';
import { TWO_GAUSSIANS } from '../support/sampler-cases.ts';

const raw = {
  dim: 1,
  classes: TWO_GAUSSIANS,
  target: 'pos',
  process: { kind: 'ou', T: 8 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'em', steps: 100, tMin: 1e-3 },
  particles: 32 * 4096,
  seed: 21,
  corrector: { kind: 'fk', essThreshold: 0.5 },
};
const opts = { against: 'tilted' as const, alpha: 1e-6, populations: 32 };

await describeGpu('population check (fk corrector)', (gpu) => {
  it('the corrected population passes against the tilted law', async () => {
    const r = await runPopulationCheck(parseSpec(raw), opts, gpu);
    console.log(
      r.outcomes.map((o) => `${o.name}: |t| ${o.statistic.toFixed(2)} / ${o.threshold.toFixed(2)}`).join(', '),
    );
    expect(r.tests).toBe(5);
    expect(r.pass).toBe(true);
  });

  it('mutation twins fail: plain cfg, and the corrector on shifted data', async () => {
    const spec = parseSpec(raw);
    const plain = await runPopulationCheck(spec, opts, gpu, parseSpec({ ...raw, corrector: undefined }));
    expect(plain.pass).toBe(false);
    const shiftedClasses = TWO_GAUSSIANS.map((c) => ({
      ...c,
      components: c.components.map((k) => ({ ...k, mean: [k.mean[0] + 0.25] })),
    }));
    const shifted = await runPopulationCheck(spec, opts, gpu, parseSpec({ ...raw, classes: shiftedClasses }));
    console.log(
      `twins: plain fails ${plain.outcomes.filter((o) => !o.pass).length} tests, shifted ${shifted.outcomes.filter((o) => !o.pass).length}`,
    );
    expect(shifted.pass).toBe(false);
  });
});
