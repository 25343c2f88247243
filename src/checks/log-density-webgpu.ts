// The WebGPU implementation of LogDensityBackend (src/backend/log-density.ts). Start
// points are drawn on the host by the CPU reference's own initialiser (prior or start: "exact",
// keyed by the global particle index) and uploaded, so both backends carry the same points;
// the kernel's log-density mode (src/gpu/log-density.ts) does the stepping in f32.
import type { ExperimentSpec } from '../experiment/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { sampleLogDensityWebGpu } from '../gpu/log-density.ts';
import { CpuStepper } from '../cpu/reference.ts';
import { logStartDensity } from '../cpu/log-density.ts';
import { buildStepTable } from '../solvers/table.ts';
import { planGuidance } from '../guidance/guidance.ts';
import { assertLogDensitySupported } from '../model/divergence.ts';
import type { CarryOptions, CarryResult, LogDensityBackend } from '../backend/log-density.ts';

export function webGpuLogDensityBackend(gpu: GpuContext): LogDensityBackend {
  return {
    name: 'webgpu',
    carry: (spec, opts) => carryWebGpu(gpu, spec, opts),
  };
}

async function carryWebGpu(gpu: GpuContext, spec: ExperimentSpec, opts: CarryOptions): Promise<CarryResult> {
  assertLogDensitySupported(spec);
  const { first, count, direction } = opts;
  const d = spec.dim;
  let initial = opts.initial;
  if (!initial) {
    if (direction === 'forward') throw new Error('carry: a forward run needs initial points');
    initial = new Float64Array(count * d);
    new CpuStepper(spec).initParticles(first, count, initial);
  } else if (initial.length !== count * d) {
    throw new Error(`carry: initial has ${initial.length} numbers, expected ${count} x ${d}`);
  }
  const l0 =
    opts.initialLogDensity ??
    (direction === 'backward' ? logStartDensity(spec, initial, count) : new Float64Array(count));
  const sub: ExperimentSpec = { ...spec, particles: count };
  const table = direction === 'forward' ? buildStepTable(sub, planGuidance(sub), { reverse: true }) : undefined;
  const r = await sampleLogDensityWebGpu(gpu, sub, { starts: { x: initial, logq: l0 }, table });
  const x = Float64Array.from(r.particles);
  let nonFinite = 0;
  for (let i = 0; i < count; i++) {
    let ok = Number.isFinite(r.logq[i]);
    for (let j = 0; ok && j < d; j++) ok = Number.isFinite(x[i * d + j]);
    if (!ok) nonFinite++;
  }
  return { x, logq: r.logq, nonFinite };
}
