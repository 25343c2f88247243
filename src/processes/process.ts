// The forward processes of SPEC.md, all of the form x_t = alpha(t) x_0 + sigma(t) eps.
// Each returns the coefficients a solver needs at one time t; the per-step tables
// (src/solvers/table.ts) are built from these once, on the host.
import type { ProcessSpec } from '../experiment/types.ts';

export interface ProcessCoefficients {
  t: number;
  alpha: number;
  sigma2: number;
  /** (log alpha)'(t): the drift is f(x, t) = dLogAlpha * x. Infinite for flow at t = 1. */
  dLogAlpha: number;
  /** alpha'(t). */
  dAlpha: number;
  /** sigma sigma' = (sigma^2)'/2. */
  sigmaDSigma: number;
  /** g(t)^2 = (sigma^2)' - 2 (log alpha)' sigma^2. */
  g2: number;
}

/** The time at which sampling starts. */
export function startTime(p: ProcessSpec): number {
  switch (p.kind) {
    case 'ou':
      return p.T;
    case 've':
      return p.sigmaMax;
    case 'vp':
    case 'flow':
      return 1;
  }
}

/** Standard deviation of the prior that sampling starts from. */
export function priorScale(p: ProcessSpec): number {
  return p.kind === 've' ? p.sigmaMax : 1;
}

export function processAt(p: ProcessSpec, t: number): ProcessCoefficients {
  switch (p.kind) {
    case 'ou': {
      const alpha = Math.exp(-t);
      return {
        t,
        alpha,
        sigma2: -Math.expm1(-2 * t),
        dLogAlpha: -1,
        dAlpha: -alpha,
        sigmaDSigma: alpha * alpha,
        g2: 2,
      };
    }
    case 'vp': {
      const beta = p.betaMin + (p.betaMax - p.betaMin) * t;
      const integral = p.betaMin * t + 0.5 * (p.betaMax - p.betaMin) * t * t;
      const alpha = Math.exp(-0.5 * integral);
      return {
        t,
        alpha,
        sigma2: -Math.expm1(-integral),
        dLogAlpha: -0.5 * beta,
        dAlpha: -0.5 * beta * alpha,
        sigmaDSigma: 0.5 * alpha * alpha * beta,
        g2: beta,
      };
    }
    case 've':
      return { t, alpha: 1, sigma2: t * t, dLogAlpha: 0, dAlpha: 0, sigmaDSigma: t, g2: 2 * t };
    case 'flow':
      return {
        t,
        alpha: 1 - t,
        sigma2: t * t,
        dLogAlpha: -1 / (1 - t),
        dAlpha: -1,
        sigmaDSigma: t,
        g2: (2 * t) / (1 - t),
      };
  }
}

/**
 * The VE noise level sigma(t)/alpha(t) (the k-diffusion samplers' sigma, under x/alpha), and
 * its inverse: the time t > 0 with sigma(t)/alpha(t) = s (monotone in t for every process).
 * Defined beyond the start time as well (a churned step raises the noise level above it).
 */
export function veSigma(p: ProcessSpec, t: number): number {
  const c = processAt(p, t);
  return c.alpha > 0 ? Math.sqrt(c.sigma2) / c.alpha : Infinity;
}

export function timeAtVeSigma(p: ProcessSpec, s: number): number {
  switch (p.kind) {
    case 've':
      return s;
    case 'ou':
      // e^{2t} - 1 = s^2
      return 0.5 * Math.log1p(s * s);
    case 'vp': {
      // int_0^t beta = betaMin t + (betaMax - betaMin) t^2 / 2 = log(1 + s^2), the positive root
      // written without cancellation.
      const l = Math.log1p(s * s);
      const d = p.betaMax - p.betaMin;
      return (2 * l) / (p.betaMin + Math.sqrt(p.betaMin * p.betaMin + 2 * d * l));
    }
    case 'flow':
      return s / (1 + s);
  }
}
