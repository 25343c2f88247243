// Builds the step kernel for one experiment: a generated header of constants and structs (from
// the TypeScript definitions; with a trained classifier or a learned denoiser their constants,
// src/gpu/classifier.ts, src/gpu/denoiser.ts; for the fast path its table bindings and lane type,
// and for step-gauss1 its coordinate type and unrolled component walk), then the kernel's file,
// shaders/step.wgsl, step-gauss4.wgsl or step-gauss1.wgsl (a kernel variant's layout,
// src/gpu/variants.ts), assembled by shaderText (src/gpu/program.ts): its #include lines bring the
// generator, the normal helpers and the mixture library, its #if CLASSIFIER / DENOISER branches the
// optional parts.
// Constants, not overrides, because WGSL sizes function-scope arrays only with const-expressions.
import type { Tableau } from '../solvers/tableau.ts';
import type { GuidanceVariant } from '../experiment/types.ts';
import type { GpuPlatform } from '../platform/types.ts';
import { COMPONENT_INFO, STEP_PARAMS, STEP_ROW, wgslStruct, structBytes } from './layout.ts';
import { GROUP_MASK, VARIANT_CODE, wgslCodes } from './codes.ts';
import { WORKGROUP_SIZE } from './planner.ts';
import { classifierHeader, type ClassifierLayout } from './classifier.ts';
import { cachedComputePipeline, shaderText } from './program.ts';
import { denoiserHeader, type DenoiserLayout } from './denoiser.ts';
import { type HeavyLayout, heavyHeader } from './heavy.ts';
import { cpuImplementation, type GpuAdapterInfo } from './device.ts';

export interface KernelConfig {
  /**
   * 'step': the general kernel (shaders/step.wgsl), one particle per invocation.
   * 'step-gauss4': the fast path (shaders/step-gauss4.wgsl), four particles per invocation,
   * for diagonal Gaussian components with linear guidance and no additive score error.
   * 'step-heavy': many full-covariance Gaussians (shaders/step-heavy.wgsl, src/gpu/heavy.ts).
   */
  kernel: 'step' | 'step-gauss4' | 'step-heavy';
  /** step-heavy only: its table layout (src/gpu/heavy.ts). */
  heavy?: HeavyLayout | null;
  dim: number;
  /** Components the kernel walks, target first. */
  components: number;
  /** How many of them (the first ones) belong to the target. */
  targetComponents: number;
  tableau: Tableau;
  hasUniform: boolean;
  fullCovariance: boolean;
  /**
   * When the negative law holds every target component at the target's log-weight plus a
   * fixed shift (cfg against the unconditional law, classifier guidance), the shift: the
   * kernel then reuses the target's log-sum-exp for the negative. null otherwise.
   */
  negativeFromTargetShift: number | null;
  priorScale: number;
  /** Components per workgroup-memory tile (0: read factors straight from storage). */
  tile: number;
  variant: GuidanceVariant;
  /** Score-error model: where it applies, and where its parameters start in `statics`. */
  scoreError: { target: boolean; negative: boolean; bias: boolean; features: number; offset: number };
  /**
   * Multi-condition guidance (general kernel only): the extra groups and where their data means
   * and per-row coefficients start in `statics` (src/gpu/mixture-table.ts). count 0: none.
   */
  extra?: { count: number; meanOffset: number; gammaOffset: number };
  /** The Feynman-Kac corrector's em step (general kernel only): one step per dispatch, weights in binding 7. */
  fk: boolean;
  /**
   * General kernel only: carry log q per particle (binding 7) through the ODE by
   * d log q/dt = -div u (src/gpu/log-density.ts). Off: the plain kernel, unchanged.
   */
  logDensity?: boolean;
  /**
   * The k-diffusion samplers (general kernel only): histories carried per particle and where
   * the per-step coefficients start in `statics` (src/solvers/samplers.ts). null: a tableau solver.
   */
  sampler?: { histories: number; offset: number; stride: number } | null;
  /**
   * step-gauss4 only: bytes of each uniform table binding (rows, factors, component infos,
   * statics), or 0 for storage bindings. See gauss4TableBindings.
   */
  uniformTableBytes?: number;
  /**
   * General kernel only: which of its tables are uniform bindings (llvmpipe, where they fit:
   * generalTables), the rest storage. See generalTableBindings.
   */
  generalUniform?: GeneralUniform | null;
  /**
   * step-gauss4 only: the fast path's kernel file, 'step-gauss4' (lanes of `lanes`, default) or
   * 'step-gauss1' (one particle per invocation in function-local state; lanes must be 1).
   */
  fastShader?: 'step-gauss4' | 'step-gauss1';
  /** step-gauss1 only: each component entry's group mask (GROUP_MASK bits), for its unrolled walk. */
  componentMasks?: readonly number[];
  /** step-gauss4 only: particles per invocation, one lane of `lanes` each (vec4<f32> for 4, f32 for 1; default 4). */
  lanes?: 1 | 4;
  /** Invocations per workgroup (default the planner's WORKGROUP_SIZE). */
  workgroupSize?: number;
  /**
   * Trained-classifier guidance (general kernel only): the layout of the `classifier` buffer
   * (binding 8) and the target class's index; shaders/classifier.wgsl is then included.
   */
  classifier?: { layout: ClassifierLayout; target: number } | null;
  /**
   * Learned denoisers (general kernel only): the layout of the `denoiser` buffer (binding 8, the
   * classifier's: never both); shaders/denoiser.wgsl is then included.
   */
  denoiser?: DenoiserLayout | null;
}

