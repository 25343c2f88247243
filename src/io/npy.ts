// Writes particles as an N x dim .npy file (format 1.0) that numpy.load reads.
// Written to a temporary file beside the target and renamed into place, so an
// existing file is never truncated or half-written on failure.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export type NpyDtype = 'f4' | 'f8';

/** cols = null: a vector of `rows` entries, shape (rows,). */
export function npyHeader(rows: number, cols: number | null, dtype: NpyDtype): Uint8Array {
  const shape = cols === null ? `(${rows},)` : `(${rows}, ${cols})`;
  const dict = `{'descr': '<${dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  // magic (6) + version (2) + header length (2) + dict, padded with spaces and a newline to a multiple of 64.
  const unpadded = 10 + dict.length + 1;
  const padded = Math.ceil(unpadded / 64) * 64;
  const text = dict + ' '.repeat(padded - unpadded) + '\n';
  const header = new Uint8Array(10 + text.length);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(header.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) header[10 + i] = text.charCodeAt(i);
  return header;
}

/** Streams chunks of row-major values to FILE atomically. `fill` is called with a write callback. */
export async function writeNpyAtomic(
  path: string,
  rows: number,
  cols: number | null,
  dtype: NpyDtype,
  fill: (write: (chunk: Float32Array | Float64Array) => void) => Promise<void> | void,
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  let written = 0;
  try {
    writeSync(fd, npyHeader(rows, cols, dtype));
    await fill((chunk) => {
      const wanted = dtype === 'f8' ? Float64Array : Float32Array;
      const typed = chunk instanceof wanted ? chunk : wanted.from(chunk);
      // Little-endian hosts only (x86, ARM): typed arrays are written as laid out in memory.
      writeSync(fd, new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
      written += chunk.length;
    });
    if (written !== rows * (cols ?? 1)) throw new Error(`npy: wrote ${written} values, expected ${rows * (cols ?? 1)}`);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw err;
  }
}
