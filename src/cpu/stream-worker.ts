// One persistent worker of the streaming CPU reference (src/cpu/stream.ts): samples each
// block of particles it is sent and posts it back (transferred, not copied), into the buffer
// it was sent with the block when there is one.
import { parentPort, workerData } from 'node:worker_threads';
import type { ExperimentSpec } from '../experiment/types.ts';
import { CPU_CHUNK, CpuStepper } from './reference.ts';

const { spec } = workerData as { spec: ExperimentSpec };
const stepper = new CpuStepper(spec);
parentPort!.on('message', (msg: { block: number; first: number; count: number; buffer?: ArrayBuffer }) => {
  const d = spec.dim;
  // A returned buffer is reused when it is large enough (every block but the last has one size).
  const out =
    msg.buffer && msg.buffer.byteLength >= msg.count * d * 8
      ? new Float64Array(msg.buffer, 0, msg.count * d)
      : new Float64Array(msg.count * d);
  for (let o = 0; o < msg.count; o += CPU_CHUNK) {
    const n = Math.min(CPU_CHUNK, msg.count - o);
    stepper.sampleRange(msg.first + o, n, out.subarray(o * d, (o + n) * d));
  }
  parentPort!.postMessage({ block: msg.block, particles: out }, [out.buffer]);
});
