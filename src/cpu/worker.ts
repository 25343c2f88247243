// One worker thread of the parallel CPU reference: samples a contiguous particle range.
import { parentPort, workerData } from 'node:worker_threads';
import type { ExperimentSpec } from '../experiment/types.ts';
import { CPU_CHUNK, CpuStepper } from './reference.ts';

const { spec, first, count } = workerData as { spec: ExperimentSpec; first: number; count: number };
const stepper = new CpuStepper(spec);
const out = new Float64Array(count * spec.dim);
for (let offset = 0; offset < count; offset += CPU_CHUNK) {
  const n = Math.min(CPU_CHUNK, count - offset);
  stepper.sampleRange(first + offset, n, out.subarray(offset * spec.dim, (offset + n) * spec.dim));
  parentPort!.postMessage({ kind: 'progress', done: n });
}
parentPort!.postMessage({ kind: 'done', particles: out }, [out.buffer]);
