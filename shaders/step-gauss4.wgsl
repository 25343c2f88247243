// The step kernel's fast path: LANES (4 or 1) particles per invocation, one lane each of the
// generated type `lanes` (vec4<f32> or f32), for
// specs whose components are all Gaussians with diagonal (or isotropic) covariance, with
// linear guidance (or cfgpp, whose rule is in the step rows) and no score error. Same mathematics as shaders/step.wgsl; the host
// (src/gpu/sampler.ts) picks this file when the spec qualifies.
//
// Why: every per-step table load (rows, factors, component infos) is indexed by the step
// and component loop counters, which a CPU implementation like lavapipe executes lane by
// lane; with four particles per invocation each load serves four particles. The online
// log-sum-exp is branch-free (exp(-|v - max|) and selects), one exp per component and group; it
// and the diagonal Gaussian's log-density are shaders/lib/mixture-lanes.wgsl's, shared with the
// general kernel.
//
// The lane width and the workgroup size are a kernel variant's (src/gpu/variants.ts): four
// lanes suit lavapipe (LLVM vectorises across invocations and each table load serves four
// particles), one lane suits SwiftShader (its JIT keeps a vec4 per coordinate in memory).
// Every variant makes the same f32 operations per particle, so they give the same particles.
// The host prepends the generated header (src/gpu/kernel.ts: LANES, `lanes`, lane_get,
// lane_set), with the declarations of
// bindings 1-4 (gauss4TableBindings: uniform where the tables fit, else storage); the generator
// and the normal helpers are included below. Those bindings:
//   rows:       array<StepRowSlot>, the step rows of this dispatch's steps only (a window:
//               slot step * STAGES + i for step firstStep + step, stage i);
//   factors:    array<vec4<f32>>, this dispatch's factor window, read as flat f32 by factor();
//   components: array<ComponentInfo>;
//   statics:    array<vec4<f32>>, [target data mean (DIM), negative data mean (DIM)].

#include "philox"
#include "normal"
#include "lib/grid"
#include "lib/mixture-lanes"

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(5) var<storage, read_write> particles: array<f32>;

// factor(i), static_value(i): flat f32 reads of the tables, from the header (gauss4TableBindings).

// IN_TARGET, IN_NEGATIVE: the header (src/gpu/codes.ts).
const LOG_ZERO: f32 = -1.0e30;

var<private> x: array<lanes, DIM>;
var<private> xs: array<lanes, DIM>;
var<private> k: array<array<lanes, DIM>, STAGES>;
// The target's and the negative's online log-sum-exps (GroupSum: shaders/lib/mixture-lanes.wgsl).
var<private> group_t: GroupSum;
var<private> group_n: GroupSum;

// The library's factor reader (no staging on this path).
fn factor_at(i: u32, staged: bool) -> f32 { return factor(i); }

fn add_component(c: u32, factor_row: u32) {
  let info = components[c];
  let logp = gaussian_diag_log_density((factor_row * NCOMP + c) * FACTOR_STRIDE, false);
  if ((info.mask & IN_TARGET) != 0u) { group_add(&group_t, info.logWeightTarget + logp); }
  if ((info.mask & IN_NEGATIVE) != 0u) { group_add(&group_n, info.logWeightNegative + logp); }
}

fn velocity(stage: u32, row: StepRow, factor_row: u32) {
  group_reset(&group_t);
  group_reset(&group_n);
  for (var c = 0u; c < NTARGET; c++) { add_component(c, factor_row); }
  if (NEG_FROM_TARGET) {
    group_n = group_t;
    group_n.max = group_t.max + NEG_TARGET_SHIFT;
  }
  for (var c = NTARGET; c < NCOMP; c++) { add_component(c, factor_row); }
  let gt = row.gammaTarget / group_t.sum;
  let gn = select(lanes(0.0), row.gammaNegative / group_n.sum, group_n.sum > lanes(0.0));
  for (var j = 0u; j < DIM; j++) {
    let s = gt * group_t.acc[j] + gn * group_n.acc[j];
    let mean = row.gammaTarget * static_value(j) + row.gammaNegative * static_value(DIM + j);
    k[stage][j] = row.cx * xs[j] + row.cs * s + row.cMean * mean;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(ids: GridIds) {
  let invocation = grid_invocation(ids);
  let first = invocation * LANES;
  if (first >= params.particleCount) { return; }

  for (var lane = 0u; lane < LANES; lane++) {
    let local = first + lane;
    if (local >= params.particleCount) { continue; } // spare lanes keep x = 0 and are not stored
    if (params.initialise != 0u) {
      for (var blk = 0u; blk * 4u < DIM; blk++) {
        let z = normal4(params.seed, params.particleOffset + local, 0u, blk);
        for (var l = 0u; l < 4u && blk * 4u + l < DIM; l++) { x[blk * 4u + l] = lane_set(x[blk * 4u + l], lane, PRIOR_SCALE * z[l]); }
      }
    } else {
      for (var j = 0u; j < DIM; j++) { x[j] = lane_set(x[j], lane, particles[local * DIM + j]); }
    }
  }

  var tableau_a = TABLEAU_A;
  var tableau_b = TABLEAU_B;
  for (var step = 0u; step < params.stepCount; step++) {
    let n = params.firstStep + step;
    let h = rows[step * STAGES].row.h;
    for (var i = 0u; i < STAGES; i++) {
      for (var j = 0u; j < DIM; j++) {
        var acc = x[j];
        for (var l = 0u; l < i; l++) { acc += h * tableau_a[i * STAGES + l] * k[l][j]; }
        xs[j] = acc;
      }
      velocity(i, rows[step * STAGES + i].row, step * STAGES + i);
    }
    for (var j = 0u; j < DIM; j++) {
      var acc = lanes(0.0);
      for (var i = 0u; i < STAGES; i++) { acc += tableau_b[i] * k[i][j]; }
      x[j] += h * acc;
    }
    if (STOCHASTIC) {
      let noise = rows[step * STAGES].row.noiseScale;
      for (var lane = 0u; lane < LANES; lane++) {
        let local = first + lane;
        if (local >= params.particleCount) { continue; }
        for (var blk = 0u; blk * 4u < DIM; blk++) {
          let z = normal4(params.seed, params.particleOffset + local, n + 1u, blk);
          for (var l = 0u; l < 4u && blk * 4u + l < DIM; l++) { x[blk * 4u + l] = lane_set(x[blk * 4u + l], lane, lane_get(x[blk * 4u + l], lane) + noise * z[l]); }
        }
      }
    }
  }
  for (var lane = 0u; lane < LANES; lane++) {
    let local = first + lane;
    if (local < params.particleCount) {
      for (var j = 0u; j < DIM; j++) { particles[local * DIM + j] = lane_get(x[j], lane); }
    }
  }
}
