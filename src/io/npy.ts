// Writes particles as an N x dim .npy file (format 1.0) that numpy.load reads, through the
// atomic writer (src/io/output.ts): an existing file is never truncated or half-written; and
// reads such a file back (readNpy, for tools that compare outputs).
import { readFileSync } from 'node:fs';
import { writeAtomic, type WriteOptions } from './output.ts';

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

export interface NpyWriteResult {
  /** Rows (particles) with a NaN or infinite value as written, i.e. after the cast to the dtype. */
  nonFinite: number;
}

/**
 * A float32 file would hold infinities where the sampler had finite values: refused rather
 * than written, since a reader of the file could not tell them from diverged particles.
 */
export class NpyOverflowError extends Error {
  readonly rows: number;
  constructor(path: string, rows: number, total: number) {
    super(
      `${path}: ${rows} of ${total} particles are finite but overflow float32 (|x| > 3.4e38) in the output; ` +
        'nothing was written; rerun with --dtype f64',
    );
    this.name = 'NpyOverflowError';
    this.rows = rows;
  }
}

/**
 * Streams row-major chunks (whole rows) to PATH atomically (src/io/output.ts). `fill` is called
 * with a write callback. Counts the rows that are not finite after the cast, and throws
 * NpyOverflowError (leaving PATH untouched) if the cast made any finite row non-finite.
 */
export async function writeNpyAtomic(
  path: string,
  rows: number,
  cols: number | null,
  dtype: NpyDtype,
  fill: (write: (chunk: Float32Array | Float64Array) => void) => Promise<void> | void,
  opts: WriteOptions = {},
): Promise<NpyWriteResult> {
  let written = 0;
  let nonFinite = 0;
  let overflowed = 0;
  const wanted = dtype === 'f8' ? Float64Array : Float32Array;
  let scratch: Float32Array | Float64Array | null = null;
  await writeAtomic(
    path,
    async (writeBytes) => {
      writeBytes(npyHeader(rows, cols, dtype));
      await fill((chunk) => {
        const width = cols ?? 1;
        if (chunk.length % width !== 0)
          throw new Error(`npy: a chunk of ${chunk.length} values is not whole rows of ${width}`);
        // The cast goes through one reused buffer (the bytes are written synchronously below),
        // so streaming N rows allocates O(chunk), not O(N) for the GC to catch up with.
        let typed: Float32Array | Float64Array = chunk;
        if (!(chunk instanceof wanted)) {
          if (!scratch || scratch.length < chunk.length) scratch = new wanted(chunk.length);
          typed = scratch.subarray(0, chunk.length);
          typed.set(chunk);
        }
        for (let r = 0; r < typed.length; r += width) {
          if (rowFinite(typed, r, width)) continue;
          nonFinite++;
          if (typed !== chunk && rowFinite(chunk, r, width)) overflowed++;
        }
        if (overflowed > 0) throw new NpyOverflowError(path, overflowed, rows);
        // Little-endian hosts only (x86, ARM): typed arrays are written as laid out in memory.
        writeBytes(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
        written += chunk.length;
      });
      if (written !== rows * (cols ?? 1))
        throw new Error(`npy: wrote ${written} values, expected ${rows * (cols ?? 1)}`);
    },
    opts,
  );
  return { nonFinite };
}

function rowFinite(a: ArrayLike<number>, start: number, cols: number): boolean {
  for (let i = start; i < start + cols; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/**
 * The values of a .npy file as this module writes it (format 1.0, little-endian f4 or f8, C
 * order), widened to f64. Anything else is an error naming the file.
 */
export function readNpy(path: string): Float64Array {
  const bytes = readFileSync(path);
  if (bytes.subarray(0, 8).toString('latin1') !== '\x93NUMPY\x01\x00')
    throw new Error(`${path}: not a .npy file (format 1.0)`);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes("'fortran_order': False")) throw new Error(`${path}: Fortran-ordered .npy files are not read`);
  const body = bytes.subarray(10 + headerLength);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  if (header.includes("'descr': '<f8'")) return new Float64Array(copy);
  if (header.includes("'descr': '<f4'")) return Float64Array.from(new Float32Array(copy));
  throw new Error(`${path}: unexpected .npy header ${header.trim()}`);
}
