// Small comparisons the tests share: the largest per-coordinate gap of two particle sets, and the
// issues a spec is rejected with.
import { expect } from 'vitest';
import { SpecError, type SpecIssue } from '../../src/experiment/errors.ts';
import { parseSpec } from '../../src/experiment/parse.ts';

/** max_i |a_i - b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The issues parseSpec rejects `raw` with; fails the test if it accepts it or throws anything else. */
export function specIssues(raw: unknown): SpecIssue[] {
  try {
    parseSpec(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  throw new Error('expected parseSpec to throw');
}
