// The WGSL sources' layout: a function of the shared library (shaders/lib/) is defined there
// only, and the component kind and group codes come from one TypeScript definition
// (src/gpu/codes.ts), written into every kernel's header, never as literals in a .wgsl file.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COMPONENT_KIND,
  EXTRA_GROUP_SHIFT,
  GROUP_MASK,
  VARIANT_CODE,
  wgslCodes,
  DENOISER_SLOT,
} from '../../src/gpu/codes.ts';

const root = join(import.meta.dirname, '..', '..');
const wgslIn = (dir: string): string[] =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => join(dir, f));
const text = (file: string): string => readFileSync(join(root, file), 'utf8');
const definedFunctions = (source: string): string[] =>
  [...source.matchAll(/\bfn\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)].map((m) => m[1]);
const CODE_NAMES =
  /\bconst\s+(KIND_[A-Z_]+|IN_TARGET|IN_NEGATIVE|VARIANT_(LINEAR|RESCALE|POWERLAW|APG|CFGZERO|TANGENTIAL))\b/;

/** Every kernel file that defines a function the library defines, as "file: fn". */
function copiesOfLibrary(kernels: Map<string, string>, library: Map<string, string>): string[] {
  const libraryFunctions = new Set([...library.values()].flatMap(definedFunctions));
  return [...kernels].flatMap(([file, source]) =>
    definedFunctions(source)
      .filter((f) => libraryFunctions.has(f))
      .map((f) => `${file}: ${f}`),
  );
}

describe('WGSL layout', () => {
  const library = new Map(wgslIn('shaders/lib').map((f) => [f, text(f)]));
  const kernels = new Map([...wgslIn('shaders'), ...wgslIn('test/shaders')].map((f) => [f, text(f)]));

  it('finds a planted copy of a library function (the check can fail)', () => {
    const planted = new Map([['shaders/copy.wgsl', 'fn component_log_density(c: u32) -> f32 { return 0.0; }']]);
    expect(copiesOfLibrary(planted, library)).toEqual(['shaders/copy.wgsl: component_log_density']);
  });

  it('defines each library function in shaders/lib/ only', () => {
    expect(library.size).toBeGreaterThan(0);
    expect(copiesOfLibrary(kernels, library)).toEqual([]);
  });

  it('writes no component kind or group code as a literal in a .wgsl file', () => {
    const literal = [...library, ...kernels].filter(([, source]) => CODE_NAMES.test(source)).map(([f]) => f);
    expect(literal).toEqual([]);
  });

  it('emits the codes of the TypeScript definition', () => {
    const emitted = Object.fromEntries(
      [...wgslCodes().matchAll(/const ([A-Z_]+): u32 = (\d+)u;/g)].map((m) => [m[1], Number(m[2])]),
    );
    expect(emitted).toEqual({
      KIND_GAUSSIAN: COMPONENT_KIND.gaussian,
      KIND_GAUSSIAN_FULL: COMPONENT_KIND.gaussianFull,
      KIND_UNIFORM: COMPONENT_KIND.uniform,
      IN_TARGET: GROUP_MASK.target,
      IN_NEGATIVE: GROUP_MASK.negative,
      IN_EXTRA: GROUP_MASK.extra,
      EXTRA_GROUP_SHIFT,
      VARIANT_LINEAR: VARIANT_CODE.linear,
      VARIANT_RESCALE: VARIANT_CODE.rescale,
      VARIANT_POWERLAW: VARIANT_CODE.powerlaw,
      VARIANT_APG: VARIANT_CODE.apg,
      VARIANT_CFGZERO: VARIANT_CODE.cfgzero,
      VARIANT_TANGENTIAL: VARIANT_CODE.tangential,
      DEN_SLOT_TARGET: DENOISER_SLOT.target,
      DEN_SLOT_NEGATIVE: DENOISER_SLOT.negative,
    });
    // The group bits sit below the extra group's index (mask >> EXTRA_GROUP_SHIFT).
    for (const bit of Object.values(GROUP_MASK)) expect(bit).toBeLessThan(1 << EXTRA_GROUP_SHIFT);
    // Distinct codes (cfgpp shares linear's on purpose: its rule lives in the rows).
    const { cfgpp: _, ...distinct } = VARIANT_CODE;
    expect(new Set(Object.values(distinct)).size).toBe(Object.keys(distinct).length);
  });
});
