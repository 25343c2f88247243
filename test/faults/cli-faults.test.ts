// The command line under bad outputs, impossible work, overflow, concurrency and signals
// (issue 14 items 2-5). Every case here failed before the change (see the probes).
// @vitest-environment node
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');
const fresh = () => mkdtempSync(join(tmpdir(), 'gs-faults-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const base = {
  dim: 1,
  classes: [
    { name: 'pos', components: [{ kind: 'gaussian', mean: [1], cov: 1 }] },
    { name: 'neg', components: [{ kind: 'gaussian', mean: [-1], cov: 1 }] },
  ],
  target: 'pos',
  process: { kind: 'ou', T: 10 },
  guidance: { kind: 'cfg', w: 3 },
  solver: { kind: 'rk4', steps: 20 },
  particles: 500,
  seed: 1,
};

function specFile(dir: string, name: string, edit: (s: any) => void = () => {}): string {
  const s = structuredClone(base) as any;
  edit(s);
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(s));
  return path;
}

describe('run: outputs', () => {
  it('refuses --out equal to the spec (a spec named *.npy), exit 2, spec intact', () => {
    const dir = fresh();
    const spec = specFile(dir, 'spec.npy');
    const before = readFileSync(spec, 'utf8');
    const r = cli(['run', spec, '--backend', 'cpu', '--out', spec]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--out: .*is the input/);
    expect(readFileSync(spec, 'utf8')).toBe(before);
  });

  it('refuses a read-only --out without --force; with it, replaces it and keeps 0444', () => {
    const dir = fresh();
    const spec = specFile(dir, 'spec.json');
    const out = join(dir, 'ro.npy');
    writeFileSync(out, 'keep me');
    chmodSync(out, 0o444);
    const r = cli(['run', spec, '--backend', 'cpu', '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--out: .*write-protected.*--force/);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const f = cli(['run', spec, '--backend', 'cpu', '--out', out, '--force']);
    expect(f.status).toBe(0);
    expect(readFileSync(out).subarray(1, 6).toString()).toBe('NUMPY');
    expect(statSync(out).mode & 0o777).toBe(0o444);
    expect(readdirSync(dir).sort()).toEqual(['ro.npy', 'spec.json']);
  });

  it('two runs writing one --out at once: both succeed and the file is one of them, whole', () => {
    const dir = fresh();
    const specs = [1, 2].map((seed) =>
      specFile(dir, `s${seed}.json`, (s) => {
        s.seed = seed;
        s.particles = 20000;
      }),
    );
    const alone = specs.map((s, i) => {
      const out = join(dir, `alone${i}.npy`);
      expect(cli(['run', s, '--backend', 'cpu', '--out', out]).status).toBe(0);
      return readFileSync(out);
    });
    const shared = join(dir, 'shared.npy');
    const both = specs.map((s) =>
      spawn(process.execPath, [BIN, 'run', s, '--backend', 'cpu', '--out', shared], { stdio: 'ignore' }),
    );
    return Promise.all(both.map((c) => new Promise<number | null>((r) => c.on('exit', r)))).then((codes) => {
      expect(codes).toEqual([0, 0]);
      const got = readFileSync(shared);
      expect(got.equals(alone[0]) || got.equals(alone[1])).toBe(true);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  });
});

describe('check, sweep, classifiers: outputs are checked before any work', () => {
  it('check --report onto the spec: exit 2, spec intact', () => {
    const dir = fresh();
    const spec = specFile(dir, 'spec.json');
    const r = cli(['check', spec, '--backend', 'cpu', '--report', spec]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--report: .*is the input/);
    expect(JSON.parse(readFileSync(spec, 'utf8'))).toEqual(base);
  });

  it('classifiers --json onto the spec: exit 2, spec intact', () => {
    const dir = fresh();
    const spec = specFile(dir, 'spec.json');
    const r = cli(['classifiers', spec, '--json', spec]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--json: .*is the input/);
    expect(JSON.parse(readFileSync(spec, 'utf8'))).toEqual(base);
  });

  it('sweep --out-dir holding the spec as sweep.json, or a write-protected sweep.csv: exit 2', () => {
    const dir = fresh();
    const spec = specFile(dir, 'sweep.json');
    const r = cli(['sweep', spec, '--w', '0,1', '--backend', 'cpu', '--out-dir', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--out-dir: .*sweep\.json is the input/);
    const other = fresh();
    const spec2 = specFile(other, 'spec.json');
    writeFileSync(join(other, 'sweep.csv'), 'old');
    chmodSync(join(other, 'sweep.csv'), 0o444);
    const p = cli(['sweep', spec2, '--w', '0,1', '--backend', 'cpu', '--out-dir', other]);
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/--out-dir: .*sweep\.csv is write-protected/);
    expect(readdirSync(other).sort()).toEqual(['spec.json', 'sweep.csv']);
  });
});

describe('run: impossible and long work', () => {
  it('solver.steps = 1e12 is refused before any work, naming solver.steps (exit 2)', () => {
    const dir = fresh();
    const spec = specFile(dir, 'steps.json', (s) => {
      s.solver.steps = 1e12;
    });
    const t0 = performance.now();
    const r = cli(['run', spec, '--backend', 'cpu', '--out', join(dir, 'o.npy')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/solver\.steps: .*(heap|memory|table)/);
    expect(performance.now() - t0).toBeLessThan(10000);
    expect(readdirSync(dir)).toEqual(['steps.json']);
  });

  it('a corrected population too big for host memory names particles and dim (exit 2)', () => {
    // (Without a corrector, particles stream through a bounded summary: N is limited by time only.)
    const dir = fresh();
    const spec = specFile(dir, 'big.json', (s) => {
      s.dim = 4096;
      s.particles = 4e9;
      s.solver = { kind: 'em', steps: 10 };
      s.corrector = { kind: 'fk' };
      s.classes = [
        { name: 'pos', components: [{ kind: 'gaussian', mean: Array(4096).fill(1), cov: 1 }] },
        { name: 'neg', components: [{ kind: 'gaussian', mean: Array(4096).fill(-1), cov: 1 }] },
      ];
    });
    const r = cli(['run', spec, '--backend', 'cpu']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/particles: the run needs about .* of host memory .*reduce particles, dim/);
  });

  it('a huge but feasible run says how long it expects to take, and on what rate', async () => {
    const dir = fresh();
    const spec = specFile(dir, 'long.json', (s) => {
      s.solver.steps = 100000;
      s.particles = 1e6;
    });
    const child = spawn(process.execPath, [BIN, 'run', spec, '--backend', 'cpu'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/expected to take/.test(stderr)) resolve();
      });
      child.on('exit', () => resolve());
    });
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    expect(stderr).toMatch(/1\.00e\+11 particle-steps: expected to take about .* measured on a 512-particle probe/);
  });
});

describe('run: overflow is never silent', () => {
  const overflowing = (s: any) => {
    s.classes[0].components[0].cov = 1e-300;
    s.classes[1].components[0].cov = 1e-300;
    s.guidance.w = 1e300;
    s.solver = { kind: 'euler', steps: 10 };
  };

  it('statistics that overflow: strings, never null, overflow named, exit 1', () => {
    const dir = fresh();
    const r = cli(['run', specFile(dir, 'o.json', overflowing), '--backend', 'cpu']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    // (null remains only where it means "not applicable": adapter on the CPU, insideSupport when unbounded.)
    expect(JSON.stringify([report.mean, report.covariance, report.quantiles, report.nonFinite])).not.toContain('null');
    expect(report.overflow).toBe(true);
    expect(report.overflowFields).toContain('covariance[0][0]');
    expect(typeof report.covariance[0][0]).toBe('string');
    expect(Number.isFinite(Number(report.covariance[0][0]))).toBe(false);
    expect(r.stderr).toMatch(/overflowed \(covariance\[0\]\[0\]\).*not trustworthy/);
  });

  it('an --out float32 cast that overflows: exit 1, --dtype f64 suggested, nothing written', () => {
    const dir = fresh();
    const spec = specFile(dir, 'o.json', overflowing);
    const out = join(dir, 'o.npy');
    const r = cli(['run', spec, '--backend', 'cpu', '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/500 of 500 particles are finite but overflow float32.*--dtype f64/);
    expect(existsSync(out)).toBe(false);
    const f = cli(['run', spec, '--backend', 'cpu', '--out', out, '--dtype', 'f64']);
    expect(JSON.parse(f.stdout).out).toEqual({ path: out, dtype: 'f64', nonFinite: 0 });
    expect(readdirSync(dir).sort()).toEqual(['o.json', 'o.npy']);
  });

  it('on webgpu the same spec overflows f32 in the kernel: every particle counted non-finite, exit 1', () => {
    const dir = fresh();
    const r = cli(['run', specFile(dir, 'o.json', overflowing), '--backend', 'webgpu']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ backend: 'webgpu', nonFinite: 500, mean: ['NaN'], overflow: false });
    expect(r.stderr).toMatch(/500 of 500 particles are not finite.*not trustworthy/);
  });

  it('a normal run reports the --out count after the cast and no overflow', () => {
    const dir = fresh();
    const out = join(dir, 'n.npy');
    const r = cli(['run', specFile(dir, 'n.json'), '--backend', 'cpu', '--out', out]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      nonFinite: 0,
      overflow: false,
      overflowFields: [],
      out: { path: out, dtype: 'f32', nonFinite: 0 },
    });
  });
});
