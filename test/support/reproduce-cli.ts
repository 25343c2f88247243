// Runs `guidance-sampler reproduce` as a user does (a child process) and reads its JSON.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../bin/guidance-sampler.js');

export interface ReproRun {
  status: number | null;
  stderr: string;
  out: string;
  json: any;
}

export function reproduce(name: string, extra: string[] = []): ReproRun {
  const out = mkdtempSync(join(tmpdir(), `gs-repro-${name}-`));
  const r = spawnSync(process.execPath, [BIN, 'reproduce', name, '--quick', '--out', out, ...extra], {
    encoding: 'utf8',
  });
  const file = join(out, `${name}.json`);
  return {
    status: r.status,
    stderr: r.stderr,
    out,
    json: existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null,
  };
}
