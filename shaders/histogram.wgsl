// Bins particles into a 1-D or 2-D histogram on the GPU (src/gpu/histogram.ts): each
// invocation projects one particle on the histogram's axes (u.x, in f32) and adds 1 to its bin
// with an atomic. counts = [bins (first axis fastest)..., underflow, overflow, nonFinite].
// A particle with a non-finite coordinate (or projection) counts only as nonFinite; one outside
// the range on any axis counts as underflow when it is below the low end of the first such
// axis, else overflow. Bins are [low, high) intervals: uniform (index = floor((v - low) scale))
// or, per axis, given by sorted edges (binary search), e.g. equiprobable edges of an exact law.

struct HistogramParams {
  count: u32,
  dim: u32,
  nAxes: u32,
  bins0: u32,
  bins1: u32,
  rowWidth: u32,
  useEdges0: u32, // 1: axis 0 bins are edges[0 .. bins0] (sorted), else uniform
  useEdges1: u32, // 1: axis 1 bins are edges[bins0 + 1 .. bins0 + 1 + bins1]
  low0: f32,
  low1: f32,
  scale0: f32, // bins / (high - low)
  scale1: f32,
}

@group(0) @binding(0) var<uniform> params: HistogramParams;
@group(0) @binding(1) var<storage, read> particles: array<f32>;
@group(0) @binding(2) var<storage, read> axes: array<f32>; // nAxes x dim, row-major
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read> edges: array<f32>;

// Bit test, not isNan/isInf: a compiler may assume floats are finite and fold those away.
fn isFiniteBits(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

// Bin of v on one axis: -1 below, bins above, else the index. first: offset of the axis's
// edges in `edges`.
fn binOf(v: f32, bins: u32, useEdges: u32, first: u32, low: f32, scale: f32) -> i32 {
  if (useEdges == 0u) {
    let f = (v - low) * scale;
    if (f < 0.0) { return -1; }
    if (f >= f32(bins)) { return i32(bins); }
    return i32(min(u32(f), bins - 1u));
  }
  if (v < edges[first]) { return -1; }
  if (v >= edges[first + bins]) { return i32(bins); }
  // edges[first + lo] <= v < edges[first + hi]
  var lo = 0u;
  var hi = bins;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (v >= edges[first + mid]) { lo = mid; } else { hi = mid; }
  }
  return i32(lo);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x + gid.y * params.rowWidth;
  if (p >= params.count) {
    return;
  }
  let nb = params.bins0 * max(params.bins1, 1u);
  let base = p * params.dim;
  var u = vec2<f32>(0.0, 0.0);
  var finite = true;
  for (var j = 0u; j < params.dim; j++) {
    let x = particles[base + j];
    finite = finite && isFiniteBits(x);
    u.x += axes[j] * x;
    if (params.nAxes > 1u) {
      u.y += axes[params.dim + j] * x;
    }
  }
  finite = finite && isFiniteBits(u.x) && isFiniteBits(u.y);
  if (!finite) {
    atomicAdd(&counts[nb + 2u], 1u);
    return;
  }
  let i0 = binOf(u.x, params.bins0, params.useEdges0, 0u, params.low0, params.scale0);
  if (i0 < 0) {
    atomicAdd(&counts[nb], 1u);
    return;
  }
  if (i0 >= i32(params.bins0)) {
    atomicAdd(&counts[nb + 1u], 1u);
    return;
  }
  var i1 = 0;
  if (params.nAxes > 1u) {
    i1 = binOf(u.y, params.bins1, params.useEdges1, params.bins0 + 1u, params.low1, params.scale1);
    if (i1 < 0) {
      atomicAdd(&counts[nb], 1u);
      return;
    }
    if (i1 >= i32(params.bins1)) {
      atomicAdd(&counts[nb + 1u], 1u);
      return;
    }
  }
  atomicAdd(&counts[u32(i0) + params.bins0 * u32(i1)], 1u);
}
