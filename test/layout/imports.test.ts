// The module layout of docs/architecture.md: each layer of src/ imports only from its own layer
// and the layers below it, and there are no import cycles among the project's modules (src/,
// web/, bench/, scripts/). Type-only imports count too: a cycle of types is a cycle of concepts. Hand-written because the dependency checkers (madge,
// dependency-cruiser) do not yet read TypeScript 7 projects; the graph is just the relative
// `import ... from` / `export ... from` / `import('...')` specifiers, which is all this code uses.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const FOLDERS = ['src', 'web', 'bench', 'scripts'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(SPECIFIER)) {
      const target = normalize(join(dirname(file), (m[1] ?? m[2]).split('?')[0]));
      if (known.has(target)) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The strongly connected components with more than one module, or a module importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The layers of src/, lowest first (docs/architecture.md); web/, bench/, scripts/ sit above them all. */
const LAYERS: readonly (readonly string[])[] = [
  ['experiment', 'rng', 'io', 'model', 'processes', 'solvers', 'guidance', 'corrector'],
  ['metrics', 'targets'],
  ['backend', 'cpu', 'gpu', 'platform'],
  ['checks', 'reproduce', 'studies'],
  ['cli'],
];

function layerOf(file: string): number {
  const [top, folder] = file.split(/[\\/]/);
  if (top !== 'src') return LAYERS.length;
  const layer = LAYERS.findIndex((l) => l.includes(folder));
  if (layer < 0)
    throw new Error(
      `${file}: src/${folder}/ is in no layer of test/layout/imports.test.ts (add it, and to docs/architecture.md)`,
    );
  return layer;
}

/** Every import from a lower layer up to a higher one. */
function upwardImports(graph: Map<string, string[]>): string[] {
  return [...graph].flatMap(([from, targets]) =>
    targets.filter((to) => layerOf(to) > layerOf(from)).map((to) => `${from} -> ${to}`),
  );
}

describe('module layout', () => {
  it('finds a planted upward import (the check can fail)', () => {
    const g = new Map([
      [normalize('src/model/mixture.ts'), [normalize('src/gpu/sampler.ts')]],
      [normalize('src/gpu/sampler.ts'), [normalize('src/model/mixture.ts')]],
    ]);
    expect(upwardImports(g)).toEqual([`${normalize('src/model/mixture.ts')} -> ${normalize('src/gpu/sampler.ts')}`]);
  });

  it('has no import from a lower layer of src/ to a higher one', () => {
    expect(upwardImports(importGraph(FOLDERS.flatMap(sourceFiles)))).toEqual([]);
  });

  it('finds a planted cycle (the check can fail)', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(cycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(cycles(new Map([['a.ts', ['a.ts']]]))).toEqual([['a.ts']]);
  });

  it('reads the real import graph', () => {
    const graph = importGraph(FOLDERS.flatMap(sourceFiles));
    const imported = new Set([...graph.values()].flat());
    expect(imported.has(normalize('src/model/mixture.ts'))).toBe(true);
    expect([...graph.values()].flat().length).toBeGreaterThan(300);
  });

  it('has no import cycles in src/, web/, bench/, scripts/', () => {
    const graph = importGraph(FOLDERS.flatMap(sourceFiles));
    const report = cycles(graph).map((c) => c.map((f) => relative('.', f)).join(' <-> '));
    expect(report).toEqual([]);
  });
});
