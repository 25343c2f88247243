// The Feynman-Kac corrector's systematic resampling, as a gather: each output slot j finds
// its ancestor and copies its position and carried state. The host planned, per block of
// BLOCK particles (src/corrector/fk.ts planSystematic), the first slot that falls in the
// block and that slot's position and the slot spacing in the block's own weight units;
// within the block, the ancestor of a slot is the first particle whose block-local prefix
// (shaders/fk-reduce.wgsl) exceeds the slot's position.
//
// The host prepends: const WORKGROUP_SIZE, BLOCK, DIM, STATE_STRIDE; structs FkParams, BlockPlan.

#include "lib/grid"

@group(0) @binding(0) var<uniform> params: FkParams;
@group(0) @binding(1) var<storage, read> plan: array<BlockPlan>;
@group(0) @binding(2) var<storage, read> prefix: array<f32>;
@group(0) @binding(3) var<storage, read> particles_in: array<f32>;
@group(0) @binding(4) var<storage, read> states_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> particles_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> states_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> ancestors: array<u32>;

// First index in [lo, hi) whose prefix exceeds v (or, with at_least, reaches it); hi if none.
fn first_index(lo: u32, hi: u32, v: f32, at_least: bool) -> u32 {
  var a = lo;
  var b = hi;
  while (a < b) {
    let m = (a + b) / 2u;
    let p = prefix[m];
    if (p > v || (at_least && p == v)) { b = m; } else { a = m + 1u; }
  }
  return a;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(ids: GridIds) {
  let slot = grid_invocation(ids);
  if (slot >= params.count) { return; }
  // The block whose slots hold this one: the last with slotStart <= slot (blocks without
  // weight have no slots and share their successor's start).
  var a = 0u;
  var b = params.blocks;
  while (b - a > 1u) {
    let m = (a + b) / 2u;
    if (plan[m].slotStart <= slot) { a = m; } else { b = m; }
  }
  let block = a;
  let lo = block * BLOCK;
  let hi = min(lo + BLOCK, params.count);
  let position = plan[block].phase + f32(slot - plan[block].slotStart) * plan[block].spacing;
  var ancestor = first_index(lo, hi, position, false);
  if (ancestor == hi) {
    // Rounding put the position at the block's very end: the first particle reaching its
    // total (its weight is positive: the prefix rises there).
    ancestor = min(first_index(lo, hi, prefix[hi - 1u], true), hi - 1u);
  }
  for (var j = 0u; j < DIM; j++) { particles_out[slot * DIM + j] = particles_in[ancestor * DIM + j]; }
  for (var j = 0u; j < STATE_STRIDE; j++) { states_out[slot * STATE_STRIDE + j] = states_in[ancestor * STATE_STRIDE + j]; }
  ancestors[slot] = ancestor;
}
