// The CPU reference on every core: contiguous particle ranges, one per worker thread.
// The counter-based generator makes the result identical to sampleCpu's, whatever
// the number of threads.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ExperimentSpec } from '../experiment/types.ts';
import { sampleCpuFk } from './fk.ts';
import { CPU_CHUNK, sampleCpu, type CpuSampleOptions, type SampleResult } from './reference.ts';

export interface ParallelCpuOptions extends CpuSampleOptions {
  /** Worker threads (default: the machine's available parallelism). */
  threads?: number;
}

export async function sampleCpuParallel(spec: ExperimentSpec, opts: ParallelCpuOptions = {}): Promise<SampleResult> {
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), Math.ceil(spec.particles / CPU_CHUNK)));
  // A corrected population is resampled as a whole: one thread.
  if (spec.corrector)
    return sampleCpuFk(spec, {
      onProgress: (done, total) => opts.onProgress?.(Math.floor((spec.particles * done) / total), spec.particles),
    });
  if (threads === 1) return sampleCpu(spec, opts);
  const { dim, particles: total } = spec;
  const out = new Float64Array(total * dim);
  const per = Math.ceil(total / threads);
  let done = 0;
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: threads }, (_, w) => {
        const first = w * per;
        const count = Math.min(per, total - first);
        return new Promise<void>((resolve, reject) => {
          const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: { spec, first, count } });
          workers.push(worker);
          worker.on('message', (msg: { kind: string; done?: number; particles?: Float64Array }) => {
            if (msg.kind === 'progress') {
              done += msg.done!;
              opts.onProgress?.(done, total);
            } else {
              out.set(msg.particles!, first * dim);
              resolve();
            }
          });
          worker.on('error', reject);
          worker.on('exit', (code) => {
            if (code !== 0) reject(new Error(`CPU worker ${w} exited with code ${code}`));
          });
        });
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { particles: out, count: total, dim };
}
