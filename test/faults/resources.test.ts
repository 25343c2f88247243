// The resource estimate before any work (issue 14 item 2), in-process with stated limits: what
// does not fit is a SpecError naming the fields that drive it; every example fits.
// @vitest-environment node
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkResources, estimateResources } from '../../src/cli/resources.ts';
import { SpecError } from '../../src/experiment/errors.ts';
import { loadSpecFile, parseSpec } from '../../src/experiment/parse.ts';

const LAVAPIPE = { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 };
const limits = { gpu: LAVAPIPE, hostBytes: 16 * 2 ** 30, heapBytes: 4 * 2 ** 30 };

const spec = (edit: (s: any) => void) => {
  const s: any = {
    dim: 1,
    classes: [
      { name: 'pos', components: [{ kind: 'uniform', low: [0], high: [1] }] },
      { name: 'neg', components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
    ],
    target: 'pos',
    process: { kind: 'ou' },
    guidance: { kind: 'cfg', w: 1 },
    solver: { kind: 'rk4', steps: 100 },
    particles: 1000,
  };
  edit(s);
  return parseSpec(s);
};

function issues(s: ReturnType<typeof spec>, backend: 'cpu' | 'webgpu') {
  try {
    checkResources(estimateResources(s, { backend, outDtype: 'f32' }), limits);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
}

describe('resource estimate', () => {
  it('every example fits on both backends', () => {
    const dir = join(import.meta.dirname, '../../examples');
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const s = loadSpecFile(join(dir, f));
      expect(issues(s, 'cpu'), f).toEqual([]);
      expect(issues(s, 'webgpu'), f).toEqual([]);
    }
  });

  it('a step table beyond the adapter binding names solver.steps (general kernel only)', () => {
    const big = spec((s) => {
      s.solver.steps = 10 ** 6;
    }); // 4e6 rows x 48 bytes > 128 MiB
    expect(issues(big, 'webgpu')).toEqual([
      expect.objectContaining({
        path: 'solver.steps',
        message: expect.stringMatching(/storage binding.*reduce solver\.steps/),
      }),
    ]);
    expect(issues(big, 'cpu')).toEqual([]); // 1.6 GB of heap fits 4 GiB
    const gauss = spec((s) => {
      s.solver.steps = 10 ** 6;
      s.classes[0].components = [{ kind: 'gaussian', mean: [1], cov: 1 }];
    });
    expect(issues(gauss, 'webgpu')).toEqual([]); // step-gauss4 binds per-dispatch windows
  });

  it('a resident corrector population beyond the binding names particles', () => {
    const fk = spec((s) => {
      s.solver = { kind: 'em', steps: 10 };
      s.corrector = { kind: 'fk' };
      s.particles = 2 ** 25;
    });
    expect(issues(fk, 'webgpu')).toEqual([
      expect.objectContaining({
        path: 'particles',
        message: expect.stringMatching(/corrector population.*reduce particles, dim, corrector/),
      }),
    ]);
  });

  it('a corrected population beyond host memory names particles and dim; a plain run streams (bounded memory); the heap limit names solver.steps', () => {
    const fk = (s: any) => {
      s.solver = { kind: 'em', steps: 10 };
      s.corrector = { kind: 'fk' };
      s.particles = 2 ** 30;
    };
    expect(issues(spec(fk), 'cpu')[0]).toMatchObject({
      path: 'particles',
      message: expect.stringMatching(/host memory.*reduce particles, dim/),
    });
    // Without a corrector the particles stream through a bounded summary (src/cpu/stream.ts): N is limited by time only.
    expect(
      issues(
        spec((s) => {
          s.particles = 2 ** 32 - 1;
        }),
        'cpu',
      ),
    ).toEqual([]);
    expect(
      issues(
        spec((s) => {
          s.particles = 2 ** 32 - 1;
        }),
        'webgpu',
      ),
    ).toEqual([]);
    expect(
      issues(
        spec((s) => {
          s.solver.steps = 10 ** 7;
        }),
        'cpu',
      )[0],
    ).toMatchObject({ path: 'solver.steps', message: expect.stringMatching(/JavaScript heap/) });
  });

  it('counts particle-steps and evaluations', () => {
    const e = estimateResources(
      spec(() => {}),
      { backend: 'cpu' },
    );
    expect(e).toMatchObject({ rows: 400, particleSteps: 1000 * 100, evaluations: 1000 * 400, work: 1000 * 400 * 2 });
  });
});