/** Floats of per-particle state the fk step carries: its drift and log q. */
export function fkStateStride(dim: number): number {
  return dim + 1;
}

/** Floats of per-particle state in `states` before the histories: apg's momentum. */
function histOffset(c: { variant: GuidanceVariant; dim: number }): number {
  return c.variant.kind === 'apg' ? c.dim : 0;
}

/** Floats of per-particle state of the general (non-fk) kernel: [momentum (apg)] [histories]. */
export function stateStride(c: {
  variant: GuidanceVariant;
  dim: number;
  sampler?: { histories: number } | null;
}): number {
  return histOffset(c) + (c.sampler?.histories ?? 0) * c.dim;
}

/** Stage component factors through workgroup memory once there are this many floats of them per row. */
const STAGE_FROM_FLOATS = 512;
/** Workgroup memory for a tile, at most (bytes; WebGPU guarantees 16 KiB). */
const TILE_BYTES = 8192;

/** Components per tile for the general kernel: 0 (no staging) for small mixtures. */
export function tileComponents(dim: number, components: number, maxWorkgroupStorage: number): number {
  const stride = factorStride(dim);
  if (components * stride < STAGE_FROM_FLOATS) return 0;
  return Math.max(1, Math.min(components, Math.floor(Math.min(TILE_BYTES, maxWorkgroupStorage) / (4 * stride))));
}

/**
 * Particles each invocation of a kernel owns (step-gauss4: its lanes, 4 by default; step-heavy:
 * four per set of its layout).
 */
export function particlesPerInvocation(
  kernel: KernelConfig['kernel'],
  lanes: 1 | 4 = 4,
  heavy?: HeavyLayout | null,
): number {
  if (kernel === 'step-heavy') return 4 * (heavy?.groups ?? 1);
  return kernel === 'step-gauss4' ? lanes : 1;
}

/** Floats per (row, component entry) in the factor table: [logNorm, 1/sigma, dim values, dim values]. */
export function factorStride(dim: number): number {
  return 2 + 2 * dim;
}

