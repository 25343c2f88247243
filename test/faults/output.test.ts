// The output writer (src/io/output.ts, issue 14 item 3 and the disk-full part of item 5): an
// output is never an input, a write-protected file needs --force, the replaced file's mode is
// kept, a write that fails midway (disk full, injected at the file layer) leaves the old file
// intact and no temporary, and concurrent writers never make a corrupt file.
// @vitest-environment node
import * as fs from 'node:fs';
import {
  chmodSync,
  linkSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOutput, liveTemporaries, writeAtomic, writeFileAtomic, type WriterFs } from '../../src/io/output.ts';
import { checkOutPath } from '../../src/cli/run.ts';
import { NpyOverflowError, readNpy, writeNpyAtomic } from '../../src/io/npy.ts';
import { SpecError } from '../../src/experiment/errors.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'gs-out-'));
const listing = (dir: string) => readdirSync(dir).sort();

/** node:fs, except that writes fail with ENOSPC once `capacity` bytes have been written. */
function diskOf(capacity: number): WriterFs & { written: number } {
  const disk = {
    ...fs,
    written: 0,
    writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number {
      const room = capacity - disk.written;
      if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      // A partial write first, as a full disk does.
      const n = fs.writeSync(fd, buffer, offset, Math.min(length, room));
      disk.written += n;
      return n;
    },
  };
  return disk;
}

describe('output paths are checked before any work', () => {
  it('refuses the spec itself, through a symlink and through a hard link', () => {
    const dir = fresh();
    const spec = join(dir, 'spec.npy');
    writeFileSync(spec, '{}');
    symlinkSync(spec, join(dir, 'link.npy'));
    linkSync(spec, join(dir, 'hard.npy'));
    for (const out of [spec, join(dir, 'link.npy'), join(dir, 'hard.npy'), join(dir, '.', 'spec.npy')]) {
      expect(() => checkOutPath(out, [spec]), out).toThrow(SpecError);
      expect(() => checkOutPath(out, [spec]), out).toThrow(/is the input/);
    }
    expect(readFileSync(spec, 'utf8')).toBe('{}');
  });

  it('refuses a write-protected file unless forced (also for root, by its mode bits)', () => {
    const dir = fresh();
    const out = join(dir, 'ro.npy');
    writeFileSync(out, 'old');
    chmodSync(out, 0o444);
    expect(checkOutput(out, { flag: '--out', inputs: [] })?.message).toMatch(/write-protected.*--force/);
    expect(checkOutput(out, { flag: '--out', inputs: [], force: true })).toBeNull();
  });

  it('refuses a folder, a missing folder and a non-regular file', () => {
    const dir = fresh();
    expect(checkOutput(dir, { flag: '--out', inputs: [] })?.message).toMatch(/is a folder/);
    expect(checkOutput(join(dir, 'no/x.npy'), { flag: '--out', inputs: [] })?.message).toMatch(/does not exist/);
    expect(checkOutput('/dev/null', { flag: '--out', inputs: [] })?.message).toMatch(/not a regular file/);
  });
});

