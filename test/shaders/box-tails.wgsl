// Test kernel (concatenated after normal.wgsl): evaluates log_diff_phi on a list of (a, b)
// pairs so the host can compare with logDiffPhi in src/model/special.ts (f64). Output i is
// (log(Phi(a) - Phi(b)), R, log erfcx(|a|), f'' + f'^2 of f = log(Phi(a) - Phi(b))) for input i: the third
// checks the erfcx fit that every tail value rests on, the fourth shaders/lib/mixture.wgsl's
// box_div_term (the box part of the log-density mode's divergence).

@group(0) @binding(0) var<storage, read> pairs: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> results: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&results)) {
    return;
  }
  let d = log_diff_phi(pairs[i].x, pairs[i].y);
  results[i] = vec4<f32>(d.log, d.dlog, log_erfcx_pos(abs(pairs[i].x)), box_div_term(pairs[i].x, pairs[i].y));
}