function f32Literal(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`kernel constant must be finite, got ${v}`);
  const s = Math.fround(v).toString();
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export function kernelHeader(c: KernelConfig): string {
  const stages = c.tableau.c.length;
  const a: number[] = [];
  for (let i = 0; i < stages; i++) for (let j = 0; j < stages; j++) a.push(c.tableau.a[i][j] ?? 0);
  return [
    wgslCodes(),
    '// ---- generated by src/gpu/kernel.ts ----',
    `const DIM: u32 = ${c.dim}u;`,
    `const NCOMP: u32 = ${c.components}u;`,
    `const NTARGET: u32 = ${c.targetComponents}u;`,
    `const HAS_UNIFORM: bool = ${c.hasUniform};`,
    `const HAS_FULL: bool = ${c.fullCovariance};`,
    `const NEG_FROM_TARGET: bool = ${c.negativeFromTargetShift !== null};`,
    `const NEG_TARGET_SHIFT: f32 = ${f32Literal(c.negativeFromTargetShift ?? 0)};`,
    `const STAGES: u32 = ${stages}u;`,
    `const WORKGROUP_SIZE: u32 = ${c.workgroupSize ?? WORKGROUP_SIZE}u;`,
    `const STOCHASTIC: bool = ${c.tableau.stochastic};`,
    `const PRIOR_SCALE: f32 = ${f32Literal(c.priorScale)};`,
    `const VARIANT: u32 = ${VARIANT_CODE[c.variant.kind]}u;`,
    `const VARIANT_PHI: f32 = ${f32Literal(c.variant.kind === 'rescale' ? c.variant.phi : 0)};`,
    `const VARIANT_ALPHA: f32 = ${f32Literal(c.variant.kind === 'powerlaw' ? c.variant.alpha : 0)};`,
    `const VARIANT_ETA: f32 = ${f32Literal(c.variant.kind === 'apg' ? c.variant.eta : 0)};`,
    `const VARIANT_R: f32 = ${f32Literal(c.variant.kind === 'apg' && c.variant.r !== null ? c.variant.r : -1)}; // < 0: no cap`,
    `const VARIANT_BETA: f32 = ${f32Literal(c.variant.kind === 'apg' ? c.variant.beta : 0)};`,
    `const ERR_TARGET: bool = ${c.scoreError.target};`,
    `const ERR_NEGATIVE: bool = ${c.scoreError.negative};`,
    `const ERR_BIAS: bool = ${c.scoreError.bias};`,
    `const ERR_FEATURES: u32 = ${c.scoreError.features}u;`,
    `const ERR_OFFSET: u32 = ${c.scoreError.offset}u;`,
    `const FACTOR_STRIDE: u32 = ${factorStride(c.dim)}u;`,
    `const NEXTRA: u32 = ${c.extra?.count ?? 0}u;`,
    `const NEXTRA_SLOTS: u32 = ${Math.max(1, c.extra?.count ?? 0)}u;`,
    `const EXTRA_MEAN_OFFSET: u32 = ${c.extra?.meanOffset ?? 0}u;`,
    `const EXTRA_GAMMA_OFFSET: u32 = ${c.extra?.gammaOffset ?? 0}u;`,
    `const FK: bool = ${c.fk};`,
    `const LOG_DENSITY: bool = ${c.logDensity ?? false};`,
    `const FK_STATE_STRIDE: u32 = ${fkStateStride(c.dim)}u;`,
    `const DENOISED: bool = ${!!c.sampler};`,
    `const HISTORIES: u32 = ${c.sampler?.histories ?? 0}u;`,
    `const HIST_SLOTS: u32 = ${Math.max(1, c.sampler?.histories ?? 0)}u;`,
    `const SAMPLER_OFFSET: u32 = ${c.sampler?.offset ?? 0}u;`,
    `const SAMPLER_STRIDE: u32 = ${c.sampler?.stride ?? 0}u;`,
    `const HIST_OFFSET: u32 = ${histOffset(c)}u;`,
    `const STATE_STRIDE: u32 = ${stateStride(c)}u;`,
    `const TILE: u32 = ${c.tile}u;`,
    `const TILE_FLOATS: u32 = ${Math.max(1, c.tile * factorStride(c.dim))}u;`,
    `const TABLEAU_A = array<f32, ${stages * stages}>(${a.map(f32Literal).join(', ')});`,
    `const TABLEAU_B = array<f32, ${stages}>(${c.tableau.b.map(f32Literal).join(', ')});`,
    wgslStruct(STEP_ROW),
    wgslStruct(STEP_PARAMS),
    wgslStruct(COMPONENT_INFO),
  ].join('\n');
}