describe('writeAtomic', () => {
  it("keeps the replaced file's mode (also 0444 when forced)", async () => {
    const dir = fresh();
    for (const mode of [0o640, 0o444, 0o600]) {
      const out = join(dir, `m${mode.toString(8)}.json`);
      writeFileSync(out, 'old');
      chmodSync(out, mode);
      await writeFileAtomic(out, 'new');
      expect(readFileSync(out, 'utf8')).toBe('new');
      expect(statSync(out).mode & 0o777).toBe(mode);
    }
    expect(listing(dir)).toEqual(['m444.json', 'm600.json', 'm640.json']);
  });

  it('writes through a symlink and keeps the link', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'real.json'), 'old');
    symlinkSync(join(dir, 'real.json'), join(dir, 'link.json'));
    await writeFileAtomic(join(dir, 'link.json'), 'new');
    expect(fs.lstatSync(join(dir, 'link.json')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'real.json'), 'utf8')).toBe('new');
  });

  it('disk full midway: a clear error, the old file intact, no temporary', async () => {
    const dir = fresh();
    const out = join(dir, 'out.npy');
    writeFileSync(out, 'previous result');
    const disk = diskOf(1000);
    const data = new Float64Array(1000).fill(1.5);
    const write = writeNpyAtomic(out, 1000, 1, 'f8', (w) => w(data), { fs: disk });
    await expect(write).rejects.toThrow(/no space left on device/);
    expect(disk.written).toBe(1000); // it failed midway, after a partial write
    expect(readFileSync(out, 'utf8')).toBe('previous result');
    expect(listing(dir)).toEqual(['out.npy']);
    expect(liveTemporaries()).toEqual([]);
  });

  it('completes short writes (writeSync may write less than asked)', async () => {
    const dir = fresh();
    const out = join(dir, 'short.npy');
    const short: WriterFs = { ...fs, writeSync: (fd, b, off, len) => fs.writeSync(fd, b, off, Math.min(len, 7)) };
    const data = Float64Array.from({ length: 300 }, (_, i) => i);
    await writeNpyAtomic(out, 100, 3, 'f8', (w) => w(data), { fs: short });
    const bytes = readFileSync(out);
    expect(new Float64Array(bytes.buffer.slice(bytes.byteOffset + 128, bytes.byteOffset + bytes.byteLength))).toEqual(
      data,
    );
  });

  it('an exception while filling (e.g. device loss) removes the temporary', async () => {
    const dir = fresh();
    const out = join(dir, 'x.npy');
    writeFileSync(out, 'old');
    await expect(
      writeAtomic(out, async (write) => {
        write(new Uint8Array(100));
        expect(readdirSync(dir).length).toBe(2); // the temporary exists meanwhile
        await new Promise((r) => setTimeout(r, 5));
        throw new Error('WebGPU device lost (reason: destroyed)');
      }),
    ).rejects.toThrow(/device lost/);
    expect(listing(dir)).toEqual(['x.npy']);
    expect(readFileSync(out, 'utf8')).toBe('old');
  });

  it('concurrent writers to one path: the last complete write wins, never a mix', async () => {
    const dir = fresh();
    const out = join(dir, 'race.bin');
    const writers = Array.from({ length: 8 }, (_, k) =>
      writeAtomic(out, async (write) => {
        for (let c = 0; c < 20; c++) {
          write(new Uint8Array(4096).fill(k));
          await new Promise((r) => setTimeout(r, Math.random() * 3)); // interleave the writers
        }
      }),
    );
    await Promise.all(writers);
    const bytes = readFileSync(out);
    expect(bytes.length).toBe(20 * 4096);
    expect(new Set(bytes).size).toBe(1); // one writer's bytes only
    expect(listing(dir)).toEqual(['race.bin']);
  });

  it('a float32 cast that overflows is refused with --dtype f64 suggested; f64 keeps the values', async () => {
    const dir = fresh();
    const out = join(dir, 'big.npy');
    writeFileSync(out, 'old');
    const data = Float64Array.from([1, 2e300, 3, Infinity, 1e39, 5]);
    await expect(writeNpyAtomic(out, 6, 1, 'f4', (w) => w(data))).rejects.toThrow(NpyOverflowError);
    await expect(writeNpyAtomic(out, 6, 1, 'f4', (w) => w(data))).rejects.toThrow(/2 of 6 particles.*--dtype f64/);
    expect(readFileSync(out, 'utf8')).toBe('old');
    // In f64 only the particle that was already infinite is non-finite, counted after the cast.
    expect(await writeNpyAtomic(out, 6, 1, 'f8', (w) => w(data))).toEqual({ nonFinite: 1 });
    expect(listing(dir)).toEqual(['big.npy']);
  });

  it('readNpy reads back what writeNpyAtomic wrote, f8 exactly and f4 as rounded, and refuses other files', async () => {
    const dir = fresh();
    const data = Float64Array.from([0.1, -2.5, Math.PI, 1e-30, Number.NaN, 7]);
    await writeNpyAtomic(join(dir, 'a.npy'), 3, 2, 'f8', (w) => w(data));
    await writeNpyAtomic(join(dir, 'b.npy'), 6, null, 'f4', (w) => w(data));
    expect(readNpy(join(dir, 'a.npy'))).toEqual(data);
    expect(readNpy(join(dir, 'b.npy'))).toEqual(Float64Array.from(Float32Array.from(data)));
    expect(readNpy(join(dir, 'b.npy'))).not.toEqual(data); // f4 rounds 0.1 and pi
    writeFileSync(join(dir, 'c.npy'), 'not numpy');
    expect(() => readNpy(join(dir, 'c.npy'))).toThrow(/c\.npy: not a \.npy file/);
  });
});
