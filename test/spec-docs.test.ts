// docs/spec.md and the parser's closed key sets (src/experiment/keys.ts) agree in both directions:
// every `###` section of the document is one key set, and its table lists exactly that set.
// @vitest-environment node
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SPEC_KEYS } from '../src/experiment/keys.ts';

/** Section title -> the fields in the first column of its table. */
function documentedSets(markdown: string): Map<string, string[]> {
  const sets = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('#')) {
      current = null;
      if (line.startsWith('### ')) {
        current = [];
        sets.set(line.slice(4).trim(), current);
      }
      continue;
    }
    const row = /^\|\s*`([^`]+)`\s*\|/.exec(line);
    if (row && current) current.push(row[1]);
  }
  return sets;
}

describe('docs/spec.md documents exactly the fields the parser accepts', () => {
  const docs = documentedSets(readFileSync(new URL('../docs/spec.md', import.meta.url), 'utf8'));

  it('has one section per key set and no other', () => {
    expect([...docs.keys()].sort()).toEqual(Object.keys(SPEC_KEYS).sort());
  });

  for (const [name, keys] of Object.entries(SPEC_KEYS)) {
    it(`${name}: the documented fields are the accepted fields`, () => {
      expect(docs.get(name)?.slice().sort()).toEqual([...keys].sort());
    });
  }
});
