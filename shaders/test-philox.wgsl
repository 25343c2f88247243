// Test kernel (concatenated after philox.wgsl): evaluates the generator for a list of
// (seed, particle, stream, block) quadruples so the host can compare with src/rng/philox.ts.

@group(0) @binding(0) var<storage, read> inputs: array<vec4<u32>>;        // (seed, particle, stream, block)
@group(0) @binding(1) var<storage, read_write> words_out: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> normals_out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&inputs)) {
    return;
  }
  let q = inputs[i];
  words_out[i] = philox4x32(vec4<u32>(q.y, q.z, q.w, 0u), vec2<u32>(q.x, 0u));
  normals_out[i] = normal4(q.x, q.y, q.z, q.w);
}
