// Bounded memory (issue 19 item 1): bench/memory.ts at two N five times apart, each in a fresh
// process. The former summary held N x dim f64 (320 MB at 10^7, d = 4, three copies on the
// CPU); the streamed run's peak RSS must not grow by more than 15% (measured: 184 and 182 MiB).
// @vitest-environment node
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('peak RSS of run (cpu, d = 4) is flat from 2e6 to 1e7 particles', () => {
  const r = spawnSync(
    process.execPath,
    [join(import.meta.dirname, '../../bench/memory.ts'), '--particles', '2e6,1e7', '--dim', '4', '--steps', '1'],
    { encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout);
  const [small, large] = out.results;
  expect(large.particles).toBe(1e7);
  expect(out.flatness).toBeLessThanOrEqual(1.15);
  // Far below what holding the coordinates would add (an O(N) summary fails this).
  expect(large.peakRssBytes - small.peakRssBytes).toBeLessThan(
    (large.unboundedSummaryBytes - small.unboundedSummaryBytes) / 4,
  );
}, 60_000);
