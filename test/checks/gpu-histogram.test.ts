// GpuHistogram (src/gpu/histogram.ts) against the same binning done on the CPU in f32:
// uniform and edge bins, 1-D and 2-D, projections, underflow, overflow, non-finite particles,
// accumulation over several buffers and clear().
import { expect, it } from 'vitest';
import { withErrorScopes } from '../../src/gpu/device.ts';
import { GpuHistogram } from '../../src/gpu/histogram.ts';
import { describeGpu } from '../support/gpu.ts';

function particlesBuffer(device: GPUDevice, data: Float32Array): GPUBuffer {
  const b = device.createBuffer({
    size: Math.max(16, data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(b, 0, data);
  return b;
}

/** A deterministic pseudo-random cloud with some NaN, infinite and far-out particles. */
function cloud(n: number, dim: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = 6 * rand() - 3;
  out[5 * dim] = NaN;
  out[7 * dim + dim - 1] = Infinity;
  out[9 * dim] = -1e30;
  out[11 * dim] = 1e30;
  return out;
}

function binOf(v: number, bins: number, low: number, high: number, edges: Float64Array | null): number {
  if (edges) {
    const e = Float32Array.from(edges);
    if (v < e[0]) return -1;
    if (v >= e[bins]) return bins;
    let lo = 0;
    let hi = bins;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (v >= e[mid]) lo = mid;
      else hi = mid;
    }
    return lo;
  }
  const f = Math.fround(Math.fround(v - Math.fround(low)) * Math.fround(bins / (high - low)));
  if (f < 0) return -1;
  if (f >= bins) return bins;
  return Math.min(Math.floor(f), bins - 1);
}

function cpuHistogram(h: GpuHistogram, data: Float32Array, count: number): { counts: Uint32Array; extra: number[] } {
  const d = h.dim;
  const nb = h.binCount;
  const counts = new Uint32Array(nb);
  const extra = [0, 0, 0];
  for (let p = 0; p < count; p++) {
    let finite = true;
    const u = [0, 0];
    for (let j = 0; j < d; j++) {
      const x = data[p * d + j];
      if (!Number.isFinite(x)) finite = false;
      for (let k = 0; k < h.bins.length; k++) u[k] = Math.fround(u[k] + Math.fround(h.axes[k][j] * x));
    }
    if (!finite || !u.every(Number.isFinite)) {
      extra[2]++;
      continue;
    }
    const idx: number[] = [];
    let out = -1;
    for (let k = 0; k < h.bins.length; k++) {
      const i = binOf(u[k], h.bins[k], h.low[k], h.high[k], h.edges[k]);
      if (i < 0 || i >= h.bins[k]) {
        out = i < 0 ? 0 : 1;
        break;
      }
      idx.push(i);
    }
    if (out >= 0) extra[out]++;
    else counts[idx[0] + h.bins[0] * (idx[1] ?? 0)]++;
  }
  return { counts, extra };
}

await describeGpu('GpuHistogram', (ctx) => {
  const cases = [
    { name: '1-D uniform, coordinate 0', dim: 1, opts: { bins: [37], low: [-2], high: [2.5] } },
    {
      name: '1-D uniform, projection of 3-D',
      dim: 3,
      opts: { bins: [64], low: [-4], high: [4], axes: [[0.5, -1, 0.25]] },
    },
    {
      name: '1-D edges',
      dim: 2,
      opts: { bins: [5], low: [0], high: [0], axes: [[0, 1]], edges: [[-2, -1, -0.1, 0, 0.3, 2.9]] },
    },
    { name: '2-D uniform', dim: 2, opts: { bins: [16, 9], low: [-2, -1], high: [2, 3] } },
    {
      name: '2-D, edges on axis 1, projections',
      dim: 4,
      opts: {
        bins: [8, 3],
        low: [-3, 0],
        high: [3, 0],
        axes: [
          [1, 1, 0, 0],
          [0, 0, 1, -1],
        ],
        edges: [null, [-1, 0, 1, 2]],
      },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: counts equal the CPU's f32 binning, over two buffers`, async () => {
      const { device } = ctx;
      await withErrorScopes(device, async () => {
        const h = await GpuHistogram.create(ctx, { dim: c.dim, ...c.opts });
        const a = cloud(5000, c.dim, 1);
        const b = cloud(3000, c.dim, 2);
        const ba = particlesBuffer(device, a);
        const bb = particlesBuffer(device, b);
        h.accumulate(ba, 5000);
        h.accumulate(bb, 2500); // only the first 2500 of b
        const got = await h.read();
        const ea = cpuHistogram(h, a, 5000);
        const eb = cpuHistogram(h, b, 2500);
        const want = ea.counts.map((v, i) => v + eb.counts[i]);
        expect(Array.from(got.counts)).toEqual(Array.from(want));
        expect([got.underflow, got.overflow, got.nonFinite]).toEqual(ea.extra.map((v, i) => v + eb.extra[i]));
        expect(got.total).toBe(7500);
        h.clear();
        const cleared = await h.read();
        expect(cleared.total).toBe(0);
        h.destroy();
        ba.destroy();
        bb.destroy();
      });
    });
  }

  it('rejects edges that do not increase in f32, and bad shapes', async () => {
    await expect(
      GpuHistogram.create(ctx, { dim: 1, bins: [2], low: [0], high: [0], edges: [[0, 1, 1 + 1e-12]] }),
    ).rejects.toThrow(/increase/);
    await expect(GpuHistogram.create(ctx, { dim: 1, bins: [4, 4], low: [0, 0], high: [1, 1] })).rejects.toThrow(
      /no axis 1/,
    );
    await expect(GpuHistogram.create(ctx, { dim: 1, bins: [4], low: [1], high: [0] })).rejects.toThrow(
      /low\[0\] < high\[0\]/,
    );
  });
});