// ---- step-gauss4 table bindings ----
// The fast path reads its per-step tables through uniform bindings where they fit: on a CPU
// adapter (lavapipe, Mesa 25.0) uniform loads at constant offsets are one scalar load broadcast
// to the SIMD lanes, and those at offsets from the step counter, still per-lane gathers, are
// cheaper than storage ones (1.5x particle-steps/s on the standard workload). Rows and
// factors are then per-dispatch windows of
// at most UNIFORM_TABLE_BYTES (the planner bounds the steps per dispatch); where one step's
// tables do not fit, the same declarations in storage (the sampler decides, per spec).

/** Bytes of one row slot in the step-gauss4 rows window: StepRow padded to a 16-byte stride. */
export const GAUSS4_ROW_SLOT_BYTES = Math.ceil(structBytes(STEP_ROW) / 16) * 16;
/** Size of each uniform table binding of step-gauss4 (WebGPU guarantees 64 KiB). */
export const UNIFORM_TABLE_BYTES = 65536;

/** step-gauss4's lane type: LANES particles per invocation, one lane each, and their accessors. */
function gauss4Lanes(lanes: 1 | 4): string[] {
  if (lanes === 4) {
    return [
      'const LANES: u32 = 4u;',
      'alias lanes = vec4<f32>;',
      'fn lane_get(v: lanes, lane: u32) -> f32 { return v[lane]; }',
      'fn lane_set(v: lanes, lane: u32, value: f32) -> lanes { var r = v; r[lane] = value; return r; }',
    ];
  }
  return [
    'const LANES: u32 = 1u;',
    'alias lanes = f32;',
    'fn lane_get(v: lanes, lane: u32) -> f32 { return v; }',
    'fn lane_set(v: lanes, lane: u32, value: f32) -> lanes { return value; }',
  ];
}

/** step-gauss1's coordinate type `coords` (f32, vec2, vec3, vec4 for DIM 1..4) and its helpers. */
function gauss1Coords(dim: number): string[] {
  if (dim < 1 || dim > 4) return [];
  const type = dim === 1 ? 'f32' : `vec${dim}<f32>`;
  const xyzw = 'xyzw'.slice(0, dim);
  const list = (f: (j: number) => string): string => Array.from({ length: dim }, (_, j) => f(j)).join(', ');
  const quad = Array.from({ length: dim }, (_, j) =>
    dim === 1 ? ' - 0.5 * r * q' : ` - 0.5 * r.${xyzw[j]} * q.${xyzw[j]}`,
  );
  const store = Array.from(
    { length: dim },
    (_, j) => `particles[p * DIM + ${j}u] = ${dim === 1 ? 'x' : `x.${xyzw[j]}`};`,
  );
  return [
    `alias coords = ${type};`,
    `fn load_factors(i: u32) -> coords { return coords(${list((j) => `factor(i + ${j}u)`)}); }`,
    `fn load_statics(i: u32) -> coords { return coords(${list((j) => `static_value(i + ${j}u)`)}); }`,
    `fn load_particle(p: u32) -> coords { return coords(${list((j) => `particles[p * DIM + ${j}u]`)}); }`,
    `fn store_particle(p: u32, x: coords) { ${store.join(' ')} }`,
    // logp -= 0.5 r_j q_j for j = 0, 1, ... in step-gauss4's order.
    `fn quadratic(logp: f32, r: coords, q: coords) -> f32 { return logp${quad.join('')}; }`,
    `fn from_normal4(z: vec4<f32>) -> coords { return z.${xyzw}; }`,
  ];
}

/** Components up to which step-gauss1 walks them unrolled (gauss1Walk). */
export const GAUSS1_UNROLL = 32;

/**
 * step-gauss1's walk over the components: unrolled (constant indices, each entry's groups from its
 * mask) up to GAUSS1_UNROLL components, else the kernel's loop (walk_loop).
 */
