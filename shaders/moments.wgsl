// Partial sums for the mean and spread of particles along up to two coordinates
// (web/trace.ts): each workgroup writes [n, sum0, sum1, sumSq0, sumSq1, nonFinite] for the
// particles p = stride * i it visits; the host adds the partials in f64. Values are taken
// about a centre c (x - c) so that the f32 sums of squares do not cancel.

struct MomentsParams {
  count: u32,   // particles in the buffer
  dim: u32,
  stride: u32,  // visit every stride-th particle (1: all)
  axis0: u32,
  axis1: u32,
  nAxes: u32,
  _pad0: u32,
  _pad1: u32,
  center0: f32,
  center1: f32,
  _pad2: f32,
  _pad3: f32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: MomentsParams;
@group(0) @binding(1) var<storage, read> particles: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

var<workgroup> scratch: array<array<f32, 6>, WG>;

// Bit test, not isNan/isInf: a compiler may assume floats are finite and fold those away.
fn isFiniteBits(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(64)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let threads = nwg.x * WG;
  let visits = (params.count + params.stride - 1u) / params.stride;
  var acc = array<f32, 6>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
  for (var i = wid.x * WG + lid; i < visits; i += threads) {
    let base = i * params.stride * params.dim;
    var finite = true;
    for (var j = 0u; j < params.dim; j++) {
      finite = finite && isFiniteBits(particles[base + j]);
    }
    if (!finite) {
      acc[5] += 1.0;
      continue;
    }
    let a = particles[base + params.axis0] - params.center0;
    acc[0] += 1.0;
    acc[1] += a;
    acc[3] += a * a;
    if (params.nAxes > 1u) {
      let b = particles[base + params.axis1] - params.center1;
      acc[2] += b;
      acc[4] += b * b;
    }
  }
  scratch[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      for (var k = 0u; k < 6u; k++) {
        scratch[lid][k] += scratch[lid + s][k];
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    for (var k = 0u; k < 6u; k++) {
      partials[wid.x * 6u + k] = scratch[0][k];
    }
  }
}
