// The heavy-mixture kernel's host side (shaders/step-heavy.wgsl): when it is chosen, its table
// layout, the per-(row, component) table of noised means, precisions (from Cholesky factors) and
// log-weights plus log-normalisers (computed once per step on the host, in f64), and its extra
// header constants. The choice is made here, in one place (heavyEligible), and src/gpu/sampler.ts
// follows it.
import type { PreparedComponent } from '../model/components.ts';
import type { StepRow } from '../solvers/table.ts';
import { GROUP_MASK } from './codes.ts';
import { cpuImplementation, type GpuAdapterInfo } from './device.ts';

/** What the heavy kernel reads of src/gpu/mixture-table.ts's MixtureTable (not imported: that module imports kernel.ts, which imports this one). */
export interface HeavyMixture {
  entries: readonly { mask: number; blurred: boolean; logWeightTarget: number; logWeightNegative: number }[];
  targetCount: number;
  comps: readonly PreparedComponent[];
  fullCovariance: boolean;
}

/** Walked component entries from which the heavy kernel replaces the general one. */
export const HEAVY_MIN_COMPONENTS = 64;
/**
 * Sets of four particles per invocation (each set the columns of the kernel's Pts), by default:
 * one read of a component's factors from workgroup memory then serves 4 x this many evaluations.
 * A CPU adapter (lavapipe, SwiftShader: isFallback) reads workgroup memory lane by lane, so it
 * gets 4 sets (16 particles; measured on lavapipe, edm2's tree: 1.2x per CPU-second over 2 sets,
 * 2 sets 1.35x over 1); a GPU keeps 1 set for occupancy (not measured here: no GPU).
 */
export function heavyGroups(adapter: { isFallback?: boolean }): number {
  return adapter.isFallback ? 4 : 1;
}
/**
 * Where the kernel reads each step's entries: 'tiles' copies them through workgroup memory, shared
 * by the workgroup (a GPU, and SwiftShader, where uniform rows measured no faster); 'uniform'
 * reads them from one uniform binding per stage (llvmpipe). Mesa 25.0's llvmpipe loads workgroup
 * memory inside a loop lane by lane, with a branch per lane, while a uniform load is a straight
 * gather: on lavapipe, edm2's tree, 1.15-1.3x per CPU-second (docs/benchmarks.md, heavy-tree-8).
 */
export type HeavyRows = 'tiles' | 'uniform';

export function heavyRows(adapter: Pick<GpuAdapterInfo, 'label'>): HeavyRows {
  return cpuImplementation(adapter) === 'llvmpipe' ? 'uniform' : 'tiles';
}
/** Uniform bindings the kernel may take for its stages (WebGPU guarantees 12 per stage; params takes one). */
const HEAVY_MAX_UNIFORM_STAGES = 8;
/** The first binding of the uniform stage windows (stage i at HEAVY_STAGE_BINDING + i). */
export const HEAVY_STAGE_BINDING = 10;
/** Dimensions the kernel takes: WGSL's vector and matrix sizes (a full covariance needs 2). */
export const HEAVY_DIMS = { min: 2, max: 4 } as const;
/** Workgroup memory for a tile, at most (bytes; WebGPU guarantees 16 KiB). */
const HEAVY_TILE_BYTES = 16384;

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** What the choice depends on, from the sampler's setup. */
export interface HeavyCandidate {
  mixture: HeavyMixture;
  /** The spec runs on the plain general kernel's feature set: a tableau solver, linear guidance, none of fk, log-density, a classifier. */
  plain: boolean;
  /** An additive score error (bias or field): the heavy kernel has none. */
  additiveScoreError: boolean;
}

/**
 * Whether the heavy kernel runs: 2 to 4 dimensions, more than HEAVY_MIN_COMPONENTS walked
 * entries, every one a Gaussian and some with a full covariance (diagonal mixtures keep the
 * step-gauss4 fast path), each entry in one group only (a target entry that the negative also walks at another
 * weight stays on the general kernel), and the plain feature set.
 */
export function heavyEligible(c: HeavyCandidate, dim: number): boolean {
  const { mixture } = c;
  return (
    dim >= HEAVY_DIMS.min &&
    dim <= HEAVY_DIMS.max &&
    c.plain &&
    mixture.fullCovariance &&
    !c.additiveScoreError &&
    mixture.entries.length > HEAVY_MIN_COMPONENTS &&
    mixture.comps.every((k) => k.kind === 'gaussian') &&
    mixture.entries.every((e) => e.mask !== (GROUP_MASK.target | GROUP_MASK.negative))
  );
}

