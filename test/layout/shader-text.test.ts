// Shader assembly (src/gpu/program.ts shaderText): `#include` of the shared library, each file
// once, and `#if` on specialisation flags through wgsl-preprocessor; every kernel in shaders/
// assembles with its flags, and no directive survives into the WGSL the device compiles.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shaderText } from '../../src/gpu/program.ts';
import { nodePlatform } from '../../src/platform/node.ts';
import type { GpuPlatform } from '../../src/platform/types.ts';

const files = (sources: Record<string, string>): GpuPlatform => ({
  ...nodePlatform,
  shaderSource: (name: string) => {
    if (!(name in sources)) throw new Error(`no shader ${name}`);
    return sources[name];
  },
});

describe('shaderText', () => {
  it('inlines each included file once, where it is first included, libraries included by libraries', () => {
    const platform = files({
      kernel: '#include "lib/b"\n#include "lib/a"\nfn main() {}',
      'lib/a': 'fn a() {}',
      'lib/b': '#include "lib/a"\nfn b() { a(); }',
    });
    const text = shaderText(platform, 'kernel');
    expect(text.match(/fn a\(\)/g)).toHaveLength(1);
    expect(text.indexOf('fn a()')).toBeLessThan(text.indexOf('fn b()'));
    expect(text).not.toContain('#include');
  });

  it('resolves #if / #elif / #else on the given flags', () => {
    const platform = files({ k: 'A\n#if X\nx\n#elif Y\ny\n#else\nz\n#endif\nB' });
    const lines = (flags: Record<string, boolean>) => shaderText(platform, 'k', flags).split(/\s+/).filter(Boolean);
    expect(lines({ X: true, Y: true })).toEqual(['A', 'x', 'B']);
    expect(lines({ X: false, Y: true })).toEqual(['A', 'y', 'B']);
    expect(lines({ X: false, Y: false })).toEqual(['A', 'z', 'B']);
  });

  it('an unknown flag, a missing file or an unbalanced #if is an error, never a silent branch', () => {
    expect(() => shaderText(files({ k: '#if TYPO\nx\n#endif' }), 'k', { TYPE: true })).toThrow(
      /shader k: #if TYPO: no such flag \(given: TYPE\)/,
    );
    expect(() => shaderText(files({ k: '#include "lib/none"' }), 'k')).toThrow(/no shader lib\/none/);
    expect(() => shaderText(files({ k: '#if X\nx' }), 'k', { X: true })).toThrow(/Mismatched #if\/#endif/);
  });

  it('every shader in shaders/ and shaders/lib/ assembles without a directive left', () => {
    const root = join(import.meta.dirname, '..', '..', 'shaders');
    const names = [
      ...readdirSync(root).filter((f) => f.endsWith('.wgsl')),
      ...readdirSync(join(root, 'lib')).map((f) => `lib/${f}`),
    ].map((f) => f.replace(/\.wgsl$/, ''));
    expect(names).toContain('metrics-density');
    for (const name of names) {
      // Every flag the file names, all off and all on.
      const raw = nodePlatform.shaderSource(name);
      const named = [...raw.matchAll(/#(?:if|elif)\s+([A-Za-z_]\w*)/g)].map((m) => m[1]);
      for (const on of [false, true]) {
        const flags = Object.fromEntries(named.map((f) => [f, on]));
        expect(shaderText(nodePlatform, name, flags), name).not.toMatch(/^\s*#/m);
      }
    }
    expect(shaderText(nodePlatform, 'metrics-density')).toContain('fn component_log_density');
    const step = (on: boolean) => shaderText(nodePlatform, 'step', { CLASSIFIER: on, DENOISER: on });
    expect(step(false)).toMatch(/fn add_classifier_guidance\(row_id: u32\) \{\}/);
    expect(step(true)).not.toMatch(/fn add_classifier_guidance\(row_id: u32\) \{\}/);
    expect(step(true).match(/fn add_classifier_guidance/g)).toHaveLength(1);
    expect(step(true).match(/fn apply_learned_scores/g)).toHaveLength(1);
    expect(step(false).match(/fn philox4x32\b/g)).toHaveLength(1);
  });
});
