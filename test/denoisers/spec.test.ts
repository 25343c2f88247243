// The learned-model fields of the spec (docs/spec.md, "Learned models"): accepted forms, and every
// bad value rejected with its field path.
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/experiment/errors.ts';
import { loadSpecFile, parseSpec } from '../../src/experiment/parse.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rawSpec, smallModel } from '../support/denoiser.ts';

const model = smallModel({ iterations: 2, batch: 4, hidden: [4] });

function issues(raw: unknown): { path: string; message: string }[] {
  try {
    parseSpec(raw);
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  return [];
}

function expectIssue(raw: unknown, path: string, message: RegExp): void {
  const found = issues(raw);
  expect(found, JSON.stringify(found)).toContainEqual({ path, message: expect.stringMatching(message) });
}

const learned = (over: object = {}) => ({ kind: 'learned', model: { ...model, ...over } });

describe('learned models in the spec', () => {
  it('accepts a learned score (none, cfg) and a learned negative, inline', () => {
    const a = parseSpec(rawSpec({ kind: 'none', score: learned() }));
    expect(a.guidance.kind === 'none' && a.guidance.score?.model.hidden).toEqual([4]);
    const b = parseSpec(rawSpec({ kind: 'cfg', w: 2, score: learned(), negative: learned() }));
    expect(b.guidance.kind === 'cfg' && b.guidance.negative.kind).toBe('learned');
  });

  it('reads a model file relative to the spec file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'denoiser-spec-'));
    writeFileSync(join(dir, 'm.json'), JSON.stringify(model));
    writeFileSync(
      join(dir, 's.json'),
      JSON.stringify(rawSpec({ kind: 'cfg', w: 1, negative: { kind: 'learned', file: 'm.json' } })),
    );
    const spec = loadSpecFile(join(dir, 's.json'));
    expect(
      spec.guidance.kind === 'cfg' && spec.guidance.negative.kind === 'learned' && spec.guidance.negative.file,
    ).toBe('m.json');
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify(rawSpec({ kind: 'none', score: { kind: 'learned', file: 'nope.json' } })),
    );
    expect(() => loadSpecFile(join(dir, 'bad.json'))).toThrow(
      /guidance\.score\.file: cannot read model file .*no such file/,
    );
    writeFileSync(join(dir, 'm2.json'), JSON.stringify({ ...model, dim: 3 }));
    writeFileSync(
      join(dir, 'bad2.json'),
      JSON.stringify(rawSpec({ kind: 'none', score: { kind: 'learned', file: 'm2.json' } })),
    );
    expect(() => loadSpecFile(join(dir, 'bad2.json'))).toThrow(/guidance\.score\.file\.dim: the model is for dim 3/);
  });

  it('rejects bad values with the field path', () => {
    const none = (score: unknown, extra = {}) => rawSpec({ kind: 'none', score }, extra);
    expectIssue(none(learned({ dim: 3 })), 'guidance.score.model.dim', /for dim 3, the spec has dim 2/);
    expectIssue(none(learned({ params: model.params.slice(1) })), 'guidance.score.model.params', /expected 26 numbers/);
    expectIssue(
      none(learned({ params: [...model.params.slice(0, 5), 'x', ...model.params.slice(6)] })),
      'guidance.score.model.params[5]',
      /finite number/,
    );
    expectIssue(none(learned({ hidden: [4, 0] })), 'guidance.score.model.hidden[1]', /integer in \[1, 256\]/);
    expectIssue(none(learned({ hidden: [] })), 'guidance.score.model.hidden', /1 to 8 layer widths/);
    expectIssue(none(learned({ sigmaData: 0 })), 'guidance.score.model.sigmaData', /> 0/);
    expectIssue(none(learned({ activation: 'tanh' })), 'guidance.score.model.activation', /silu/);
    expectIssue(none(learned({ format: 'other' })), 'guidance.score.model.format', /guidance-sampler\/denoiser/);
    expectIssue(none(learned({ version: 2 })), 'guidance.score.model.version', /1/);
    expectIssue(none(learned({ sigmadata: 1 })), 'guidance.score.model.sigmadata', /did you mean "sigmaData"/);
    expectIssue(none({ kind: 'learned' }), 'guidance.score', /exactly one of "file"/);
    expectIssue(none({ kind: 'learned', model, file: 'm.json' }), 'guidance.score', /exactly one of "file"/);
    expectIssue(none({ kind: 'learned', file: '' }), 'guidance.score.file', /non-empty string/);
    expectIssue(none({ kind: 'learnt', model }), 'guidance.score.kind', /unknown kind "learnt"/);
    expectIssue(none({ ...learned(), modle: 1 }), 'guidance.score.modle', /unknown field/);
    expectIssue(none('model.json'), 'guidance.score', /a learned model/);
    expectIssue(
      rawSpec({ kind: 'cfg', w: 1, negative: { kind: 'learner', model } }),
      'guidance.negative.kind',
      /unknown kind/,
    );
    expectIssue(rawSpec({ kind: 'classifier', w: 1, score: learned() }), 'guidance.score', /unknown field/);
  });

  it('rejects learned models where they are not defined: flow, a corrector, cfgpp, blur', () => {
    expectIssue(
      rawSpec({ kind: 'none', score: learned() }, { process: { kind: 'flow' } }),
      'guidance.score',
      /alpha\(t\) > 0/,
    );
    expectIssue(
      rawSpec(
        { kind: 'cfg', w: 1, negative: learned() },
        { solver: { kind: 'em', steps: 4 }, corrector: { kind: 'fk' } },
      ),
      'corrector',
      /learned model/,
    );
    expectIssue(
      rawSpec(
        { kind: 'cfg', variant: { kind: 'cfgpp', lambda: 0.5 }, score: learned() },
        { solver: { kind: 'euler', steps: 4 } },
      ),
      'guidance.variant',
      /cfgpp/,
    );
    expectIssue(
      rawSpec({ kind: 'none', score: learned() }, { scoreError: { kind: 'blur', delta: 0.1 } }),
      'scoreError.kind',
      /blur/,
    );
  });
});
