// Test kernel (concatenated after philox.wgsl): evaluates the generator on a list of inputs so
// the host can compare with src/rng/philox.ts. Input i is two vec4s: a counter (c0, c1, c2, c3)
// and a key (k0, k1, unused, unused). Output: the raw words philox4x32(counter, key) and
// normal4(seed = k0, particle = c0, stream = c1, block = c2), which ignores c3 and k1.

@group(0) @binding(0) var<storage, read> inputs: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> words_out: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> normals_out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&words_out)) {
    return;
  }
  let ctr = inputs[2u * i];
  let key = inputs[2u * i + 1u];
  words_out[i] = philox4x32(ctr, key.xy);
  normals_out[i] = normal4(key.x, ctr.x, ctr.y, ctr.z);
}
