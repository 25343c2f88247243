// The one writer of output files: run --out, check --report, sweep's files, classifiers --json.
//
// - checkOutput, before any work: the path is not an input (after resolving links, and not a
//   hard link to one), its folder exists, it is not a folder, and an existing file the user
//   cannot write is replaced only with --force.
// - writeAtomic: the data go to a temporary file beside the target (a unique name, so that
//   concurrent writers never share one), are flushed, take the replaced file's mode, and are
//   renamed over the target: a reader sees the old file or the new one, never a part, and of
//   concurrent writers the last complete one wins. The temporary is removed on any exception
//   (a failed write, device loss) and on SIGINT, SIGTERM and SIGHUP (the handlers exist only
//   while a temporary does, and re-raise the signal so the exit status still says so).
// The file-system calls are a parameter, so tests can make a write fail midway (disk full).
import * as nodeFs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { SpecIssue } from '../experiment/errors.ts';

/** The file-system calls writeAtomic makes (node:fs by default; tests inject failures). */
export interface WriterFs {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  fchmodSync(fd: number, mode: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force: boolean }): void;
}

const realFs: WriterFs = nodeFs;

// ---------------------------------------------------------------------------------------
// Checks before any work

export interface OutputCheckOptions {
  /** The command-line flag, for the issue's path (e.g. `--out`). */
  flag: string;
  /** Files the command reads (the spec); the output may be none of them. */
  inputs: string[];
  /** Replace a write-protected file. */
  force?: boolean;
}

/** The target's real path (through symlinks; for a new file, its folder's real path). */
function realTarget(path: string): string {
  const abs = resolve(path);
  try {
    return nodeFs.realpathSync(abs);
  } catch {
    try {
      return join(nodeFs.realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

function sameFile(a: string, b: string): boolean {
  if (realTarget(a) === realTarget(b)) return true;
  try {
    const sa = nodeFs.statSync(a);
    const sb = nodeFs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino; // hard links
  } catch {
    return false;
  }
}

/**
 * Whether the user may replace an existing file. root passes every access(2) check, so for root
 * a file without any write bit counts as write-protected (as `rm` treats it).
 */
function writeProtected(path: string, mode: number): boolean {
  try {
    nodeFs.accessSync(path, nodeFs.constants.W_OK);
  } catch {
    return true;
  }
  return process.getuid?.() === 0 && (mode & 0o222) === 0;
}

/** The first reason `path` cannot be written as an output, or null. */
export function checkOutput(path: string, opts: OutputCheckOptions): SpecIssue | null {
  const issue = (message: string): SpecIssue => ({ path: opts.flag, message });
  for (const input of opts.inputs) {
    if (sameFile(path, input)) return issue(`${path} is the input ${input}: refusing to overwrite it`);
  }
  const dir = dirname(resolve(path));
  if (!nodeFs.existsSync(dir) || !nodeFs.statSync(dir).isDirectory()) return issue(`folder ${dir} does not exist`);
  if (!nodeFs.existsSync(path)) return null;
  const st = nodeFs.statSync(path);
  if (st.isDirectory()) return issue(`${path} is a folder`);
  if (!st.isFile()) return issue(`${path} exists and is not a regular file`);
  if (!opts.force && writeProtected(path, st.mode)) {
    return issue(`${path} is write-protected (mode ${(st.mode & 0o777).toString(8)}); pass --force to replace it`);
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Temporaries and signals

const temporaries = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeTemporaries(): void {
  for (const tmp of temporaries) {
    try {
      nodeFs.rmSync(tmp, { force: true });
    } catch {
      /* nothing more can be done while exiting */
    }
  }
  temporaries.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeTemporaries();
  uninstall();
  // Re-raise: with our handler gone the default action ends the process "killed by signal".
  process.kill(process.pid, signal);
}

function install(): void {
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', removeTemporaries);
}

function uninstall(): void {
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.removeListener('exit', removeTemporaries);
}

function track(tmp: string): void {
  if (temporaries.size === 0) install();
  temporaries.add(tmp);
}

function untrack(tmp: string): void {
  temporaries.delete(tmp);
  if (temporaries.size === 0) uninstall();
}

/** Temporaries currently being written (tests). */
export function liveTemporaries(): string[] {
  return [...temporaries];
}

// ---------------------------------------------------------------------------------------
// Writing

export interface WriteOptions {
  fs?: WriterFs;
}

/** Where the data really go: through a symlink to its target, so the link stays a link. */
function destination(path: string): string {
  try {
    if (nodeFs.lstatSync(path).isSymbolicLink()) return nodeFs.realpathSync(path);
  } catch {
    /* a new file */
  }
  return path;
}

function describeError(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOSPC') return new Error(`cannot write ${path}: no space left on device (nothing was written)`);
  if (e.code) return new Error(`cannot write ${path}: ${e.message} (nothing was written)`);
  return err as Error;
}

/**
 * Writes `path` atomically: `fill` is called with a write callback and may be async (chunks
 * streamed from a GPU); when it returns, the file is complete and renamed into place. If `fill`
 * or a write throws, the temporary is removed and `path` is untouched.
 */
export async function writeAtomic(
  path: string,
  fill: (write: (bytes: Uint8Array) => void) => Promise<void> | void,
  opts: WriteOptions = {},
): Promise<void> {
  const fs = opts.fs ?? realFs;
  const target = destination(path);
  let mode: number | undefined;
  try {
    mode = nodeFs.statSync(target).mode & 0o7777;
  } catch {
    mode = undefined; // a new file: the usual 0666 less the umask
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  track(tmp);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o666);
    const file = fd;
    await fill((bytes) => {
      // writeSync may write less than asked (it does not on regular files today, but may).
      for (let off = 0; off < bytes.byteLength; ) off += fs.writeSync(file, bytes, off, bytes.byteLength - off);
    });
    if (mode !== undefined) fs.fchmodSync(file, mode);
    fs.fsyncSync(file);
    fs.closeSync(file);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    fs.rmSync(tmp, { force: true });
    throw describeError(path, err);
  } finally {
    untrack(tmp);
  }
}

/** writeAtomic for data already in memory (reports, CSV, figures). */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return writeAtomic(path, (write) => write(bytes), opts);
}
