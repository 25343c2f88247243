// The dispatch planner's 2-D workgroup grid (src/gpu/planner.ts gridFor: a large dispatch is
// split over y, at most 65535 workgroups per dimension), flattened back into one index. The
// including kernel declares WORKGROUP_SIZE; its entry point takes a GridIds.

// The built-in ids of one invocation on the grid.
struct GridIds {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
}

// The workgroup's index in the flattened grid (uniform across the workgroup).
fn grid_workgroup(ids: GridIds) -> u32 {
  return ids.wid.y * ids.nwg.x + ids.wid.x;
}

// The invocation's index in the flattened grid.
fn grid_invocation(ids: GridIds) -> u32 {
  return grid_workgroup(ids) * WORKGROUP_SIZE + ids.lid;
}