function gauss1Walk(c: KernelConfig): string {
  const masks = c.componentMasks;
  const head = 'fn walk_components(s_in: Lse, first_entry: u32, xs: coords) -> Lse {';
  if (!masks || masks.length !== c.components || masks.length > GAUSS1_UNROLL)
    return `${head} return walk_loop(s_in, first_entry, xs); }`;
  const lines = [head, '  var s = s_in;'];
  const shift = c.negativeFromTargetShift !== null;
  for (const [k, mask] of masks.entries()) {
    if (shift && k === c.targetComponents) lines.push('  s = negative_from_target(s);');
    lines.push(`  let t${k} = component_term(first_entry + ${k}u, xs);`);
    if (mask & GROUP_MASK.target) lines.push(`  s = add_target(s, ${k}u, t${k});`);
    if (mask & GROUP_MASK.negative) lines.push(`  s = add_negative(s, ${k}u, t${k});`);
  }
  if (shift && c.targetComponents === masks.length) lines.push('  s = negative_from_target(s);');
  lines.push('  return s;', '}');
  return lines.join('\n');
}

/** Declarations of step-gauss4's lanes and bindings 1-4 (rows, factors, components, statics as vec4s). */
export function gauss4TableBindings(c: KernelConfig): string {
  const bytes = c.uniformTableBytes ?? 0;
  const space = bytes > 0 ? 'uniform' : 'storage, read';
  const n = (count: number): string => (bytes > 0 ? `, ${count}` : '');
  return [
    ...gauss4Lanes(c.lanes ?? 4),
    `struct StepRowSlot { @size(${GAUSS4_ROW_SLOT_BYTES}) row: StepRow, }`,
    `@group(0) @binding(1) var<${space}> rows: array<StepRowSlot${n(Math.floor(bytes / GAUSS4_ROW_SLOT_BYTES))}>;`,
    `@group(0) @binding(3) var<${space}> components: array<ComponentInfo${n(c.components)}>;`,
    // Uniform arrays have a 16-byte stride: vec4s there, read by component; flat f32 in storage
    // (SwiftShader loads a vec4 and picks the component per lane: 4x the loads).
    ...(bytes > 0
      ? [
          `@group(0) @binding(2) var<uniform> factors: array<vec4<f32>, ${Math.floor(bytes / 16)}>;`,
          `@group(0) @binding(4) var<uniform> statics: array<vec4<f32>, ${Math.ceil((2 * c.dim) / 4)}>;`,
          'fn factor(i: u32) -> f32 { return factors[i >> 2u][i & 3u]; }',
          'fn static_value(i: u32) -> f32 { return statics[i >> 2u][i & 3u]; }',
        ]
      : [
          '@group(0) @binding(2) var<storage, read> factors: array<f32>;',
          '@group(0) @binding(4) var<storage, read> statics: array<f32>;',
          'fn factor(i: u32) -> f32 { return factors[i]; }',
          'fn static_value(i: u32) -> f32 { return statics[i]; }',
        ]),
  ].join('\n');
}

/**
 * The general kernel's tables held in uniform bindings (each 0: that table in storage): the factor
 * window's bytes, the step rows' count (the whole table), the component infos' count.
 */
export interface GeneralUniform {
  factorBytes: number;
  rows: number;
  components: number;
}

/**
 * Where the general kernel reads its tables (factor window, step rows, component infos) from by
 * default: uniform bindings on llvmpipe (each where it fits), storage, with the factors staged
 * through workgroup memory, elsewhere. Mesa's llvmpipe loads storage (and workgroup memory) at an
 * offset that is not a constant one lane at a time inside a loop, each behind a branch, while a
 * uniform value is a straight gather: the standard workload on the general kernel ran 1.25x faster
 * there with its factors in a uniform binding, and 1.17x faster again with its rows and component
 * infos too. On SwiftShader the uniform factor window was 0.75x, so it keeps storage
 * (docs/benchmarks.md).
 */
export function generalTables(adapter: Pick<GpuAdapterInfo, 'label'>): 'uniform' | 'storage' {
  return cpuImplementation(adapter) === 'llvmpipe' ? 'uniform' : 'storage';
}

