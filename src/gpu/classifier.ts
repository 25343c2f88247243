// Trained-classifier guidance on the GPU: s = s_u + w(t) grad_x log p_hat_t(target | x) with a
// PerLevelClassifier (src/model/classifier/classifier.ts), evaluated in shaders/classifier.wgsl.
//
// One TypeScript definition, ClassifierLayout, says where everything lives in the kernel's
// `classifier` storage buffer; both the packing below and the WGSL constants of the kernel
// header (classifierHeader) are derived from it, so no offset is written in two languages:
//
//   params: levels x LEVEL_STRIDE floats, level l at l * LEVEL_STRIDE:
//             [featMean (F), featInvStd (F), the Network's own params (W_1, b_1, ..., W_L, b_L
//              at its wOffset / bOffset, row-major out x in)]
//   rows:   one ClassifierRow per step-table row (src/gpu/layout.ts): the two levels around the
//           row's t, the upper one's weight lam (the host's PerLevelClassifier.bracket, in f64),
//           and w(t) (0 where the row's cs is 0, as the CPU sampler skips the term there).
//
// All levels must share one architecture (the trainer clones one config per level).
import type { PerLevelClassifier } from '../model/classifier/classifier.ts';
import type { FeatureKind } from '../model/classifier/features.ts';
import type { Activation } from '../model/classifier/network.ts';
import { scheduleAt } from '../guidance/schedule.ts';
import type { StepRow } from '../solvers/table.ts';
import type { WSchedule } from '../experiment/types.ts';
import { CLASSIFIER_ROW, packStructs, wgslStruct } from './layout.ts';

const FEATURE_CODES: Record<FeatureKind, number> = { linear: 0, quadratic: 1, sum: 2 };
const ACTIVATION_CODES: Record<Activation, number> = { tanh: 0, silu: 1 };

export interface ClassifierLayout {
  levels: number;
  classes: number;
  features: FeatureKind;
  activation: Activation;
  /** Layer sizes [F, h_1, ..., K] (F the feature count). */
  sizes: number[];
  /** Within a level: where featMean, featInvStd and each layer's W and b start (floats). */
  featMean: number;
  featInvStd: number;
  /** Where the Network's own params start (its wOffset / bOffset are relative to this). */
  params: number;
  wOffset: number[];
  bOffset: number[];
  levelStride: number;
  /** Floats of all levels' parameters (the rows follow them). */
  paramFloats: number;
  /** Where each layer's activations start in one level's scratch, and the scratch's size. */
  actOffset: number[];
  actTotal: number;
}

export function classifierLayout(clf: PerLevelClassifier): ClassifierLayout {
  const first = clf.nets[0];
  const key = (n: (typeof clf.nets)[number]) => JSON.stringify({ ...n.config, sizes: n.sizes });
  for (const n of clf.nets) {
    if (key(n) !== key(first))
      throw new Error('GPU classifier guidance: every level must have the same network architecture');
  }
  const F = first.sizes[0];
  const paramsAt = 2 * F;
  const levelStride = paramsAt + first.params.length;
  const actOffset: number[] = [];
  let act = 0;
  for (const s of first.sizes) {
    actOffset.push(act);
    act += s;
  }
  return {
    levels: clf.nets.length,
    classes: first.classes,
    features: first.config.features,
    activation: first.config.activation,
    sizes: [...first.sizes],
    featMean: 0,
    featInvStd: F,
    params: paramsAt,
    wOffset: first.wOffset.map((o) => paramsAt + o),
    bOffset: first.bOffset.map((o) => paramsAt + o),
    levelStride,
    paramFloats: clf.nets.length * levelStride,
    actOffset,
    actTotal: act,
  };
}

/** The per-row classifier constants: levels, interpolation weight, w(t) (f64 on the host). */
export function classifierRows(
  clf: PerLevelClassifier,
  rows: readonly StepRow[],
  w: WSchedule,
): Record<string, number>[] {
  return rows.map((row) => {
    const { lo, hi, lam } = clf.bracket(row.t);
    const wt = row.cs !== 0 ? scheduleAt(w, row.t) : 0;
    return { levelLo: lo, levelHi: hi, lam, w: wt };
  });
}

/** The `classifier` storage buffer: every level's parameters, then the row table. */
export function packClassifier(
  clf: PerLevelClassifier,
  layout: ClassifierLayout,
  rows: readonly StepRow[],
  w: WSchedule,
): ArrayBuffer {
  const rowBytes = packStructs(CLASSIFIER_ROW, classifierRows(clf, rows, w));
  const buffer = new ArrayBuffer(layout.paramFloats * 4 + rowBytes.byteLength);
  const f32 = new Float32Array(buffer, 0, layout.paramFloats);
  clf.nets.forEach((net, l) => {
    const base = l * layout.levelStride;
    f32.set(net.featMean, base + layout.featMean);
    f32.set(net.featInvStd, base + layout.featInvStd);
    f32.set(net.params, base + layout.params);
  });
  new Uint8Array(buffer, layout.paramFloats * 4).set(new Uint8Array(rowBytes));
  return buffer;
}

/** The target class's index in the classifier (throws when it has none). */
export function classifierTarget(clf: PerLevelClassifier, target: string): number {
  const c = clf.classes.indexOf(target);
  if (c < 0) throw new Error(`classifier guidance: the classifier has no class ${JSON.stringify(target)}`);
  return c;
}

const u32List = (v: readonly number[]) => v.map((x) => `${x}u`).join(', ');

/** WGSL constants and the buffer's struct for shaders/classifier.wgsl, from the layout. */
export function classifierHeader(layout: ClassifierLayout, target: number): string {
  const L = layout.sizes.length - 1;
  return [
    '// ---- classifier guidance, generated by src/gpu/classifier.ts ----',
    `const CLF_LEVELS: u32 = ${layout.levels}u;`,
    `const CLF_CLASSES: u32 = ${layout.classes}u;`,
    `const CLF_TARGET: u32 = ${target}u;`,
    `const CLF_FEATURES: u32 = ${FEATURE_CODES[layout.features]}u; // 0 linear, 1 quadratic, 2 sum`,
    `const CLF_ACTIVATION: u32 = ${ACTIVATION_CODES[layout.activation]}u; // 0 tanh, 1 silu`,
    `const CLF_F: u32 = ${layout.sizes[0]}u;`,
    `const CLF_LAYERS: u32 = ${L}u;`,
    `const CLF_SIZES = array<u32, ${L + 1}>(${u32List(layout.sizes)});`,
    `const CLF_W_OFFSET = array<u32, ${L}>(${u32List(layout.wOffset)});`,
    `const CLF_B_OFFSET = array<u32, ${L}>(${u32List(layout.bOffset)});`,
    `const CLF_ACT_OFFSET = array<u32, ${L + 1}>(${u32List(layout.actOffset)});`,
    `const CLF_ACT_TOTAL: u32 = ${layout.actTotal}u;`,
    `const CLF_FEAT_MEAN: u32 = ${layout.featMean}u;`,
    `const CLF_FEAT_INV_STD: u32 = ${layout.featInvStd}u;`,
    `const CLF_LEVEL_STRIDE: u32 = ${layout.levelStride}u;`,
    `const CLF_PARAM_FLOATS: u32 = ${layout.paramFloats}u;`,
    wgslStruct(CLASSIFIER_ROW),
    `struct ClassifierBuffer {\n  params: array<f32, ${layout.paramFloats}>,\n  rows: array<ClassifierRow>,\n}\n`,
  ].join('\n');
}
