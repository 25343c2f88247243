// Peak-throughput microbenchmarks (bench/peak.ts): what one adapter can do at best, as the
// roof of the roofline that bench/ reports the sampler against.
//
//   fma_peak:  32 independent FMA chains per invocation (8 vec4 accumulators), unrolled 4x:
//              128 fma = 256 FLOP per loop iteration. acc <- acc * m + c with m, c from a
//              uniform (0.5, 0.5) converges to 1: no overflow, no subnormals, nothing the
//              compiler can fold (the iteration count is a runtime value too).
//   exp_peak:  32 independent exp chains, unrolled 4x: 128 exp per loop iteration.
//              acc <- exp(-acc) converges to the omega constant 0.567..., so every exp sees an
//              argument in the range the sampler's log-sum-exp sees (v - max <= 0). The
//              negation folds into exp's own scaling by log2(e) and is not counted.
//   copy_bandwidth: out[i] = src[i] * m + c over vec4 arrays, grid-stride (a fixed number of
//              workgroups, so that per-workgroup costs of a CPU adapter do not count): 32 bytes
//              moved per element (16 read, 16 written); the FMA keeps it from being a memcpy.
//
// Every result is written to `out`, so no chain is dead code. The grid is 2-D (x fastest)
// so that more than 65535 workgroups fit.

struct PeakParams {
  iterations: u32,
  elements: u32,
  m: f32,
  c: f32,
}

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: PeakParams;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<vec4<f32>>;

fn invocation_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid;
}

fn seeds(idx: u32) -> vec4<f32> {
  // Distinct starting values per invocation and per chain, all in [0, 1).
  let s = f32(idx & 1023u) * (1.0 / 1024.0);
  return vec4<f32>(s, 0.25 + 0.5 * s, 0.5 + 0.25 * s, 0.75 + 0.125 * s);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fma_peak(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let idx = invocation_index(wid, nwg, lid);
  let s = seeds(idx);
  var a0 = s;
  var a1 = s.yzwx;
  var a2 = s.zwxy;
  var a3 = s.wxyz;
  var a4 = s * 0.5;
  var a5 = s.yzwx * 0.5;
  var a6 = s.zwxy * 0.5;
  var a7 = s.wxyz * 0.5;
  let m = vec4<f32>(params.m);
  let c = vec4<f32>(params.c);
  for (var i = 0u; i < params.iterations; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
  }
  if (idx < params.elements) {
    out[idx] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn exp_peak(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let idx = invocation_index(wid, nwg, lid);
  let s = seeds(idx);
  var a0 = s;
  var a1 = s.yzwx;
  var a2 = s.zwxy;
  var a3 = s.wxyz;
  var a4 = s * 0.5;
  var a5 = s.yzwx * 0.5;
  var a6 = s.zwxy * 0.5;
  var a7 = s.wxyz * 0.5;
  for (var i = 0u; i < params.iterations; i++) {
    a0 = exp(-a0); a1 = exp(-a1); a2 = exp(-a2); a3 = exp(-a3);
    a4 = exp(-a4); a5 = exp(-a5); a6 = exp(-a6); a7 = exp(-a7);
    a0 = exp(-a0); a1 = exp(-a1); a2 = exp(-a2); a3 = exp(-a3);
    a4 = exp(-a4); a5 = exp(-a5); a6 = exp(-a6); a7 = exp(-a7);
    a0 = exp(-a0); a1 = exp(-a1); a2 = exp(-a2); a3 = exp(-a3);
    a4 = exp(-a4); a5 = exp(-a5); a6 = exp(-a6); a7 = exp(-a7);
    a0 = exp(-a0); a1 = exp(-a1); a2 = exp(-a2); a3 = exp(-a3);
    a4 = exp(-a4); a5 = exp(-a5); a6 = exp(-a6); a7 = exp(-a7);
  }
  if (idx < params.elements) {
    out[idx] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_bandwidth(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let stride = nwg.x * nwg.y * WORKGROUP_SIZE;
  let m = vec4<f32>(params.m);
  let c = vec4<f32>(params.c);
  for (var i = invocation_index(wid, nwg, lid); i < params.elements; i += stride) {
    out[i] = fma(src[i], m, c);
  }
}
