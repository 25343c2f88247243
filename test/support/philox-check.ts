// GPU-vs-CPU comparison of the Philox generator, shared by the Node Dawn test
// (test/gpu/philox.test.ts) and the browser page (test/browser/philox-page.ts): it runs
// shaders/philox.wgsl through test/shaders/philox-check.wgsl and compares with src/rng/philox.ts.
// No Node imports here: this file is bundled into the browser page too.

import { withErrorScopes, type GpuContext } from '../../src/gpu/device.ts';
import { normal4, philox4x32 } from '../../src/rng/philox.ts';
import philoxCheckKernel from '../shaders/philox-check.wgsl?raw';

/**
 * Inputs for test/shaders/philox-check.wgsl: per draw 8 words, counter (c0, c1, c2, c3) then key
 * (k0, k1, 0, 0). The raw words are philox4x32(counter, key); the normals are
 * normal4(seed = k0, particle = c0, stream = c1, block = c2). Contains the Random123
 * known-answer inputs, all combinations of edge values, the sampler's own addressing pattern
 * (c3 = k1 = 0) and pseudo-random counters and keys.
 */
export function philoxCheckInputs(count: number): Uint32Array {
  const q = new Uint32Array(count * 8);
  const w = new Uint32Array(4);
  const edges = [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  let i = 0;
  const put = (c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): void => {
    if (i < count)
      q.set(
        [c0, c1, c2, c3, k0, k1, 0, 0].map((v) => v >>> 0),
        8 * i++,
      );
  };
  // Random123 kat_vectors inputs (expected outputs are checked in test/rng/philox.test.ts).
  put(0, 0, 0, 0, 0, 0);
  put(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
  put(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0);
  // Edge values in every word that the sampler uses: seed, particle, stream, block.
  for (const seed of edges)
    for (const p of edges) for (const s of edges) for (const b of [0, 1, 0xffffffff]) put(p, s, b, 0, seed, 0);
  // The sampler's own pattern: consecutive particles, a few streams and blocks, two seeds.
  for (const seed of [1, 20240601]) {
    for (let particle = 0; particle < 2048; particle++) {
      for (let stream = 0; stream < 3; stream++) put(particle, stream, particle % 3, 0, seed, 0);
    }
  }
  // The rest: pseudo-random counters and keys (every 4th with c3 = k1 = 0, as the sampler uses),
  // from the TS generator itself under an unrelated key.
  for (let n = 0; i < count; n++) {
    philox4x32(n, 0x5eed, 0, 0, 0xc0ffee, 0xbeef, w);
    const full = n % 4 !== 0;
    put(w[0], w[1] % 100_000, w[2] % 16, full ? w[3] : 0, w[3] ^ w[1], full ? w[0] ^ w[2] : 0);
  }
  return q;
}

export interface PhiloxCheckResult {
  adapter: string;
  count: number;
  /** Output words that differ from the CPU (must be 0). */
  wordMismatches: number;
  firstWordMismatch: string | null;
  /** Normals outside the tolerance (must be 0). */
  normalFailures: number;
  firstNormalFailure: string | null;
  /** Largest |z_gpu - z_cpu| and the largest ratio of that error to its tolerance. */
  maxAbsError: number;
  maxErrorOverTolerance: number;
  /** Largest |z_gpu - z_cpu| / (1 + |z_cpu|), for reporting. */
  maxScaledError: number;
  gpuMs: number;
}

/**
 * Tolerance of one f32 normal z = r cos|sin(theta) against its f64 value, r = sqrt(z0^2 + z1^2)
 * of the pair (from the CPU). shaders/philox.wgsl builds ln, cos and sin from f32 +, *, / and
 * sqrt only (no driver builtins), so every error is relative to r:
 *  - u (or 1 - u near u = 1) rounded to f32: relative 2^-24 (2^-23 if a driver truncates
 *    u32 -> f32), i.e. at most ~1.7e-7 relative on L = -2 ln u since |ln u| >= 0.35 on the
 *    branch that uses u, and relative 2^-24 on L on the branch that uses 1 - u;
 *  - ~8 correctly rounded f32 operations in the ln series (division: 2.5 ulp), sqrt 2.5 ulp:
 *    a few 1e-7 relative on r;
 *  - the angle: t - q/4 is exact, 2 pi f and the Taylor polynomials (truncation < 2e-9)
 *    add a few ulp of 1 to cos and sin.
 * Together ~4e-7 relative to r; the tolerance 1e-6 r leaves a factor >2 (measured on
 * lavapipe and SwiftShader: at most 2.3e-7 r over 2^18 draws).
 */
export function normalTolerance(r: number): number {
  return 1e-6 * r;
}

/** Runs the check on `ctx` for `count` quadruples. */
export async function runPhiloxCheck(ctx: GpuContext, count = 1 << 16): Promise<PhiloxCheckResult> {
  const { device, platform } = ctx;
  const inputs = philoxCheckInputs(count);
  const bytes = count * 16; // one vec4 per draw in each output
  const buffers: GPUBuffer[] = [];
  const buffer = (label: string, usage: number, size = bytes): GPUBuffer => {
    const b = device.createBuffer({ label, size, usage });
    buffers.push(b);
    return b;
  };
  const started = performance.now();
  let words: Uint32Array;
  let normals: Float32Array;
  try {
    [words, normals] = await withErrorScopes(device, async () => {
      const module = device.createShaderModule({
        label: 'test-philox module',
        code: platform.shaderSource('philox') + '\n' + philoxCheckKernel,
      });
      const pipeline = await device.createComputePipelineAsync({
        label: 'test-philox pipeline',
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      const inBuf = buffer('test-philox inputs', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, inputs.byteLength);
      const wordsBuf = buffer('test-philox words', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const normalsBuf = buffer('test-philox normals', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const wordsRead = buffer('test-philox words readback', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      const normalsRead = buffer('test-philox normals readback', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      device.queue.writeBuffer(inBuf, 0, inputs);
      const bindGroup = device.createBindGroup({
        label: 'test-philox bind group',
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: inBuf } },
          { binding: 1, resource: { buffer: wordsBuf } },
          { binding: 2, resource: { buffer: normalsBuf } },
        ],
      });
      const encoder = device.createCommandEncoder({ label: 'test-philox encoder' });
      const pass = encoder.beginComputePass({ label: 'test-philox pass' });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(Math.ceil(count / 64));
      pass.end();
      encoder.copyBufferToBuffer(wordsBuf, 0, wordsRead, 0, bytes);
      encoder.copyBufferToBuffer(normalsBuf, 0, normalsRead, 0, bytes);
      device.queue.submit([encoder.finish({ label: 'test-philox commands' })]);
      await ctx.guard(Promise.all([wordsRead.mapAsync(GPUMapMode.READ), normalsRead.mapAsync(GPUMapMode.READ)]));
      // Copy out before unmapping: the mapped ArrayBuffers are detached by unmap/destroy.
      const w = new Uint32Array(wordsRead.getMappedRange()).slice();
      const n = new Float32Array(normalsRead.getMappedRange()).slice();
      wordsRead.unmap();
      normalsRead.unmap();
      return [w, n] as const;
    });
  } finally {
    for (const b of buffers) b.destroy();
  }
  const gpuMs = performance.now() - started;

  const cpuWords = new Uint32Array(4);
  const cpuNormals = new Float64Array(4);
  const hex = (a: ArrayLike<number>): string => Array.from(a, (v) => v.toString(16).padStart(8, '0')).join(' ');
  const result: PhiloxCheckResult = {
    adapter: ctx.adapterInfo.label,
    count,
    wordMismatches: 0,
    firstWordMismatch: null,
    normalFailures: 0,
    firstNormalFailure: null,
    maxAbsError: 0,
    maxErrorOverTolerance: 0,
    maxScaledError: 0,
    gpuMs,
  };
  for (let i = 0; i < count; i++) {
    const [c0, c1, c2, c3, k0, k1] = inputs.subarray(8 * i, 8 * i + 6);
    philox4x32(c0, c1, c2, c3, k0, k1, cpuWords);
    const gpuWords = words.subarray(4 * i, 4 * i + 4);
    if (gpuWords.some((v, j) => v !== cpuWords[j])) {
      result.wordMismatches++;
      result.firstWordMismatch ??= `counter ${hex([c0, c1, c2, c3])} key ${hex([k0, k1])}: gpu ${hex(gpuWords)} cpu ${hex(cpuWords)}`;
    }
    const [seed, particle, stream, block] = [k0, c0, c1, c2];
    normal4(seed, particle, stream, block, cpuNormals);
    for (let j = 0; j < 4; j++) {
      const pair = j < 2 ? 0 : 2;
      const r = Math.hypot(cpuNormals[pair], cpuNormals[pair + 1]);
      const z = cpuNormals[j];
      const err = Math.abs(normals[4 * i + j] - z);
      const tol = normalTolerance(r);
      result.maxAbsError = Math.max(result.maxAbsError, err);
      result.maxScaledError = Math.max(result.maxScaledError, err / (1 + Math.abs(z)));
      result.maxErrorOverTolerance = Math.max(result.maxErrorOverTolerance, err / tol);
      if (!(err <= tol)) {
        result.normalFailures++;
        result.firstNormalFailure ??= `seed=${seed} particle=${particle} stream=${stream} block=${block} lane ${j}: gpu ${normals[4 * i + j]} cpu ${z} (r=${r}, tol ${tol})`;
      }
    }
  }
  return result;
}