export interface HeavyLayout {
  dim: number;
  /**
   * Floats per entry: the WGSL struct HeavyEntry { w: MatD, shift: VecD, lw: f32 } in storage
   * layout (column-major W with columns of colStride floats, then shift at shiftOffset, lw at
   * lwOffset, the struct padded to its alignment).
   */
  stride: number;
  colStride: number;
  shiftOffset: number;
  lwOffset: number;
  /** Entries of each group. */
  target: number;
  negative: number;
  /** Entries per workgroup-memory tile. */
  tile: number;
  /** Sets of four particles per invocation. */
  groups: number;
  /** Where the kernel reads the entries (HeavyRows); 'uniform' only where a row fits one uniform binding. */
  rows: HeavyRows;
  /** Solver stages per step (the uniform windows: one binding each). */
  stages: number;
  /** Steps per dispatch window (the uniform windows' length; the sampler sets it from its plan). */
  windowSteps: number;
  /** The adapter's minUniformBufferOffsetAlignment (the uniform windows' offsets). */
  uniformAlignment: number;
}

/** Bytes of one (step, stage) row of entries. */
export function heavyRowBytes(l: Pick<HeavyLayout, 'target' | 'negative' | 'stride'>): number {
  return (l.target + l.negative) * l.stride * 4;
}

/**
 * The uniform windows in the factor buffer: stage i's rows (windowSteps of them, step-major) at
 * offset i * blockStride, each bound as `blockBytes`.
 */
export function heavyUniformBlocks(l: HeavyLayout): { blockBytes: number; blockStride: number } {
  const blockBytes = l.windowSteps * heavyRowBytes(l);
  return { blockBytes, blockStride: Math.ceil(blockBytes / l.uniformAlignment) * l.uniformAlignment };
}

export function heavyLayout(
  mixture: HeavyMixture,
  dim: number,
  limits: {
    maxComputeWorkgroupStorageSize: number;
    maxUniformBufferBindingSize: number;
    minUniformBufferOffsetAlignment: number;
  },
  stages: number,
  groups: number,
  rows: HeavyRows,
): HeavyLayout {
  const maxWorkgroupStorage = limits.maxComputeWorkgroupStorageSize;
  // WGSL: vec2 aligns to 8 bytes, vec3 and vec4 to 16; matDxD is D columns of vecD.
  const colStride = dim === 2 ? 2 : 4;
  const shiftOffset = dim * colStride;
  const lwOffset = shiftOffset + dim;
  const align = dim === 2 ? 2 : 4;
  const stride = Math.ceil((lwOffset + 1) / align) * align;
  const target = mixture.targetCount;
  const negative = mixture.entries.length - mixture.targetCount;
  const fit = Math.floor(Math.min(HEAVY_TILE_BYTES, maxWorkgroupStorage) / (4 * stride));
  const tile = Math.max(1, Math.min(fit, Math.max(target, negative)));
  const fitsUniform =
    (target + negative) * stride * 4 <= limits.maxUniformBufferBindingSize && stages <= HEAVY_MAX_UNIFORM_STAGES;
  const where = rows === 'uniform' && fitsUniform ? 'uniform' : 'tiles';
  return {
    dim,
    stride,
    colStride,
    shiftOffset,
    lwOffset,
    target,
    negative,
    tile,
    groups,
    rows: where,
    stages,
    windowSteps: 1,
    uniformAlignment: limits.minUniformBufferOffsetAlignment,
  };
}

/**
 * The kernel's extra declarations (after src/gpu/kernel.ts's header). With uniform rows: stage i's
 * window binding and its walk (one function per stage, so that the stage's switch is outside the
 * entry loop); with tiles, walk_uniform is an empty stand-in.
 */
export function heavyHeader(l: HeavyLayout): string {
  const d = l.dim;
  const uniform = l.rows === 'uniform';
  const stages = Array.from({ length: uniform ? l.stages : 0 }, (_, i) => i);
  const entries = `${l.windowSteps * (l.target + l.negative)}`;
  return [
    '// ---- heavy kernel, generated by src/gpu/heavy.ts ----',
    `alias VecD = vec${d}<f32>;`,
    `alias MatD = mat${d}x${d}<f32>;`,
    `alias Pts = mat4x${d}<f32>; // four particles, one a column`,
    'alias lanes = vec4<f32>; // one lane per particle of a Pts (shaders/lib/log-sum-exp.wgsl)',
    'struct HeavyEntry { w: MatD, shift: VecD, lw: f32, }',
    `const GROUPS: u32 = ${l.groups}u;`,
    `const HEAVY_TARGET: u32 = ${l.target}u;`,
    `const HEAVY_NEGATIVE: u32 = ${l.negative}u;`,
    `const HEAVY_TILE: u32 = ${l.tile}u;`,
    `const HEAVY_UNIFORM_ROWS: bool = ${uniform};`,
    ...stages.map(
      (i) =>
        `@group(0) @binding(${HEAVY_STAGE_BINDING + i}) var<uniform> stage_rows_${i}: array<HeavyEntry, ${entries}>;`,
    ),
    ...stages.map(
      (i) =>
        `fn walk_stage_${i}(c0: u32, c1: u32) { for (var c = c0; c < c1; c++) { add_entry(stage_rows_${i}[c]); } }`,
    ),
    '// Entries [c0, c1) of the window of stage `stage` (step s of the window: c0 = s * HEAVY_ENTRIES + e0).',
    'fn walk_uniform(stage: u32, c0: u32, c1: u32) {',
    ...(uniform
      ? [
          '  switch (stage) {',
          ...stages.map((i) => `    case ${i}u: { walk_stage_${i}(c0, c1); }`),
          '    default: {}',
          '  }',
        ]
      : []),
    '}',
  ].join('\n');
}

