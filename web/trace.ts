// Cheap looks at the particles while they move, without reading them back: a reduction on the
// GPU (shaders/moments.wgsl) gives the mean and spread along the plotted coordinates, and a
// copy of the first few particles gives sample paths. One small staging buffer per probe is
// read back; several probes may be in flight (a ring of staging buffers).
import { BufferPool, bindBuffers } from '../src/gpu/buffers.ts';
import type { GpuContext } from '../src/gpu/device.ts';
import { cachedComputePipeline, shaderText } from '../src/gpu/program.ts';

export interface Moments {
  /** Finite particles visited. */
  n: number;
  nonFinite: number;
  mean: number[];
  /** Population variance along each axis. */
  variance: number[];
}

export interface ProbeResult {
  moments: Moments;
  /** First `paths` particles, row-major paths x dim (empty when none were asked for). */
  paths: Float32Array;
}

const WG = 64;
const MAX_GROUPS = 4096;
/** Partials per workgroup: n, sum0, sum1, sumSq0, sumSq1, nonFinite. */
const PARTIAL = 6;

export class MomentProbe {
  private readonly gpu: GpuContext;
  private readonly pipeline: GPUComputePipeline;
  private readonly pool: BufferPool;
  private readonly params: GPUBuffer;
  private readonly partials: GPUBuffer;
  private readonly free: GPUBuffer[] = [];
  private readonly axes: number[];
  private readonly dim: number;
  private readonly stagingBytes: number;
  private readonly bindGroups = new WeakMap<GPUBuffer, GPUBindGroup>();
  private destroyed = false;

  /** axes: the one or two coordinates to reduce; maxPaths: the most particles copied per probe. */
  static async create(gpu: GpuContext, dim: number, axes: number[], maxPaths: number): Promise<MomentProbe> {
    const pipeline = await cachedComputePipeline(gpu.device, 'moments', shaderText(gpu.platform, 'moments'));
    return new MomentProbe(gpu, dim, axes, maxPaths, pipeline);
  }

  private constructor(gpu: GpuContext, dim: number, axes: number[], maxPaths: number, pipeline: GPUComputePipeline) {
    this.gpu = gpu;
    this.dim = dim;
    this.axes = axes;
    this.pipeline = pipeline;
    this.pool = new BufferPool(gpu.device);
    this.params = this.pool.create('moments params', 48, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.partials = this.pool.create(
      'moments partials',
      MAX_GROUPS * PARTIAL * 4,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    );
    this.stagingBytes = MAX_GROUPS * PARTIAL * 4 + maxPaths * dim * 4;
  }

  private staging(): GPUBuffer {
    return (
      this.free.pop() ??
      this.pool.create('moments staging', this.stagingBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST)
    );
  }

  /**
   * Submits a reduction over every stride-th particle of particles[0 .. count) about `center`,
   * and a copy of the first `paths` particles; resolves once they are read back.
   */
  probe(
    particles: GPUBuffer,
    count: number,
    opts: { stride: number; center: number[]; paths: number },
  ): Promise<ProbeResult> {
    const { device } = this.gpu;
    const visits = Math.ceil(count / opts.stride);
    const groups = Math.max(1, Math.min(MAX_GROUPS, Math.ceil(visits / (WG * 16))));
    const u = new Uint32Array(12);
    const f = new Float32Array(u.buffer);
    u[0] = count;
    u[1] = this.dim;
    u[2] = opts.stride;
    u[3] = this.axes[0];
    u[4] = this.axes[1] ?? 0;
    u[5] = this.axes.length;
    f[8] = opts.center[0] ?? 0;
    f[9] = opts.center[1] ?? 0;
    device.queue.writeBuffer(this.params, 0, u);
    let bindGroup = this.bindGroups.get(particles);
    if (!bindGroup) {
      bindGroup = bindBuffers(device, 'moments bind group', this.pipeline, [
        [0, this.params],
        [1, particles],
        [2, this.partials],
      ]);
      this.bindGroups.set(particles, bindGroup);
    }
    const paths = Math.min(opts.paths, count);
    const staging = this.staging();
    const encoder = device.createCommandEncoder({ label: 'moments probe' });
    const pass = encoder.beginComputePass({ label: 'moments pass' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups);
    pass.end();
    const partialBytes = groups * PARTIAL * 4;
    encoder.copyBufferToBuffer(this.partials, 0, staging, 0, partialBytes);
    const pathOffset = MAX_GROUPS * PARTIAL * 4;
    if (paths > 0) encoder.copyBufferToBuffer(particles, 0, staging, pathOffset, paths * this.dim * 4);
    device.queue.submit([encoder.finish()]);
    const center = opts.center;
    return this.gpu.guard(staging.mapAsync(GPUMapMode.READ)).then(() => {
      const sums = new Float32Array(staging.getMappedRange(0, partialBytes));
      const acc = new Float64Array(PARTIAL);
      for (let g = 0; g < groups; g++) for (let k = 0; k < PARTIAL; k++) acc[k] += sums[g * PARTIAL + k];
      const pathData =
        paths > 0
          ? new Float32Array(staging.getMappedRange(pathOffset, paths * this.dim * 4).slice(0))
          : new Float32Array(0);
      staging.unmap();
      if (!this.destroyed) this.free.push(staging);
      const n = acc[0];
      const mean: number[] = [];
      const variance: number[] = [];
      this.axes.forEach((_, k) => {
        const m = n > 0 ? acc[1 + k] / n : NaN;
        mean.push((center[k] ?? 0) + m);
        variance.push(n > 0 ? Math.max(0, acc[3 + k] / n - m * m) : NaN);
      });
      return { moments: { n, nonFinite: acc[5], mean, variance }, paths: pathData };
    });
  }

  destroy(): void {
    this.destroyed = true;
    this.pool.destroy();
  }
}

/** Merges moments of disjoint sets of particles (Chan et al.), e.g. chunk by chunk. */
export function mergeMoments(a: Moments | null, b: Moments): Moments {
  if (!a || a.n === 0) return b;
  if (b.n === 0) return { ...a, nonFinite: a.nonFinite + b.nonFinite };
  const n = a.n + b.n;
  const mean = a.mean.map((m, k) => m + ((b.mean[k] - m) * b.n) / n);
  const variance = a.variance.map((v, k) => {
    const delta = b.mean[k] - a.mean[k];
    return (a.n * v + b.n * b.variance[k] + (delta * delta * a.n * b.n) / n) / n;
  });
  return { n, nonFinite: a.nonFinite + b.nonFinite, mean, variance };
}