/** The general kernel's table bindings 1-3 and the factor reader factor_value(i) (flat f32 index). */
function generalTableBindings(c: KernelConfig): string[] {
  const u = c.generalUniform ?? { factorBytes: 0, rows: 0, components: 0 };
  return [
    u.rows > 0
      ? `@group(0) @binding(1) var<uniform> rows: array<StepRow, ${u.rows}>;`
      : '@group(0) @binding(1) var<storage, read> rows: array<StepRow>;',
    ...(u.factorBytes > 0
      ? [
          `@group(0) @binding(2) var<uniform> factors: array<vec4<f32>, ${u.factorBytes / 16}>;`,
          'fn factor_value(i: u32) -> f32 { return factors[i >> 2u][i & 3u]; }',
        ]
      : [
          '@group(0) @binding(2) var<storage, read> factors: array<f32>;',
          'fn factor_value(i: u32) -> f32 { return factors[i]; }',
        ]),
    u.components > 0
      ? `@group(0) @binding(3) var<uniform> components: array<ComponentInfo, ${u.components}>;`
      : '@group(0) @binding(3) var<storage, read> components: array<ComponentInfo>;',
  ];
}

/** The lane type of a one-particle-per-invocation kernel that includes shaders/lib/mixture-lanes.wgsl. */
export const SCALAR_LANES = 'alias lanes = f32; // one particle per invocation (shaders/lib/mixture-lanes.wgsl)';

export function stepKernelSource(platform: GpuPlatform, c: KernelConfig): string {
  if (c.kernel === 'step-heavy') {
    if (!c.heavy) throw new Error('the heavy kernel needs its table layout');
    return [kernelHeader(c), heavyHeader(c.heavy), shaderText(platform, 'step-heavy')].join('\n');
  }
  if (c.fastShader === 'step-gauss1' && c.lanes !== 1)
    throw new Error('step-gauss1 runs one particle per invocation (lanes 1)');
  if (c.logDensity && (c.kernel !== 'step' || c.fk || c.classifier))
    throw new Error('log-density carrying runs on the general step kernel only, without fk or a classifier');
  if (c.classifier && c.kernel !== 'step') throw new Error('classifier guidance runs on the general step kernel only');
  if (c.sampler && (c.kernel !== 'step' || c.fk || c.logDensity || c.classifier)) {
    throw new Error(
      'the k-diffusion samplers run on the general step kernel only, without fk, log-density or a classifier',
    );
  }
  checkDenoiser(c);
  // The generated declarations first (WGSL's module scope is order-free), then the kernel's file
  // with its includes and, on the general kernel, the CLASSIFIER / DENOISER branches.
  const generated = [
    kernelHeader(c),
    ...(c.kernel === 'step' ? [SCALAR_LANES, ...generalTableBindings(c)] : []),
    ...(c.kernel === 'step-gauss4' ? [gauss4TableBindings(c)] : []),
    ...(c.fastShader === 'step-gauss1' ? [...gauss1Coords(c.dim), gauss1Walk(c)] : []),
    ...(c.classifier ? [classifierHeader(c.classifier.layout, c.classifier.target)] : []),
    ...(c.denoiser ? [denoiserHeader(c.denoiser)] : []),
  ];
  const file = c.kernel === 'step-gauss4' ? (c.fastShader ?? 'step-gauss4') : c.kernel;
  const flags: Record<string, boolean> =
    c.kernel === 'step' ? { CLASSIFIER: Boolean(c.classifier), DENOISER: Boolean(c.denoiser) } : {};
  return [...generated, shaderText(platform, file, flags)].join('\n');
}

/** Where a learned denoiser may not run: the fast path, with a classifier (one binding 8), fk, log-density. */
function checkDenoiser(c: KernelConfig): void {
  if (!c.denoiser) return;
  if (c.kernel !== 'step' || c.classifier || c.fk || c.logDensity)
    throw new Error('learned denoisers run on the general step kernel only, without a classifier, fk or log-density');
}

export function createStepPipeline(
  device: GPUDevice,
  platform: GpuPlatform,
  c: KernelConfig,
): Promise<GPUComputePipeline> {
  return cachedComputePipeline(device, 'step', stepKernelSource(platform, c));
}
