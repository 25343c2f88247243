// The codes the host writes into the kernels' tables and the kernels test, defined once here:
// every kernel's header gets them as WGSL constants (wgslCodes), and the host packers use the
// same objects, so a code cannot differ between TypeScript and WGSL.
import type { GuidanceVariant } from '../experiment/types.ts';

/** A mixture component's kind in a component info record. */
export const COMPONENT_KIND = { gaussian: 0, gaussianFull: 1, uniform: 2 } as const;

/**
 * Which groups a component entry belongs to: bits of its info record's mask. An entry of a
 * multi-condition guidance term's group (`extra`) belongs to that group only: extra group
 * mask >> EXTRA_GROUP_SHIFT, at log-weight logWeightTarget (the general step kernel only).
 */
export const GROUP_MASK = { target: 1, negative: 2, extra: 4 } as const;
export const EXTRA_GROUP_SHIFT = 3;

/**
 * The step kernel's guidance-variant codes (combine_scores in shaders/step.wgsl). cfgpp runs as
 * linear: its rule is in the step rows' coefficients.
 */
export const VARIANT_CODE = {
  linear: 0,
  rescale: 1,
  powerlaw: 2,
  apg: 3,
  cfgzero: 4,
  tangential: 5,
  cfgpp: 0,
} as const satisfies Record<GuidanceVariant['kind'], number>;

/** Which score a learned denoiser replaces (shaders/denoiser.wgsl; src/gpu/denoiser.ts's model slots). */
export const DENOISER_SLOT = { target: 0, negative: 1 } as const;

/** The kind code of a prepared component (full: a Gaussian with an eigenbasis). */
export function componentKind(c: { kind: 'gaussian' | 'uniform'; basis?: unknown }): number {
  if (c.kind === 'uniform') return COMPONENT_KIND.uniform;
  return c.basis ? COMPONENT_KIND.gaussianFull : COMPONENT_KIND.gaussian;
}

/** The codes as WGSL constants (KIND_*, IN_TARGET, IN_NEGATIVE, IN_EXTRA, VARIANT_*). */
export function wgslCodes(): string {
  return [
    `const KIND_GAUSSIAN: u32 = ${COMPONENT_KIND.gaussian}u;`,
    `const KIND_GAUSSIAN_FULL: u32 = ${COMPONENT_KIND.gaussianFull}u;`,
    `const KIND_UNIFORM: u32 = ${COMPONENT_KIND.uniform}u;`,
    `const IN_TARGET: u32 = ${GROUP_MASK.target}u;`,
    `const IN_NEGATIVE: u32 = ${GROUP_MASK.negative}u;`,
    `const IN_EXTRA: u32 = ${GROUP_MASK.extra}u;`,
    `const EXTRA_GROUP_SHIFT: u32 = ${EXTRA_GROUP_SHIFT}u;`,
    `const VARIANT_LINEAR: u32 = ${VARIANT_CODE.linear}u;`,
    `const VARIANT_RESCALE: u32 = ${VARIANT_CODE.rescale}u;`,
    `const VARIANT_POWERLAW: u32 = ${VARIANT_CODE.powerlaw}u;`,
    `const VARIANT_APG: u32 = ${VARIANT_CODE.apg}u;`,
    `const VARIANT_CFGZERO: u32 = ${VARIANT_CODE.cfgzero}u;`,
    `const VARIANT_TANGENTIAL: u32 = ${VARIANT_CODE.tangential}u;`,
    `const DEN_SLOT_TARGET: u32 = ${DENOISER_SLOT.target}u;`,
    `const DEN_SLOT_NEGATIVE: u32 = ${DENOISER_SLOT.negative}u;`,
  ].join('\n');
}
