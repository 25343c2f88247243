// The command line as a user meets it: exit statuses, messages that name the field,
// --out files written whole or not at all, and a summary that matches the particles.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');
const dir = mkdtempSync(join(tmpdir(), 'gs-cli-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const base = {
  dim: 1,
  classes: [
    { name: 'pos', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [1], cov: 1 }] },
    { name: 'neg', weight: 0.5, components: [{ kind: 'gaussian', weight: 1, mean: [-1], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'rk4', steps: 20, tMin: 1e-3 },
  particles: 500,
  seed: 1,
};

function specFile(name: string, spec: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(spec));
  return path;
}

function mutate(f: (s: any) => void): unknown {
  const s = structuredClone(base);
  f(s);
  return s;
}

describe('guidance-sampler run: bad input', () => {
  const cases: [string, unknown, string][] = [
    [
      'covariance not positive definite',
      mutate((s) => {
        s.dim = 2;
        s.classes[0].components[0] = {
          kind: 'gaussian',
          weight: 1,
          mean: [0, 0],
          cov: [
            [1, 2],
            [2, 1],
          ],
        };
        s.classes[1].components[0].mean = [0, 0];
      }),
      'classes[0].components[0].cov',
    ],
    [
      'negative variance',
      mutate((s) => {
        s.classes[1].components[0].cov = [-1];
      }),
      'classes[1].components[0].cov[0]',
    ],
    [
      'unknown target',
      mutate((s) => {
        s.target = 'zero';
      }),
      'target',
    ],
    [
      'dimension mismatch',
      mutate((s) => {
        s.classes[0].components[0].mean = [1, 2];
      }),
      'classes[0].components[0].mean',
    ],
    [
      'zero particles',
      mutate((s) => {
        s.particles = 0;
      }),
      'particles',
    ],
  ];
  it.each(cases)('%s: exit 2, names the field, leaves --out untouched', (name, spec, path) => {
    const out = join(dir, `keep-${name.replace(/\W+/g, '-')}.npy`);
    writeFileSync(out, 'precious');
    const r = cli(['run', specFile(`${name}.json`, spec), '--backend', 'cpu', '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${path}:`);
    expect(r.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe('precious');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a missing spec file and bad JSON exit 2', () => {
    expect(cli(['run', join(dir, 'nope.json')]).status).toBe(2);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"dim": 1,');
    const r = cli(['run', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('(file)');
  });

  it('bad arguments exit 2 with the option named', () => {
    const spec = specFile('ok.json', base);
    const r = cli(['run', spec, '--particles', 'many']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--particles');
    const r2 = cli(['run', spec, '--backend', 'cuda']);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('cuda');
    const r3 = cli(['run', spec, '--particles', '0']);
    expect(r3.status).toBe(2);
    expect(r3.stderr).toContain('particles');
    const r4 = cli(['run', spec, '--out', join(dir, 'no-such-folder', 'x.npy')]);
    expect(r4.status).toBe(2);
    expect(r4.stderr).toContain('--out');
  });

  it('--help works for the program and for run', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('run');
    const r2 = cli(['run', '--help']);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toContain('--backend');
    expect(r2.stdout).toContain('--out');
  });
});

describe('guidance-sampler run: output', () => {
  it('--log-density writes X.logq.npy and X.logp.npy (f64, N entries) next to X.npy; refuses nonlinear guidance with exit 2 and no files', () => {
    const out = join(dir, 'ld.npy');
    const r = cli([
      'run',
      specFile('ld.json', base),
      '--backend',
      'cpu',
      '--out',
      out,
      '--particles',
      '200',
      '--log-density',
    ]);
    expect(r.status).toBe(0);
    for (const f of ['ld.logq.npy', 'ld.logp.npy']) {
      const bytes = readFileSync(join(dir, f));
      const headerLength = bytes.readUInt16LE(8);
      expect(bytes.subarray(10, 10 + headerLength).toString('latin1')).toContain(
        "'descr': '<f8', 'fortran_order': False, 'shape': (200,)",
      );
      const v = new Float64Array(
        bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length),
      );
      expect(v.length).toBe(200);
      expect(v.every(Number.isFinite)).toBe(true);
    }
    const bad = join(dir, 'bad.npy');
    const r2 = cli([
      'run',
      specFile(
        'ld-bad.json',
        mutate((s) => (s.guidance = { kind: 'cfg', w: 1, variant: { kind: 'powerlaw', alpha: 0.5 } })),
      ),
      '--backend',
      'cpu',
      '--out',
      bad,
      '--particles',
      '20',
      '--log-density',
    ]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('guidance.variant: log-density needs linear guidance');
    expect(existsSync(bad)).toBe(false);
  });

  it('--log-det writes X.logq.npy from the discrete map and X.logq-flow.npy, reports their gap; refuses without --log-density (exit 2)', () => {
    const out = join(dir, 'det.npy');
    const r = cli([
      'run',
      specFile('det.json', base),
      '--backend',
      'cpu',
      '--out',
      out,
      '--particles',
      '100',
      '--log-density',
      '--log-det',
    ]);
    expect(r.status).toBe(0);
    const read = (f: string) => {
      const bytes = readFileSync(join(dir, f));
      const headerLength = bytes.readUInt16LE(8);
      return new Float64Array(
        bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length),
      );
    };
    const map = read('det.logq.npy'),
      flow = read('det.logq-flow.npy');
    expect(map.length).toBe(100);
    expect(flow.length).toBe(100);
    let max = 0;
    for (let i = 0; i < 100; i++) max = Math.max(max, Math.abs(map[i] - flow[i]));
    const report = JSON.parse(r.stdout);
    expect(report.logDet.maxGap).toBeCloseTo(max, 12);
    expect(max).toBeGreaterThan(0); // two routes, not one file written twice
    const r2 = cli([
      'run',
      specFile('det2.json', base),
      '--backend',
      'cpu',
      '--out',
      join(dir, 'det2.npy'),
      '--particles',
      '10',
      '--log-det',
    ]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('--log-det: needs --log-density');
  });

  it('prints a JSON summary and writes an N x dim .npy that numpy reads', () => {
    const out = join(dir, 'particles.npy');
    const r = cli([
      'run',
      specFile('run.json', base),
      '--backend',
      'cpu',
      '--out',
      out,
      '--dtype',
      'f64',
      '--particles',
      '300',
      '--seed',
      '7',
    ]);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.particles).toBe(300);
    expect(summary.dim).toBe(1);
    expect(summary.backend).toBe('cpu');
    expect(summary.nonFinite).toBe(0);
    expect(summary.quantiles.p).toEqual([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]);
    expect(summary.spec.seed).toBe(7);
    expect(typeof summary.elapsedSeconds).toBe('number');
    // Parse the file ourselves (format 1.0) and check the summary's mean against it.
    const bytes = readFileSync(out);
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    const headerLength = bytes.readUInt16LE(8);
    const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
    expect(header).toContain("'descr': '<f8'");
    expect(header).toContain("'shape': (300, 1)");
    expect((10 + headerLength) % 64).toBe(0);
    const values = new Float64Array(
      bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length),
    );
    expect(values.length).toBe(300);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean - summary.mean[0])).toBeLessThan(1e-12);
    // numpy, where the machine has it, reads the same shape.
    const py = spawnSync(
      'python3',
      ['-c', `import numpy; a = numpy.load(${JSON.stringify(out)}); print(a.shape, a.dtype)`],
      { encoding: 'utf8' },
    );
    if (py.status === 0) expect(py.stdout.trim()).toBe('(300, 1) float64');
  });

  it('reports the fraction inside a bounded support', () => {
    const spec = mutate((s) => {
      s.classes[0].components[0] = { kind: 'uniform', weight: 1, low: [0], high: [2] };
      s.guidance = { kind: 'none' };
      s.solver.steps = 200;
      s.particles = 200;
    });
    const r = cli(['run', specFile('box.json', spec), '--backend', 'cpu']);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    // At tMin = 1e-3 (sigma = 0.045) about 2 % of the diffused box lies outside it.
    expect(summary.insideSupport).toBeGreaterThan(0.9);
    expect(summary.insideSupport).toBeLessThanOrEqual(1);
  });
});

describe('guidance-sampler: the fk corrector', () => {
  const fk = mutate((s) => {
    s.solver = { kind: 'em', steps: 20, tMin: 1e-3 };
    s.corrector = { kind: 'fk', essThreshold: 0.5 };
    s.particles = 400;
  });

  it('run (cpu) reports the corrector: resamples, ESS, log-normaliser', () => {
    const r = cli(['run', specFile('fk.json', fk), '--backend', 'cpu']);
    expect(r.status).toBe(0);
    const c = JSON.parse(r.stdout).corrector;
    expect(c.kind).toBe('fk');
    expect(c.resamples).toBeGreaterThanOrEqual(1); // at least the final one
    expect(c.essFractionMin).toBeGreaterThan(0);
    expect(c.essFractionMin).toBeLessThanOrEqual(1);
    expect(Number.isFinite(c.logNormaliser)).toBe(true);
    expect(c.nonFiniteDiscarded).toBe(0);
  });

  it('check on a corrected spec compares independent populations (t tests against the tilted law)', () => {
    const r = cli([
      'check',
      specFile('fk-check.json', fk),
      '--backend',
      'cpu',
      '--particles',
      '4096',
      '--populations',
      '8',
    ]);
    expect([0, 1]).toContain(r.status);
    const report = JSON.parse(r.stdout);
    expect(report.against).toBe('tilted');
    expect(report.populations).toBe(8);
    expect(report.particlesPerPopulation).toBe(512);
    expect(report.outcomes.map((o: { name: string }) => o.name)).toEqual([
      'x0 mean',
      'x0 variance',
      'x0 P(x < q10)',
      'x0 P(x < q50)',
      'x0 P(x < q90)',
    ]);
    expect(r.stderr).toContain('8 independent populations of 512');
    // Too few particles per population: exit 2 naming the option, before any work.
    const bad = cli([
      'check',
      specFile('fk-check.json', fk),
      '--backend',
      'cpu',
      '--particles',
      '1000',
      '--populations',
      '8',
    ]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--populations: 1000 particles make populations of 125');
  });

  it('fk with an ODE solver: exit 2, names corrector.kind', () => {
    const r = cli([
      'run',
      specFile(
        'fk-ode.json',
        mutate((s) => (s.corrector = { kind: 'fk' })),
      ),
      '--backend',
      'cpu',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('corrector.kind: fk weights the reverse SDE');
  });
});

it('the binary exists', () => {
  expect(existsSync(BIN)).toBe(true);
  expect(execFileSync(process.execPath, ['--version'], { encoding: 'utf8' }).startsWith('v2')).toBe(true);
});
