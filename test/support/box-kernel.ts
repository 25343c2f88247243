// Runs shaders/normal.wgsl's log_diff_phi on the GPU for a list of (a, b) pairs, through the
// test kernel test/shaders/box-tails.wgsl, inside error scopes (a validation error throws).
import { withErrorScopes, type GpuContext } from '../../src/gpu/device.ts';
import { shaderText } from '../../src/gpu/program.ts';
import boxTailsKernel from '../shaders/box-tails.wgsl?raw';

// What shaders/lib/mixture.wgsl expects of the kernel that includes it (unused here but for
// box_div_term).
const MIXTURE_STUBS = `
const DIM: u32 = 1u;
const HAS_UNIFORM: bool = true;
const HAS_FULL: bool = false;
const LOG_DENSITY: bool = true;
const LOG_ZERO: f32 = -1.0e30;
alias lanes = f32;
const KIND_GAUSSIAN: u32 = 0u;
const KIND_UNIFORM: u32 = 2u;
struct ComponentInfo { kind: u32, mask: u32, logWeightTarget: f32, logWeightNegative: f32 }
var<private> xs: array<f32, DIM>;
fn factor_at(i: u32, staged: bool) -> f32 { return factors[i]; }
@group(1) @binding(0) var<storage, read> factors: array<f32>;
@group(1) @binding(1) var<storage, read> statics: array<f32>;
`;

/**
 * pairs: [a0, b0, a1, b1, ...] (f32, a >= b). Returns 4 values per pair: log(Phi(a) - Phi(b)),
 * R, log erfcx(|a|), and the second derivative of the log in units of 1/sigma^2.
 */
export async function logDiffPhiOnGpu(ctx: GpuContext, pairs: Float32Array): Promise<Float32Array> {
  const { device, platform } = ctx;
  const count = pairs.length / 2;
  const bytes = count * 16;
  const buffers: GPUBuffer[] = [];
  const buffer = (label: string, usage: number, size = bytes): GPUBuffer => {
    const b = device.createBuffer({ label, size, usage });
    buffers.push(b);
    return b;
  };
  try {
    return await withErrorScopes(device, async () => {
      const module = device.createShaderModule({
        label: 'test-box module',
        code: [
          platform.shaderSource('normal'),
          MIXTURE_STUBS,
          shaderText(platform, 'lib/mixture'),
          boxTailsKernel,
        ].join('\n'),
      });
      const pipeline = await device.createComputePipelineAsync({
        label: 'test-box pipeline',
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      const input = buffer('test-box pairs', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, pairs.byteLength);
      const output = buffer('test-box results', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const readback = buffer('test-box readback', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      device.queue.writeBuffer(input, 0, pairs as Float32Array<ArrayBuffer>);
      const bindGroup = device.createBindGroup({
        label: 'test-box bind group',
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: input } },
          { binding: 1, resource: { buffer: output } },
        ],
      });
      const encoder = device.createCommandEncoder({ label: 'test-box encoder' });
      const pass = encoder.beginComputePass({ label: 'test-box pass' });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(Math.ceil(count / 64));
      pass.end();
      encoder.copyBufferToBuffer(output, 0, readback, 0, bytes);
      device.queue.submit([encoder.finish({ label: 'test-box commands' })]);
      await ctx.guard(readback.mapAsync(GPUMapMode.READ));
      const out = new Float32Array(readback.getMappedRange()).slice();
      readback.unmap();
      return out;
    });
  } finally {
    for (const b of buffers) b.destroy();
  }
}
