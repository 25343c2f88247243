// A 1-D or 2-D histogram of particles that stays on the GPU (shaders/histogram.wgsl): particles
// are binned where they are (e.g. the sampler's afterDispatch buffer), counts accumulate over
// chunks as u32 atomics, and only the counts are ever read back. A render pipeline can draw
// straight from `counts` (it has STORAGE usage).
//
// Each histogram axis is a projection u.x of the particle (default: coordinate axes 0 and 1),
// computed in f32. Bins are uniform on [low, high), or given per axis by sorted edges (for
// example the exact law's quantiles, which makes every bin equiprobable under it).
//
// counts layout (u32): bins[0] x bins[1] bins with the first axis fastest (bin (i0, i1) at
// i0 + bins[0] i1), then underflow, overflow and nonFinite. A particle with a NaN or infinite
// coordinate counts only as nonFinite; one outside the range on any axis counts once, as
// underflow when it is below the low end of the first such axis, else as overflow.
//
// u32 counts: at most 2^32 - 1 particles per bin; check/sweep cap a run at 2^32 - 1 particles.
import { BufferPool, bindBuffers, dispatch } from './buffers.ts';
import type { GpuContext } from './device.ts';
import { cachedComputePipeline, shaderText } from './program.ts';

export interface GpuHistogramOptions {
  /** Particle dimension (floats per particle). */
  dim: number;
  /** Bins per histogram axis: one entry (1-D) or two (2-D). */
  bins: number[];
  /** Range per axis (ignored for an axis given by `edges`, whose ends are the range). */
  low: number[];
  high: number[];
  /** Projection vectors, one per histogram axis, each of length dim (default: coordinate axes 0, 1). */
  axes?: number[][];
  /** Optional sorted bin edges per axis (bins[k] + 1 of them), or null/undefined for uniform bins. */
  edges?: (ArrayLike<number> | null | undefined)[];
}

export interface HistogramCounts {
  /** bins[0] x bins[1] counts, first axis fastest. */
  counts: Uint32Array;
  underflow: number;
  overflow: number;
  nonFinite: number;
  /** Every particle binned so far: bins + underflow + overflow + nonFinite. */
  total: number;
}

const WORKGROUP = 64;

export class GpuHistogram {
  readonly dim: number;
  readonly bins: number[];
  readonly low: number[];
  readonly high: number[];
  /** Bin edges per axis when given, else null (uniform). */
  readonly edges: (Float64Array | null)[];
  /** Projection vectors per axis. */
  readonly axes: number[][];
  /** Number of bins (without the three extra counters). */
  readonly binCount: number;
  /** u32 counts: bins, then underflow, overflow, nonFinite. */
  readonly counts: GPUBuffer;
  private readonly gpu: GpuContext;
  private readonly params: GPUBuffer;
  private readonly axesBuffer: GPUBuffer;
  private readonly edgesBuffer: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly pool: BufferPool;
  private readonly bindGroups = new WeakMap<GPUBuffer, GPUBindGroup>();

  /** A histogram on `gpu` (its pipeline compiled asynchronously, once per device). */
  static async create(gpu: GpuContext, opts: GpuHistogramOptions): Promise<GpuHistogram> {
    const pipeline = await cachedComputePipeline(gpu.device, 'histogram', shaderText(gpu.platform, 'histogram'));
    return new GpuHistogram(gpu, opts, pipeline);
  }

