// The explorer's pure parts, in Node (no browser): where a JSON text breaks (line, column),
// the URL's view flags, and the progressive run's batch and dispatch sizing.
import { describe, expect, it } from 'vitest';
import { jsonSyntaxError } from '../../web/json-location.ts';
import { readUrlState, viewParam } from '../../web/url-state.ts';
import { batchSizes, dispatchBudget, dispatchSize, MAX_DISPATCH_WORK, MIN_DISPATCH_WORK } from '../../web/run.ts';

describe('explorer: JSON syntax errors', () => {
  it('valid JSON has none', () => {
    for (const t of ['{}', ' [1e5, -0.5, "x\\u00e9", null, true] ', '{"a": {"b": [1, 2]}}', '"s"', '0'])
      expect(jsonSyntaxError(t), t).toBeNull();
  });
  it('gives the line and column where the grammar breaks (and JSON.parse agrees it is invalid)', () => {
    const cases: [string, number, number, string][] = [
      ['{ "dim": 1, ', 1, 13, 'a property name'],
      ['{\n  "dim": 1,\n  "seed": 01\n}', 3, 12, "',' or '}'"],
      ['{\n "a": 1,\n "b": }', 3, 7, 'a value'],
      ['[1,]', 1, 4, 'a value'],
      ['{"a" 1}', 1, 6, "':'"],
      ['{"a": "x\ny"}', 1, 9, 'no control character'],
      ['{"a": 1} x', 1, 10, 'the end of the text'],
      ['', 1, 1, 'a value'],
    ];
    for (const [text, line, column, what] of cases) {
      expect(() => JSON.parse(text), text).toThrow();
      const e = jsonSyntaxError(text);
      expect(e, text).not.toBeNull();
      expect([e!.line, e!.column], text).toEqual([line, column]);
      expect(e!.message, text).toContain(what);
    }
  });
});

describe('explorer: URL view flags', () => {
  it('round-trips every combination, and defaults to exact densities and paths', () => {
    for (const exact of [false, true]) {
      for (const paths of [false, true]) {
        for (const logT of [false, true]) {
          const view = { exact, paths, logT };
          expect(readUrlState(`?view=${viewParam(view)}`).view).toEqual(view);
        }
      }
    }
    expect(readUrlState('?preset=ring-8').view).toEqual({ exact: true, paths: true, logT: false });
    expect(readUrlState(`?spec=${encodeURIComponent('{"dim": 1}')}`).specText).toBe('{"dim": 1}');
  });
});

describe('explorer: progressive sizing', () => {
  it('batches cover the particles exactly, doubling after the first; one population stays one batch', () => {
    for (const n of [1, 1000, 1024, 100_000, 10_000_000]) {
      const b = batchSizes(n, 1000, 16, 2e7, false);
      expect(b.reduce((a, x) => a + x, 0)).toBe(n);
      for (let i = 1; i + 1 < b.length; i++) expect(b[i]).toBe(2 * b[i - 1]);
      expect(batchSizes(n, 1000, 16, 2e7, true)).toEqual([n]);
    }
  });
  it('a dispatch holds about the budget, never more than the chunk can, at least one step', () => {
    for (const [particles, steps, per, budget] of [
      [100_000, 1000, 16, 6e5],
      [1024, 1000, 16, 6e5],
      [10_000_000, 100, 400, 2 ** 20],
      [50, 3, 1, 1e9],
    ]) {
      const s = dispatchSize(particles, steps, per, budget);
      expect(s.chunkParticles).toBeLessThanOrEqual(particles);
      expect(s.stepsPerDispatch).toBeGreaterThanOrEqual(1);
      expect(s.stepsPerDispatch).toBeLessThanOrEqual(steps);
      const work = s.chunkParticles * s.stepsPerDispatch * per;
      // Within the budget unless one step of the smallest chunk (256 particles) exceeds it.
      expect(work).toBeLessThanOrEqual(Math.max(budget, Math.min(particles, 256) * per));
    }
    expect(dispatchBudget(0)).toBeGreaterThanOrEqual(MIN_DISPATCH_WORK);
    expect(dispatchBudget(1)).toBe(MIN_DISPATCH_WORK);
    expect(dispatchBudget(1e15)).toBe(MAX_DISPATCH_WORK);
    expect(dispatchBudget(2e7)).toBeCloseTo(2e7 * 0.03, 6);
  });
});
