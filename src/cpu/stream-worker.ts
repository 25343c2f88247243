// One persistent worker of the streaming CPU reference (src/cpu/stream.ts): samples each
// block of particles it is sent and posts it back (transferred, not copied).
import { parentPort, workerData } from 'node:worker_threads';
import type { ExperimentSpec } from '../spec/types.ts';
import { CPU_CHUNK, CpuStepper } from './reference.ts';

const { spec } = workerData as { spec: ExperimentSpec };
const stepper = new CpuStepper(spec);
parentPort!.on('message', (msg: { block: number; first: number; count: number }) => {
  const d = spec.dim;
  const out = new Float64Array(msg.count * d);
  for (let o = 0; o < msg.count; o += CPU_CHUNK) {
    const n = Math.min(CPU_CHUNK, msg.count - o);
    stepper.sampleRange(msg.first + o, n, out.subarray(o * d, (o + n) * d));
  }
  parentPort!.postMessage({ block: msg.block, particles: out }, [out.buffer]);
});
