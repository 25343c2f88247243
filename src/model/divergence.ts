// Which specs have a log-density by the ODE change of variables (issue 13): the guided
// velocity must be a fixed linear combination of scores, u = cx x + cs (gT s_T + gN s_N) + ...,
// so that div u = cx dim + cs (gT div s_T + gN div s_N) is closed form, and the sampler a
// deterministic flow. Everything else is refused with the field that makes it so.
import type { ExperimentSpec } from '../experiment/types.ts';

export interface LogDensityRefusal {
  path: string;
  message: string;
}

export function logDensityUnsupported(spec: ExperimentSpec): LogDensityRefusal | null {
  const g = spec.guidance;
  if (g.kind === 'cfg' && g.variant.kind !== 'linear') {
    return {
      path: 'guidance.variant',
      message: `log-density needs linear guidance (got ${g.variant.kind}: its velocity is not a fixed combination of scores)`,
    };
  }
  if (spec.solver.kind === 'em') {
    return { path: 'solver.kind', message: 'log-density needs an ODE solver (euler, heun, rk4); em is stochastic' };
  }
  // The k-diffusion samplers are not a tableau on u: their log-density would need the Jacobian
  // of each multistep or churned update, which is not carried (docs/solvers.md).
  if (!['euler', 'heun', 'rk4'].includes(spec.solver.kind)) {
    return {
      path: 'solver.kind',
      message: `log-density needs euler, heun or rk4; ${spec.solver.kind} does not carry log q`,
    };
  }
  if (spec.corrector) {
    return { path: 'corrector', message: 'log-density is not defined for a resampled (fk) population' };
  }
  return null;
}

/** Throws the refusal as an Error "path: message" (the CLI maps it to exit 2). */
export function assertLogDensitySupported(spec: ExperimentSpec): void {
  const r = logDensityUnsupported(spec);
  if (r) throw new LogDensityError(r);
}

export class LogDensityError extends Error {
  readonly refusal: LogDensityRefusal;
  constructor(r: LogDensityRefusal) {
    super(`${r.path}: ${r.message}`);
    this.name = 'LogDensityError';
    this.refusal = r;
  }
}
