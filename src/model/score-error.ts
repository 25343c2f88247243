// Models of score error (the optional spec field `scoreError`), applied to the target's
// and/or the negative's score. The random field's parameters are drawn once on the host
// from the counter-based generator, so the CPU and the GPU see the same field.
import type { ScoreErrorSpec } from '../experiment/types.ts';
import { normal4 } from '../rng/philox.ts';

/** Streams of the generator reserved for the field's parameters (far from the sampler's 0..steps). */
const FIELD_STREAM = 0xf1e1d000;

export interface PreparedScoreError {
  spec: ScoreErrorSpec;
  appliesToTarget: boolean;
  appliesToNegative: boolean;
  /** bias: the vector added. */
  bias: Float64Array | null;
  /** field: omega (F x dim), phase (F), direction (F x dim) scaled by amplitude sqrt(2/F). */
  field: { features: number; omega: Float64Array; phase: Float64Array; direction: Float64Array } | null;
  /** blur: delta^2 (sigma^2 -> sigma^2 + alpha^2 delta^2), else 0. */
  blur2: number;
}

export function prepareScoreError(spec: ScoreErrorSpec, dim: number): PreparedScoreError {
  const applyTo = spec.kind === 'none' ? 'none' : spec.applyTo;
  const out: PreparedScoreError = {
    spec,
    appliesToTarget: applyTo === 'target' || applyTo === 'both',
    appliesToNegative: applyTo === 'negative' || applyTo === 'both',
    bias: spec.kind === 'bias' ? Float64Array.from(spec.value) : null,
    field: null,
    blur2: spec.kind === 'blur' ? spec.delta * spec.delta : 0,
  };
  if (spec.kind === 'field') {
    const F = spec.features;
    const omega = new Float64Array(F * dim);
    const phase = new Float64Array(F);
    const direction = new Float64Array(F * dim);
    const z = new Float64Array(4);
    const scale = spec.amplitude * Math.sqrt(2 / F);
    for (let f = 0; f < F; f++) {
      for (let i = 0; i < dim; i++) {
        if (i % 4 === 0) normal4(spec.seed, f, FIELD_STREAM, i / 4, z);
        omega[f * dim + i] = z[i % 4] / spec.lengthScale;
      }
      for (let i = 0; i < dim; i++) {
        if (i % 4 === 0) normal4(spec.seed, f, FIELD_STREAM + 1, i / 4, z);
        direction[f * dim + i] = scale * z[i % 4];
      }
      normal4(spec.seed, f, FIELD_STREAM + 2, 0, z);
      // A uniform phase from a normal pair's angle: atan2 of two independent normals is U(-pi, pi).
      phase[f] = Math.atan2(z[1], z[0]);
    }
    out.field = { features: F, omega, phase, direction };
  }
  return out;
}

/** s += error(x), for a group the error applies to. */
export function addScoreError(e: PreparedScoreError, x: ArrayLike<number>, s: Float64Array): void {
  const d = s.length;
  if (e.bias) for (let i = 0; i < d; i++) s[i] += e.bias[i];
  if (e.field) {
    const { features, omega, phase, direction } = e.field;
    for (let f = 0; f < features; f++) {
      let arg = phase[f];
      for (let i = 0; i < d; i++) arg += omega[f * d + i] * x[i];
      const c = Math.cos(arg);
      for (let i = 0; i < d; i++) s[i] += c * direction[f * d + i];
    }
  }
}

/**
 * div_x of the error added to a score: bias 0; field -sum_f sin(omega_f . x + phi_f) omega_f . u_f
 * (u_f the scaled direction); blur has no additive term (its widened law's divergence is the
 * evaluator's).
 */
export function scoreErrorDivergence(e: PreparedScoreError, x: ArrayLike<number>): number {
  if (!e.field) return 0;
  const { features, omega, phase, direction } = e.field;
  const d = omega.length / features;
  let div = 0;
  for (let f = 0; f < features; f++) {
    let arg = phase[f];
    let dot = 0;
    for (let i = 0; i < d; i++) {
      arg += omega[f * d + i] * x[i];
      dot += omega[f * d + i] * direction[f * d + i];
    }
    div -= Math.sin(arg) * dot;
  }
  return div;
}

/**
 * out (dim x dim, row-major) += coef * the Jacobian of the error added to a score: bias 0; field
 * -sum_f sin(omega_f . x + phi_f) u_f omega_f^T (its trace is scoreErrorDivergence); blur none.
 */
export function addScoreErrorJacobian(
  e: PreparedScoreError,
  x: ArrayLike<number>,
  coef: number,
  out: Float64Array,
): void {
  if (!e.field) return;
  const { features, omega, phase, direction } = e.field;
  const d = omega.length / features;
  for (let f = 0; f < features; f++) {
    let arg = phase[f];
    for (let i = 0; i < d; i++) arg += omega[f * d + i] * x[i];
    const sn = coef * Math.sin(arg);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) out[i * d + j] -= sn * direction[f * d + i] * omega[f * d + j];
  }
}
