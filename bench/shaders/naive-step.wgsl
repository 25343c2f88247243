// The naive baseline of the Chrome benchmark (bench/naive.ts): the standard workload's
// stepping written the straightforward way, one particle per invocation, every table in
// storage, one dispatch for all the steps, loops over steps, components and coordinates as
// written. Same mathematics as shaders/step-gauss4.wgsl (diagonal Gaussians, linear guidance,
// euler, no noise), same Philox start, so its particles agree with the project kernel's to f32
// rounding; it is a yardstick for the project kernel, not a path of the sampler.
//
// The host (bench/naive.ts) prepends the project's generated header (src/gpu/kernel.ts:
// DIM, NCOMP, NTARGET, NEG_FROM_TARGET, NEG_TARGET_SHIFT, PRIOR_SCALE, FACTOR_STRIDE, the
// structs) and shaders/philox.wgsl, shaders/normal.wgsl.
//   rows:    array<StepRow>, one per step (euler: one stage);
//   factors: per (step, component): [logNorm, 1/sigma, invVar[DIM], shift[DIM]];
//   statics: [target data mean (DIM), negative data mean (DIM)].

struct NaiveParams {
  particleCount: u32,
  steps: u32,
  seed: u32,
  pad: u32,
}

@group(0) @binding(0) var<uniform> params: NaiveParams;
@group(0) @binding(1) var<storage, read> rows: array<StepRow>;
@group(0) @binding(2) var<storage, read> factors: array<f32>;
@group(0) @binding(3) var<storage, read> components: array<ComponentInfo>;
@group(0) @binding(4) var<storage, read> statics: array<f32>;
@group(0) @binding(5) var<storage, read_write> particles: array<f32>;

const NAIVE_WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(NAIVE_WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let p = (wid.y * nwg.x + wid.x) * NAIVE_WORKGROUP_SIZE + lid;
  if (p >= params.particleCount) { return; }

  var x: array<f32, DIM>;
  for (var blk = 0u; blk * 4u < DIM; blk++) {
    let z = normal4(params.seed, p, 0u, blk);
    for (var l = 0u; l < 4u && blk * 4u + l < DIM; l++) { x[blk * 4u + l] = PRIOR_SCALE * z[l]; }
  }

  for (var n = 0u; n < params.steps; n++) {
    let row = rows[n];
    var max_t = -1.0e30;
    var sum_t = 0.0;
    var acc_t: array<f32, DIM>;
    var max_n = -1.0e30;
    var sum_n = 0.0;
    var acc_n: array<f32, DIM>;
    for (var c = 0u; c < NCOMP; c++) {
      if (NEG_FROM_TARGET && c == NTARGET) {
        // The negative law holds every target component at a fixed shift: start from the target's sums.
        max_n = max_t + NEG_TARGET_SHIFT;
        sum_n = sum_t;
        acc_n = acc_t;
      }
      let info = components[c];
      let base = (n * NCOMP + c) * FACTOR_STRIDE;
      var logp = factors[base];
      var score: array<f32, DIM>;
      for (var j = 0u; j < DIM; j++) {
        let r = x[j] - factors[base + 2u + DIM + j];
        let q = r * factors[base + 2u + j];
        logp -= 0.5 * r * q;
        score[j] = -q;
      }
      if ((info.mask & IN_TARGET) != 0u) {
        let v = info.logWeightTarget + logp;
        if (v > max_t) {
          let s = exp(max_t - v);
          sum_t = sum_t * s + 1.0;
          for (var j = 0u; j < DIM; j++) { acc_t[j] = acc_t[j] * s + score[j]; }
          max_t = v;
        } else {
          let e = exp(v - max_t);
          sum_t += e;
          for (var j = 0u; j < DIM; j++) { acc_t[j] += e * score[j]; }
        }
      }
      if ((info.mask & IN_NEGATIVE) != 0u) {
        let v = info.logWeightNegative + logp;
        if (v > max_n) {
          let s = exp(max_n - v);
          sum_n = sum_n * s + 1.0;
          for (var j = 0u; j < DIM; j++) { acc_n[j] = acc_n[j] * s + score[j]; }
          max_n = v;
        } else {
          let e = exp(v - max_n);
          sum_n += e;
          for (var j = 0u; j < DIM; j++) { acc_n[j] += e * score[j]; }
        }
      }
    }
    if (NEG_FROM_TARGET && NCOMP == NTARGET) {
      max_n = max_t + NEG_TARGET_SHIFT;
      sum_n = sum_t;
      acc_n = acc_t;
    }
    let gt = row.gammaTarget / sum_t;
    var gn = 0.0;
    if (sum_n > 0.0) { gn = row.gammaNegative / sum_n; }
    for (var j = 0u; j < DIM; j++) {
      let s = gt * acc_t[j] + gn * acc_n[j];
      let mean = row.gammaTarget * statics[j] + row.gammaNegative * statics[DIM + j];
      x[j] += row.h * (row.cx * x[j] + row.cs * s + row.cMean * mean);
    }
  }
  for (var j = 0u; j < DIM; j++) { particles[p * DIM + j] = x[j]; }
}
