// GPU buffers in one place: created with a label (size rounded up to whole words, at least 16
// bytes), uploaded, read back, bound by binding number; a pool destroys what it made together.

/** The buffers of one run: create and upload through it, destroy them all at the end. */
export class BufferPool {
  private readonly buffers: GPUBuffer[] = [];
  readonly device: GPUDevice;
  constructor(device: GPUDevice) {
    this.device = device;
  }

  create(label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const b = this.device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 4) * 4), usage });
    this.buffers.push(b);
    return b;
  }

  /** A buffer holding `data` (usage gets COPY_DST). */
  upload(
    label: string,
    data: ArrayBuffer | ArrayBufferView,
    usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE,
  ): GPUBuffer {
    const b = this.create(label, data.byteLength, usage | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(b, 0, data as ArrayBuffer);
    return b;
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.length = 0;
  }
}

/** A bind group of whole buffers at group 0, entries as [binding, buffer]. */
export function bindBuffers(
  device: GPUDevice,
  label: string,
  pipeline: GPUComputePipeline,
  entries: readonly (readonly [number, GPUBuffer] | readonly [number, GPUBuffer, { offset: number; size: number }])[],
): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: entries.map(([binding, buffer, range]) => ({ binding, resource: { buffer, ...range } })),
  });
}

/** One compute pass of `pipeline` over a 2-D grid of workgroups, submitted. */
export function dispatch(
  device: GPUDevice,
  label: string,
  pipeline: GPUComputePipeline,
  bindGroup: GPUBindGroup,
  grid: readonly [number, number],
): void {
  const encoder = device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label: `${label} pass` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(grid[0], grid[1]);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

interface Guarded {
  device: GPUDevice;
  guard<T>(p: Promise<T>): Promise<T>;
}

/** Copies `floats` 4-byte words from `source` (from word `offset`) back to the host. */
export async function readFloats(gpu: Guarded, source: GPUBuffer, floats: number, offset = 0): Promise<Float32Array> {
  const { device } = gpu;
  const bytes = floats * 4;
  const staging = device.createBuffer({
    label: `readback of ${source.label}`,
    size: Math.max(16, bytes),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const encoder = device.createCommandEncoder({ label: `readback of ${source.label}` });
    encoder.copyBufferToBuffer(source, offset * 4, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await gpu.guard(staging.mapAsync(GPUMapMode.READ, 0, bytes));
    return new Float32Array(staging.getMappedRange(0, bytes).slice(0));
  } finally {
    staging.destroy();
  }
}

/**
 * Copies each (source, readback, bytes) in one submission and reads them through their
 * long-lived MAP_READ buffers. Each result is a fresh array, or, for the first copy, written
 * into `into` when given (bounded memory for a caller that reuses one host array).
 */
export async function readCopies(
  gpu: Guarded,
  copies: readonly (readonly [GPUBuffer, GPUBuffer, number])[],
  into?: Float32Array,
): Promise<Float32Array[]> {
  const encoder = gpu.device.createCommandEncoder({ label: 'readback' });
  for (const [src, dst, bytes] of copies) encoder.copyBufferToBuffer(src, 0, dst, 0, bytes);
  gpu.device.queue.submit([encoder.finish()]);
  const out: Float32Array[] = [];
  for (const [i, [, dst, bytes]] of copies.entries()) {
    await gpu.guard(dst.mapAsync(GPUMapMode.READ, 0, bytes));
    const mapped = dst.getMappedRange(0, bytes);
    if (i === 0 && into) {
      into.set(new Float32Array(mapped));
      out.push(into);
    } else out.push(new Float32Array(mapped.slice(0)));
    dst.unmap();
  }
  return out;
}
