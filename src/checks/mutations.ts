// Deliberately broken samplers for the mutation twins of the checks: the same spec with the
// target class changed, sampled exactly as the original, and checked against the original's
// exact target (runCheck's `sampler` argument). Every statistical test must fail such a twin
// when the mutation exceeds the power it states.
import type { Component, ExperimentSpec } from '../experiment/types.ts';

function mapTarget(spec: ExperimentSpec, f: (c: Component[]) => Component[]): ExperimentSpec {
  const classes = spec.classes.map((c) => (c.name === spec.target ? { ...c, components: f(c.components) } : c));
  return { ...spec, classes };
}

/** Every Gaussian covariance of the target class times `factor` (a box's width times sqrt(factor) about its centre). */
export function scaleVariance(spec: ExperimentSpec, factor: number): ExperimentSpec {
  return mapTarget(spec, (cs) =>
    cs.map((c): Component => {
      if (c.kind === 'uniform') {
        const r = Math.sqrt(factor);
        return {
          ...c,
          low: c.low.map((l, i) => 0.5 * (l + c.high[i]) - 0.5 * r * (c.high[i] - l)),
          high: c.high.map((h, i) => 0.5 * (c.low[i] + h) + 0.5 * r * (h - c.low[i])),
        };
      }
      const cov = c.cov;
      if (cov.kind === 'isotropic') return { ...c, cov: { kind: 'isotropic', variance: cov.variance * factor } };
      if (cov.kind === 'diagonal')
        return { ...c, cov: { kind: 'diagonal', variances: cov.variances.map((v) => v * factor) } };
      return { ...c, cov: { kind: 'full', matrix: cov.matrix.map((row) => row.map((v) => v * factor)) } };
    }),
  );
}

/** The target class shifted by `shift` along coordinate 0. */
export function shiftMean(spec: ExperimentSpec, shift: number): ExperimentSpec {
  return mapTarget(spec, (cs) =>
    cs.map(
      (c): Component =>
        c.kind === 'uniform'
          ? {
              ...c,
              low: c.low.map((l, i) => (i === 0 ? l + shift : l)),
              high: c.high.map((h, i) => (i === 0 ? h + shift : h)),
            }
          : { ...c, mean: c.mean.map((m, i) => (i === 0 ? m + shift : m)) },
    ),
  );
}

/** The target class without its component `index` (the others renormalised). */
export function dropMode(spec: ExperimentSpec, index: number): ExperimentSpec {
  return mapTarget(spec, (cs) => {
    const kept = cs.filter((_, i) => i !== index);
    const total = kept.reduce((a, c) => a + c.weight, 0);
    return kept.map((c) => ({ ...c, weight: c.weight / total }));
  });
}
