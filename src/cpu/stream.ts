// The CPU reference in bounded memory: particles [first, first + count) in blocks of
// about CPU_STREAM_BLOCK_BYTES, sampled by persistent worker threads and handed to the caller in index
// order, with at most 2 blocks per thread alive at once (O(block) memory whatever N). The
// counter-based generator keys every draw by the particle's global index, so the particles
// are bit-identical to sampleCpu's of the whole run, whatever the blocks, threads or range.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type ExperimentPlan, planOf } from '../experiment/plan.ts';
import type { ExperimentSpec } from '../experiment/types.ts';
import { CPU_CHUNK, CpuStepper } from './reference.ts';

/** Bytes of particles (f64) per block handed to a worker. */
export const CPU_STREAM_BLOCK_BYTES = 4 * 2 ** 20;

/** Particles per block: about CPU_STREAM_BLOCK_BYTES, a multiple of CPU_CHUNK. */
export function cpuStreamBlock(dim: number): number {
  return Math.max(1, Math.floor(CPU_STREAM_BLOCK_BYTES / (dim * 8 * CPU_CHUNK))) * CPU_CHUNK;
}

export interface CpuStreamOptions {
  /** Global index of the first particle and how many. */
  first: number;
  count: number;
  threads?: number;
  /** Particles per block (tests force small ones). */
  block?: number;
  /**
   * Each block, in order: count x dim f64 and its global first index. The array is reused for a
   * later block once the returned promise settles: copy what must outlive the call.
   */
  onChunk: (chunk: Float64Array, count: number, first: number) => void | Promise<void>;
  onProgress?: (done: number, total: number) => void;
}

export async function sampleCpuStream(source: ExperimentSpec | ExperimentPlan, opts: CpuStreamOptions): Promise<void> {
  const plan = planOf(source);
  const spec = plan.spec;
  if (spec.corrector)
    throw new Error('sampleCpuStream: a corrected population is resampled as a whole (use sampleCpuFk)');
  const { first, count } = opts;
  const d = spec.dim;
  const block = opts.block ?? cpuStreamBlock(d);
  const blocks = Math.ceil(count / block);
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), blocks));
  const range = (b: number) => ({ start: first + b * block, n: Math.min(block, count - b * block) });
  if (threads === 1) {
    const stepper = new CpuStepper(plan);
    const buffer = new Float64Array(Math.min(block, count) * d);
    for (let b = 0; b < blocks; b++) {
      const { start, n } = range(b);
      const out = buffer.subarray(0, n * d);
      for (let o = 0; o < n; o += CPU_CHUNK) {
        const m = Math.min(CPU_CHUNK, n - o);
        stepper.sampleRange(start + o, m, out.subarray(o * d, (o + m) * d));
        // Yield between chunks: a signal's handler (src/io/output.ts removes the output's
        // temporary) runs on the event loop, which a whole block computed in one go would block.
        await new Promise((r) => setImmediate(r));
      }
      await opts.onChunk(out, n, start);
      opts.onProgress?.(b * block + n, count);
    }
    return;
  }
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const ready = new Map<number, Float64Array>();
      let next = 0; // next block to hand out
      let emit = 0; // next block to give the caller
      let emitting = false;
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      // Consumed blocks' buffers go back to the workers (transferred): a fixed set of at most
      // 2 x threads buffers is alive, so memory does not depend on when the GC runs.
      const spare: ArrayBuffer[] = [];
      const assign = (w: Worker) => {
        // Bounded look-ahead: a slow block holds the others back instead of piling results up.
        if (next >= blocks || next >= emit + 2 * threads) return false;
        const { start, n } = range(next);
        const buffer = spare.pop();
        w.postMessage({ block: next, first: start, count: n, buffer }, buffer ? [buffer] : []);
        next++;
        return true;
      };
      const idle: Worker[] = [];
      const drain = async () => {
        if (emitting) return;
        emitting = true;
        try {
          while (!failed && ready.has(emit)) {
            const chunk = ready.get(emit)!;
            ready.delete(emit);
            const { start, n } = range(emit);
            await opts.onChunk(chunk, n, start);
            spare.push(chunk.buffer as ArrayBuffer);
            emit++;
            opts.onProgress?.(Math.min(count, emit * block), count);
            while (idle.length > 0 && assign(idle[idle.length - 1])) idle.pop();
          }
          if (emit === blocks) resolve();
        } catch (err) {
          fail(err);
        } finally {
          emitting = false;
        }
      };
      for (let t = 0; t < threads; t++) {
        const worker = new Worker(new URL('./stream-worker.ts', import.meta.url), { workerData: { spec } });
        workers.push(worker);
        worker.on('message', (msg: { block: number; particles: Float64Array }) => {
          ready.set(msg.block, msg.particles);
          if (!assign(worker)) idle.push(worker);
          void drain();
        });
        worker.on('error', fail);
        worker.on('exit', (code) => {
          if (code !== 0) fail(new Error(`CPU worker ${t} exited with code ${code}`));
        });
        if (!assign(worker)) idle.push(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
