// The spec fuzzer in CI (a few hundred cases; `npm run fuzz:specs` runs 10,000): no mutation of a
// valid spec, in keys or values, makes parseSpec throw anything but a SpecError, and every key
// outside its object's closed set is reported at its path. Before the closed key sets nearly
// every key mutation was a silent acceptance.
// @vitest-environment node
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/experiment/parse.ts';
import { SPEC_KEYS } from '../../src/experiment/keys.ts';
import { baseSpecs, fuzzCase, judge, mutate, typedObjects, unknownKeys } from '../support/spec-fuzz.ts';

const bases = baseSpecs();

describe('spec fuzzer', () => {
  it('the bases are valid and use every key of every set (so each key gets mutated)', () => {
    const used = new Map<string, Set<string>>();
    for (const b of bases) {
      expect(() => parseSpec(b)).not.toThrow();
      expect(unknownKeys(b)).toEqual([]);
      for (const { set, object } of typedObjects(b)) {
        const keys = used.get(set) ?? new Set<string>();
        for (const k of Object.keys(object)) keys.add(k);
        used.set(set, keys);
      }
    }
    for (const [set, keys] of Object.entries(SPEC_KEYS))
      expect([...(used.get(set) ?? [])].sort(), set).toEqual([...keys].sort());
  });

  it('the oracle sees a typo (so a silent acceptance would be caught)', () => {
    const spec = mutate(bases[0], [{ op: 'add-unknown', node: 0, key: 'particels', value: 5 }]);
    expect(unknownKeys(spec)).toEqual(['particels']);
    expect(judge(spec)).toEqual({ kind: 'rejected' });
  });

  it('300 mutated specs: no crash, no silent acceptance of an unknown key', () => {
    fc.assert(
      fc.property(fuzzCase(bases.length), (c) => {
        const outcome = judge(mutate(bases[c.base], c.mutations));
        expect(outcome.kind === 'accepted' || outcome.kind === 'rejected', JSON.stringify(outcome)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
