import { acquireGpu } from '../src/gpu/device.ts';
import { nodePlatform } from '../src/platform/node.ts';
import { sampleWebGpu } from '../src/gpu/sampler.ts';
import { sampleCpu } from '../src/cpu/reference.ts';
import { cases } from './cases.ts';

const ctx = await acquireGpu(nodePlatform);
const only = process.argv[2];
for (const [name, make] of Object.entries(cases)) {
  if (only && !name.includes(only)) continue;
  for (const solver of ['euler', 'heun', 'rk4']) {
    const spec = make(solver);
    const t0 = performance.now();
    const gpu = new Float32Array(spec.particles * spec.dim);
    let off = 0;
    await sampleWebGpu(ctx, spec, { onChunk: (c) => { gpu.set(c, off); off += c.length; } });
    const t1 = performance.now();
    const cpu = sampleCpu(spec).particles;
    const t2 = performance.now();
    let maxAbs = 0, maxRel = 0, nonfinite = 0, worst = -1;
    for (let i = 0; i < cpu.length; i++) {
      if (!Number.isFinite(gpu[i])) nonfinite++;
      const d = Math.abs(gpu[i] - cpu[i]);
      if (d > maxAbs) { maxAbs = d; worst = i; }
      maxRel = Math.max(maxRel, d / Math.max(1, Math.abs(cpu[i])));
    }
    console.log(`${name.padEnd(18)} ${solver.padEnd(6)} maxAbs ${maxAbs.toExponential(2)} maxRel ${maxRel.toExponential(2)} worst x=${cpu[worst]?.toFixed(3)} nonfinite ${nonfinite} gpu ${(t1 - t0).toFixed(0)}ms cpu ${(t2 - t1).toFixed(0)}ms`);
  }
}
ctx.destroy();
