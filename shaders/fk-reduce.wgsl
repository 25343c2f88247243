// The Feynman-Kac corrector's weight reduction: per block of BLOCK = WORKGROUP_SIZE x ITEMS
// particles, the largest finite log-weight M, the sums of w = exp(logw - M) and of w^2, the
// count of non-finite weights, and each particle's inclusive prefix of w within its block
// (for resampling). Non-finite weights count as zero. src/corrector/fk.ts blockStats is the
// same in f64.
//
// The prefix is built so that it is non-decreasing and flat exactly where w = 0 (a zero-
// weight particle can never be drawn): each invocation sums its ITEMS weights left to right
// from 0, and its offset is the sequential sum of the earlier invocations' totals, so the
// last prefix of one invocation is, bit for bit, the offset of the next.
//
// The host prepends: const WORKGROUP_SIZE, ITEMS; structs FkParams, BlockStats.

#include "lib/grid"

@group(0) @binding(0) var<uniform> params: FkParams;
@group(0) @binding(1) var<storage, read> log_weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> prefix: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<BlockStats>;

const LOG_ZERO: f32 = -1.0e30;
const BLOCK: u32 = WORKGROUP_SIZE * ITEMS;

var<workgroup> shared_f: array<f32, WORKGROUP_SIZE>;
var<workgroup> shared_g: array<f32, WORKGROUP_SIZE>;
var<workgroup> non_finite: atomic<u32>;

// WGSL lets compilers assume no NaN or infinity in float arithmetic: test the bits.
fn is_finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(ids: GridIds) {
  let lid = ids.lid;
  let block = grid_workgroup(ids);
  let first = block * BLOCK + lid * ITEMS;
  if (lid == 0u) { atomicStore(&non_finite, 0u); }

  var lw: array<f32, ITEMS>;
  var local_max = LOG_ZERO;
  var bad = 0u;
  for (var i = 0u; i < ITEMS; i++) {
    lw[i] = LOG_ZERO;
    let p = first + i;
    if (block < params.blocks && p < params.count) {
      let v = log_weights[p];
      if (is_finite(v)) {
        lw[i] = v;
        local_max = max(local_max, v);
      } else {
        bad += 1u;
      }
    }
  }
  if (bad > 0u) { atomicAdd(&non_finite, bad); }

  // Block max (tree).
  shared_f[lid] = local_max;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { shared_f[lid] = max(shared_f[lid], shared_f[lid + stride]); }
    workgroupBarrier();
  }
  let block_max = shared_f[0];
  workgroupBarrier();

  // This invocation's weights, their running sum from 0, and their squares.
  var running: array<f32, ITEMS>;
  var total = 0.0;
  var total_sq = 0.0;
  for (var i = 0u; i < ITEMS; i++) {
    var w = 0.0;
    if (lw[i] > 0.5 * LOG_ZERO) { w = exp(lw[i] - block_max); }
    total += w;
    total_sq += w * w;
    running[i] = total;
  }
  shared_f[lid] = total;
  shared_g[lid] = total_sq;
  workgroupBarrier();
  // Exclusive offsets, summed in order by one invocation (256 adds: cheap next to a step).
  if (lid == 0u) {
    var acc = 0.0;
    for (var i = 0u; i < WORKGROUP_SIZE; i++) {
      let t = shared_f[i];
      shared_f[i] = acc;
      acc += t;
    }
    if (block < params.blocks) { stats[block].sum = acc; }
  }
  // Sum of squares (tree; only the ESS reads it).
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { shared_g[lid] += shared_g[lid + stride]; }
    workgroupBarrier();
  }
  let offset = shared_f[lid];
  for (var i = 0u; i < ITEMS; i++) {
    let p = first + i;
    if (block < params.blocks && p < params.count) { prefix[p] = offset + running[i]; }
  }
  if (lid == 0u && block < params.blocks) {
    stats[block].max = block_max;
    stats[block].sumSq = shared_g[0];
    stats[block].nonFinite = atomicLoad(&non_finite);
  }
}