  private constructor(gpu: GpuContext, opts: GpuHistogramOptions, pipeline: GPUComputePipeline) {
    const n = opts.bins.length;
    if (n !== 1 && n !== 2) throw new Error(`GpuHistogram: bins must have 1 or 2 entries, got ${n}`);
    if (opts.low.length !== n || opts.high.length !== n)
      throw new Error('GpuHistogram: low and high need one entry per axis');
    const edges: (Float64Array | null)[] = [];
    for (let k = 0; k < n; k++) {
      if (!Number.isInteger(opts.bins[k]) || opts.bins[k] < 1)
        throw new Error(`GpuHistogram: bins[${k}] must be an integer >= 1`);
      const e = opts.edges?.[k];
      if (e) {
        if (e.length !== opts.bins[k] + 1)
          throw new Error(`GpuHistogram: edges[${k}] needs bins[${k}] + 1 = ${opts.bins[k] + 1} entries`);
        const f = Float64Array.from(e);
        for (let i = 1; i < f.length; i++) {
          // Strictly increasing in f32 too, or a bin would be empty by rounding alone.
          if (!(Math.fround(f[i]) > Math.fround(f[i - 1])))
            throw new Error(`GpuHistogram: edges[${k}] must increase (in f32) at ${i}`);
        }
        edges.push(f);
      } else {
        if (!(opts.high[k] > opts.low[k])) throw new Error(`GpuHistogram: need low[${k}] < high[${k}]`);
        edges.push(null);
      }
    }
    const axes =
      opts.axes ?? Array.from({ length: n }, (_, k) => Array.from({ length: opts.dim }, (_, j) => (j === k ? 1 : 0)));
    if (axes.length !== n || axes.some((a) => a.length !== opts.dim)) {
      throw new Error(`GpuHistogram: axes must be ${n} vectors of length dim = ${opts.dim}`);
    }
    if (opts.dim < n && !opts.axes) throw new Error(`GpuHistogram: a ${opts.dim}-D particle has no axis ${n - 1}`);

    this.gpu = gpu;
    this.dim = opts.dim;
    this.bins = [...opts.bins];
    this.edges = edges;
    this.low = edges.map((e, k) => (e ? e[0] : opts.low[k]));
    this.high = edges.map((e, k) => (e ? e[e.length - 1] : opts.high[k]));
    this.axes = axes.map((a) => [...a]);
    this.binCount = opts.bins.reduce((a, b) => a * b, 1);
    const bytes = (this.binCount + 3) * 4;
    const { STORAGE, UNIFORM, COPY_SRC, COPY_DST, MAP_READ } = GPUBufferUsage;
    this.pool = new BufferPool(gpu.device);
    this.counts = this.pool.create('histogram counts', bytes, STORAGE | COPY_SRC | COPY_DST);
    this.readback = this.pool.create('histogram readback', bytes, MAP_READ | COPY_DST);
    this.axesBuffer = this.pool.upload('histogram axes', new Float32Array(axes.flat()));
    const edgeData = new Float32Array(this.bins[0] + 1 + (n > 1 ? this.bins[1] + 1 : 0));
    if (edges[0]) edgeData.set(edges[0], 0);
    if (n > 1 && edges[1]) edgeData.set(edges[1], this.bins[0] + 1);
    this.edgesBuffer = this.pool.upload('histogram edges', edgeData);
    this.params = this.pool.create('histogram params', 48, UNIFORM | COPY_DST);
    this.pipeline = pipeline;
    this.clear();
  }

  /** Bins particles[0 .. count) (row-major count x dim f32); encodes and submits the work, does not wait. */
  accumulate(particles: GPUBuffer, count: number): void {
    if (count <= 0) return;
    const { device, limits } = this.gpu;
    const groups = Math.ceil(count / WORKGROUP);
    const gx = Math.min(groups, limits.maxComputeWorkgroupsPerDimension);
    const gy = Math.ceil(groups / gx);
    const u = new Uint32Array(12);
    const f = new Float32Array(u.buffer);
    u[0] = count;
    u[1] = this.dim;
    u[2] = this.bins.length;
    u[3] = this.bins[0];
    u[4] = this.bins[1] ?? 1;
    u[5] = gx * WORKGROUP;
    u[6] = this.edges[0] ? 1 : 0;
    u[7] = this.edges[1] ? 1 : 0;
    for (let k = 0; k < this.bins.length; k++) {
      f[8 + k] = this.low[k];
      f[10 + k] = this.bins[k] / (this.high[k] - this.low[k]);
    }
    device.queue.writeBuffer(this.params, 0, u);
    let bindGroup = this.bindGroups.get(particles);
    if (!bindGroup) {
      bindGroup = bindBuffers(device, 'histogram bind group', this.pipeline, [
        [0, this.params],
        [1, particles],
        [2, this.axesBuffer],
        [3, this.counts],
        [4, this.edgesBuffer],
      ]);
      this.bindGroups.set(particles, bindGroup);
    }
    dispatch(device, 'histogram accumulate', this.pipeline, bindGroup, [gx, gy]);
  }

  /** The counts read back (waits for every pass submitted so far). */
  async read(): Promise<HistogramCounts> {
    const { device } = this.gpu;
    const encoder = device.createCommandEncoder({ label: 'histogram read' });
    encoder.copyBufferToBuffer(this.counts, 0, this.readback, 0, this.counts.size);
    device.queue.submit([encoder.finish()]);
    await this.gpu.guard(this.readback.mapAsync(GPUMapMode.READ));
    const all = new Uint32Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    const nb = this.binCount;
    const counts = all.slice(0, nb);
    let total = 0;
    for (let i = 0; i < nb + 3; i++) total += all[i];
    return { counts, underflow: all[nb], overflow: all[nb + 1], nonFinite: all[nb + 2], total };
  }

  /** Zeroes every count. */
  clear(): void {
    const encoder = this.gpu.device.createCommandEncoder({ label: 'histogram clear' });
    encoder.clearBuffer(this.counts);
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    this.pool.destroy();
  }
}