/**
 * The noised component at (alpha, sigma^2) as the kernel reads it, into out[o ...]:
 * alpha m, the precision P = W^T W with W = L^-1 for alpha^2 S + sigma^2 I = L L^T (column-major,
 * in the struct's field w), and logWeight - sum_i log L_ii - dim log sqrt(2 pi). f64 Cholesky; S
 * from the eigenbasis.
 */
export function heavyEntry(
  c: Extract<PreparedComponent, { kind: 'gaussian' }>,
  alpha: number,
  sigma2: number,
  logWeight: number,
  layout: HeavyLayout,
  out: Float32Array,
  o: number,
  scratch: Float64Array,
): void {
  const d = c.dim;
  const a2 = alpha * alpha;
  // C = alpha^2 U diag(lambda) U^T + sigma^2 I, lower triangle into scratch[0 .. d*d).
  const cov = scratch;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      if (c.basis) for (let k = 0; k < d; k++) s += c.basis[i * d + k] * c.lambda[k] * c.basis[j * d + k];
      else if (i === j) s = c.lambda[i];
      cov[i * d + j] = a2 * s + (i === j ? sigma2 : 0);
    }
  }
  // In-place Cholesky: C = L L^T.
  let logDet = 0;
  for (let j = 0; j < d; j++) {
    let s = cov[j * d + j];
    for (let k = 0; k < j; k++) s -= cov[j * d + k] * cov[j * d + k];
    const ljj = Math.sqrt(s);
    cov[j * d + j] = ljj;
    logDet += Math.log(ljj);
    for (let i = j + 1; i < d; i++) {
      let t = cov[i * d + j];
      for (let k = 0; k < j; k++) t -= cov[i * d + k] * cov[j * d + k];
      cov[i * d + j] = t / ljj;
    }
  }
  // W = L^-1 by forward substitution, column by column (lower triangular).
  const w = scratch.subarray(d * d, 2 * d * d);
  w.fill(0);
  for (let col = 0; col < d; col++) {
    for (let i = col; i < d; i++) {
      let s = i === col ? 1 : 0;
      for (let k = col; k < i; k++) s -= cov[i * d + k] * w[k * d + col];
      w[i * d + col] = s / cov[i * d + i];
    }
  }
  // P = W^T W, column-major: element (row i, column j) at column j's offset + i.
  for (let j = 0; j < d; j++)
    for (let i = 0; i < d; i++) {
      let p = 0;
      for (let k = Math.max(i, j); k < d; k++) p += w[k * d + i] * w[k * d + j];
      out[o + j * layout.colStride + i] = p;
    }
  for (let j = 0; j < d; j++) out[o + layout.shiftOffset + j] = alpha * c.mean[j];
  out[o + layout.lwOffset] = logWeight - logDet - d * LOG_SQRT_2PI;
}

/**
 * The heavy table for a window of rows (rows[s * stages + i] for step s, stage i): per row, the
 * target group's entries, then the negative's (entry order). With uniform rows, stage-major
 * instead, stage i's rows from offset i * blockStride (heavyUniformBlocks).
 */
export function heavyFactors(
  rows: readonly StepRow[],
  mixture: HeavyMixture,
  blur2: number,
  layout: HeavyLayout,
): Float32Array {
  const { stride, target, negative, dim, stages } = layout;
  const perRow = target + negative;
  const uniform = layout.rows === 'uniform';
  const blockFloats = uniform ? heavyUniformBlocks(layout).blockStride / 4 : 0;
  const out = new Float32Array(uniform ? stages * blockFloats : rows.length * perRow * stride);
  // Where row r (step s, stage i) starts.
  const rowStart = (r: number): number =>
    uniform ? (r % stages) * blockFloats + Math.floor(r / stages) * perRow * stride : r * perRow * stride;
  const scratch = new Float64Array(2 * dim * dim);
  rows.forEach((row, r) => {
    mixture.entries.forEach((entry, k) => {
      const c = mixture.comps[k];
      if (c.kind !== 'gaussian') throw new Error('the heavy kernel takes Gaussian components only');
      // A blurred score error sees the data convolved with N(0, delta^2): sigma^2 + alpha^2 delta^2.
      const sigma2 = row.sigma2 + (entry.blurred ? row.alpha * row.alpha * blur2 : 0);
      const lw = entry.mask & GROUP_MASK.target ? entry.logWeightTarget : entry.logWeightNegative;
      heavyEntry(c, row.alpha, sigma2, lw, layout, out, rowStart(r) + k * stride, scratch);
    });
  });
  return out;
}
