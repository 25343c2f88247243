// Host-side struct layouts, each derived from one TypeScript definition that also
// generates the WGSL struct text: no offsets are written by hand in two languages.
// Every field is a 4-byte scalar, so a struct's array stride is 4 x fields; uniform
// structs are padded to 16 bytes.
import { STEP_ROW_FIELDS, type StepRow } from '../solvers/table.ts';

export type ScalarType = 'f32' | 'u32';

export interface StructDef {
  name: string;
  fields: readonly { name: string; type: ScalarType }[];
  /** Pad the size to a multiple of 16 bytes (uniform buffers). */
  uniform?: boolean;
}

export const STEP_ROW: StructDef = {
  name: 'StepRow',
  fields: STEP_ROW_FIELDS.map((name) => ({ name, type: 'f32' as const })),
};

export const STEP_PARAMS: StructDef = {
  name: 'StepParams',
  uniform: true,
  fields: [
    { name: 'particleOffset', type: 'u32' },
    { name: 'particleCount', type: 'u32' },
    { name: 'firstStep', type: 'u32' },
    { name: 'stepCount', type: 'u32' },
    { name: 'seed', type: 'u32' },
    { name: 'initialise', type: 'u32' },
  ],
};

export const COMPONENT_INFO: StructDef = {
  name: 'ComponentInfo',
  fields: [
    { name: 'kind', type: 'u32' },
    { name: 'mask', type: 'u32' },
    { name: 'logWeightTarget', type: 'f32' },
    { name: 'logWeightNegative', type: 'f32' },
  ],
};

/**
 * Trained-classifier guidance, per step-table row (src/gpu/classifier.ts): the two levels
 * around the row's t, the upper level's weight, and w(t).
 */
export const CLASSIFIER_ROW: StructDef = {
  name: 'ClassifierRow',
  fields: [
    { name: 'levelLo', type: 'u32' },
    { name: 'levelHi', type: 'u32' },
    { name: 'lam', type: 'f32' },
    { name: 'w', type: 'f32' },
  ],
};

export function structWords(def: StructDef): number {
  const n = def.fields.length;
  return def.uniform ? Math.ceil(n / 4) * 4 : n;
}

export function structBytes(def: StructDef): number {
  return structWords(def) * 4;
}

export function wgslStruct(def: StructDef): string {
  return `struct ${def.name} {\n${def.fields.map((f) => `  ${f.name}: ${f.type},`).join('\n')}\n}\n`;
}

/** Packs records into an array of structs (missing fields are an error, extra ones too). */
export function packStructs(def: StructDef, records: readonly Record<string, number>[]): ArrayBuffer {
  const words = structWords(def);
  const buffer = new ArrayBuffer(Math.max(1, records.length) * words * 4);
  const f32 = new Float32Array(buffer);
  const u32 = new Uint32Array(buffer);
  records.forEach((rec, r) => {
    const keys = Object.keys(rec);
    if (keys.length !== def.fields.length) {
      throw new Error(
        `${def.name}: expected fields ${def.fields.map((f) => f.name).join(', ')}, got ${keys.join(', ')}`,
      );
    }
    def.fields.forEach((f, i) => {
      const v = rec[f.name];
      if (v === undefined) throw new Error(`${def.name}: missing field ${f.name}`);
      if (f.type === 'u32') u32[r * words + i] = v >>> 0;
      else f32[r * words + i] = v;
    });
  });
  return buffer;
}

/** The Feynman-Kac corrector's reduction and resampling passes (shaders/fk-*.wgsl). */
export const FK_PARAMS: StructDef = {
  name: 'FkParams',
  uniform: true,
  fields: [
    { name: 'count', type: 'u32' },
    { name: 'blocks', type: 'u32' },
  ],
};

/** Per block of FK_BLOCK particles: src/corrector/fk.ts BlockStats. */
export const FK_BLOCK_STATS: StructDef = {
  name: 'BlockStats',
  fields: [
    { name: 'max', type: 'f32' },
    { name: 'sum', type: 'f32' },
    { name: 'sumSq', type: 'f32' },
    { name: 'nonFinite', type: 'u32' },
  ],
};

/** Per block: src/corrector/fk.ts BlockPlan. */
export const FK_BLOCK_PLAN: StructDef = {
  name: 'BlockPlan',
  fields: [
    { name: 'slotStart', type: 'u32' },
    { name: 'phase', type: 'f32' },
    { name: 'spacing', type: 'f32' },
  ],
};

/** Reads an array of structs back into records (the inverse of packStructs). */
export function unpackStructs(def: StructDef, buffer: ArrayBuffer, count: number): Record<string, number>[] {
  const words = structWords(def);
  const f32 = new Float32Array(buffer);
  const u32 = new Uint32Array(buffer);
  const out: Record<string, number>[] = [];
  for (let r = 0; r < count; r++) {
    const rec: Record<string, number> = {};
    def.fields.forEach((f, i) => {
      rec[f.name] = f.type === 'u32' ? u32[r * words + i] : f32[r * words + i];
    });
    out.push(rec);
  }
  return out;
}

/** Step-table rows as STEP_ROW records (multi-condition coefficients travel in the statics instead). */
export function packStepRows(rows: readonly StepRow[]): ArrayBuffer {
  return packStructs(
    STEP_ROW,
    rows.map(({ extraGammas: _, ...fields }) => fields),
  );
}
