// One guided solver step kernel: each invocation owns one particle, keeps it in
// registers across `stepCount` steps, and writes it back. Mirrors CpuStepper in
// src/cpu/reference.ts step for step.
//
// The host prepends a generated header (src/gpu/kernel.ts) with:
//   const DIM, NCOMP, NTARGET, STAGES, WORKGROUP_SIZE, STOCHASTIC, HAS_UNIFORM, HAS_FULL,
//   NEG_FROM_TARGET, NEG_TARGET_SHIFT, PRIOR_SCALE, FACTOR_STRIDE, LOG_DENSITY, VARIANT and its
//   parameters, the score-error flags ERR_*,
//   TABLEAU_A (STAGES x STAGES, row-major), TABLEAU_B, and the structs StepRow, StepParams,
//   ComponentInfo, all derived from the TypeScript definitions; and with a trained classifier or
// a learned denoiser their constants. The includes below bring the generator, the normal CDF
// helpers, the mixture math (factor_at, component_log_density: shaders/lib/mixture.wgsl) and
// the guided score of cfg's variants (combine_scores: shaders/lib/guided-score.wgsl); the flags CLASSIFIER and DENOISER bring shaders/classifier.wgsl or shaders/denoiser.wgsl
// (binding 8), else a stub add_classifier_guidance / apply_learned_scores.
//
// Per (row, component entry) factors (built once per dispatch window on the host):
//   gaussian: [logNorm, 1/sigma, invVar[DIM], shift[DIM]]  with shift = alpha * mean
//   uniform:  [logNorm, 1/sigma, shift[DIM], shift2[DIM]]  with shift = alpha * low, shift2 = alpha * high
// (sigma is the entry's own: a blurred score error widens it.)

#include "philox"
#include "normal"
#include "lib/grid"
#include "lib/mixture"
#include "lib/guided-score"

@group(0) @binding(0) var<uniform> params: StepParams;
// rows, factors, components (bindings 1-3) and the factor reader factor_value(i): the header
// (src/gpu/kernel.ts, generalTableBindings: uniform bindings on llvmpipe, else storage).
// [target data mean (DIM), negative data mean (DIM), eigenbases (NCOMP x DIM x DIM) if HAS_FULL,
//  then from ERR_OFFSET: the bias (DIM) or the field's features (omega[DIM], dir[DIM], phase)]
@group(0) @binding(4) var<storage, read> statics: array<f32>;
@group(0) @binding(5) var<storage, read_write> particles: array<f32>;
@group(0) @binding(6) var<storage, read_write> states: array<f32>;
// FK: the Feynman-Kac corrector's log-weights (src/corrector/fk.ts), one per particle.
// LOG_DENSITY (never with FK): log q of each particle, carried along its path (src/gpu/log-density.ts).
@group(0) @binding(7) var<storage, read_write> log_weights: array<f32>;

// KIND_*, IN_* and VARIANT_* codes: the header (src/gpu/codes.ts).
const LOG_ZERO: f32 = -1.0e30; // stands in for log 0: WGSL may assume no infinities

var<private> x: array<f32, DIM>;
// Whether this invocation owns a particle (spare ones still take part in tile loads).
var<private> owns_particle: bool;
var<private> lane_id: u32;
var<workgroup> tile: array<f32, TILE_FLOATS>;
var<private> xs: array<f32, DIM>;
var<private> k: array<array<f32, DIM>, STAGES>;
// The groups' online log-sum-exps (GroupSum: shaders/lib/mixture-lanes.wgsl): the target, the
// negative, and multi-condition guidance's extra groups (NEXTRA > 0).
var<private> group_t: GroupSum;
var<private> group_n: GroupSum;
var<private> group_x: array<GroupSum, NEXTRA_SLOTS>;
// LOG_DENSITY: the extra groups' share of div s at xs.
var<private> extra_div: f32;
// LOG_DENSITY: div u at each stage (u = cx x + cs s + cMean m: cx DIM + cs div s).
var<private> stage_div: array<f32, STAGES>;
// LOG_DENSITY: div s_t, div s_n at xs (velocity), with the score-error fields' terms.
var<private> div_t: f32;
var<private> div_n: f32;
var<private> s_t: array<f32, DIM>;
var<private> s_n: array<f32, DIM>;
var<private> s_guided: array<f32, DIM>;
// The guidance variant's per-particle state (apg momentum), kept across steps in `states`.
var<private> momentum: array<f32, DIM>;
// DENOISED: the k-diffusion samplers' earlier denoised values (src/solvers/samplers.ts), kept
// in `states` after the momentum, and one step's normals.
var<private> hist: array<array<f32, DIM>, HIST_SLOTS>;
var<private> z_step: array<f32, DIM>;
// LOG_DENSITY: the particle's log-density under the sampler's law, at its current time.
var<private> log_q_carried: f32;
// FK: log q = gammaTarget log p_target + gammaNegative log p_negative at xs, from velocity().
var<private> log_q: f32;

// A component factor, from the workgroup's staged tile or from the factor binding (the reader
// shaders/lib/mixture.wgsl asks of its includer).
fn factor_at(i: u32, staged: bool) -> f32 {
  if (staged) { return tile[i]; }
  return factor_value(i);
}

// component_log_density: shaders/lib/mixture.wgsl.

fn add_component(c: u32, base: u32, staged: bool) {
  let info = components[c];
  let lp = component_log_density(c, info.kind, base, staged);
  if (NEXTRA > 0u && (info.mask & IN_EXTRA) != 0u) {
    group_add(&group_x[info.mask >> EXTRA_GROUP_SHIFT], info.logWeightTarget + lp);
    return;
  }
  if ((info.mask & IN_TARGET) != 0u) { group_add(&group_t, info.logWeightTarget + lp); }
  if ((info.mask & IN_NEGATIVE) != 0u) { group_add(&group_n, info.logWeightNegative + lp); }
}

// Walks components [c0, c1). With many components (TILE > 0) the workgroup first copies a
// tile of their factors into workgroup memory, together, so that each factor is read from
// the storage buffer once per workgroup instead of once per particle. Every invocation,
// owns_particle or not, must reach the barriers: this is called in uniform control flow.
fn walk_components(c0: u32, c1: u32, factor_row: u32) {
  if (TILE == 0u) {
    if (owns_particle) {
      for (var c = c0; c < c1; c++) { add_component(c, (factor_row * NCOMP + c) * FACTOR_STRIDE, false); }
    }
    return;
  }
  for (var t0 = c0; t0 < c1; t0 += TILE) {
    let n = min(TILE, c1 - t0);
    let src = (factor_row * NCOMP + t0) * FACTOR_STRIDE;
    workgroupBarrier();
    for (var i = lane_id; i < n * FACTOR_STRIDE; i += WORKGROUP_SIZE) { tile[i] = factor_value(src + i); }
    workgroupBarrier();
    if (owns_particle) {
      for (var c = 0u; c < n; c++) { add_component(t0 + c, c * FACTOR_STRIDE, true); }
    }
  }
}

// k[stage] = cx xs + cs s + cMean (guided data mean), s the guided score at xs.
// row = rows[row_id]; factor_row is its index in the dispatch's factor window.
fn velocity(stage: u32, row: StepRow, row_id: u32, factor_row: u32) {
  group_reset(&group_t);
  group_reset(&group_n);
  for (var g = 0u; g < NEXTRA; g++) { group_reset(&group_x[g]); }
  // Components are ordered target first (then the negative's, then the extra groups'). When the negative law contains the target class
  // with a fixed log-weight shift (cfg against the unconditional law, classifier guidance),
  // the target's partial log-sum-exp is reused for the negative: one exp per component.
  walk_components(0u, NTARGET, factor_row);
  if (NEG_FROM_TARGET) {
    group_n = group_t;
    group_n.max = group_t.max + NEG_TARGET_SHIFT;
  }
  walk_components(NTARGET, NCOMP, factor_row);
  if (!owns_particle) { return; } // spare invocations only keep the workgroup's barriers company
  if (FK) {
    log_q = row.gammaTarget * group_log_density(&group_t);
    if (row.gammaNegative != 0.0) { log_q += row.gammaNegative * group_log_density(&group_n); }
  }
  // The two groups' scores, each with its score-error model.
  for (var j = 0u; j < DIM; j++) {
    s_t[j] = group_t.acc[j] / group_t.sum;
    s_n[j] = 0.0;
    if (group_n.sum > 0.0) { s_n[j] = group_n.acc[j] / group_n.sum; }
  }
  // Learned denoisers replace s_t and/or s_n (shaders/denoiser.wgsl; an empty stub without one).
  apply_learned_scores(row_id, row.gammaNegative);
  if (LOG_DENSITY) { group_divergences(); }
  if (ERR_TARGET) { add_score_error_target(); }
  if (ERR_NEGATIVE && group_n.sum > 0.0) { add_score_error_negative(); }
  combine_scores(row);
  if (NEXTRA > 0u) { add_extra_groups(row_id); }
  // Trained-classifier guidance (shaders/classifier.wgsl; an empty stub without a classifier).
  add_classifier_guidance(row_id);
  for (var j = 0u; j < DIM; j++) {
    var mean = row.gammaTarget * statics[j] + row.gammaNegative * statics[DIM + j];
    if (NEXTRA > 0u) { mean += extra_mean(j, row_id); }
    k[stage][j] = row.cx * xs[j] + row.cs * s_guided[j] + row.cMean * mean;
  }
  // Linear guidance only (the host refuses the rest): div s_guided = gT div s_t + gN div s_n
  // (+ the extra groups' share).
  if (LOG_DENSITY) {
    var div_s = row.gammaTarget * div_t;
    if (row.gammaNegative != 0.0) { div_s += row.gammaNegative * div_n; }
    if (NEXTRA > 0u) { div_s += extra_div; }
    stage_div[stage] = row.cx * f32(DIM) + row.cs * div_s;
  }
}

// Multi-condition guidance: s_guided += sum_g c_g s_g over the extra groups, c_g this row's
// coefficients (statics from EXTRA_GAMMA_OFFSET, src/gpu/mixture-table.ts), and (LOG_DENSITY)
// extra_div = sum_g c_g div s_g. Linear guidance and exact scores only (the parser's rule).
fn add_extra_groups(row_id: u32) {
  extra_div = 0.0;
  for (var g = 0u; g < NEXTRA; g++) {
    let c = statics[EXTRA_GAMMA_OFFSET + row_id * NEXTRA + g];
    if (c == 0.0 || !(group_x[g].sum > 0.0)) { continue; }
    var s2 = 0.0;
    for (var j = 0u; j < DIM; j++) {
      let sg = group_x[g].acc[j] / group_x[g].sum;
      s_guided[j] += c * sg;
      s2 += sg * sg;
    }
    if (LOG_DENSITY) { extra_div += c * (group_x[g].dacc / group_x[g].sum - s2); }
  }
}

// The extra groups' share of the guided data mean in coordinate j: sum_g c_g m_g[j].
fn extra_mean(j: u32, row_id: u32) -> f32 {
  var m = 0.0;
  for (var g = 0u; g < NEXTRA; g++) {
    m += statics[EXTRA_GAMMA_OFFSET + row_id * NEXTRA + g] * statics[EXTRA_MEAN_OFFSET + g * DIM + j];
  }
  return m;
}

// div s = sum_k r_k (lap_k + |g_k|^2) - |s|^2 per group, before any score error.
fn group_divergences() {
  var st2 = 0.0;
  var sn2 = 0.0;
  for (var j = 0u; j < DIM; j++) {
    st2 += s_t[j] * s_t[j];
    sn2 += s_n[j] * s_n[j];
  }
  div_t = group_t.dacc / group_t.sum - st2;
  div_n = 0.0;
  if (group_n.sum > 0.0) { div_n = group_n.dacc / group_n.sum - sn2; }
}

// Score-error models (src/model/score-error.ts): a bias vector and/or a random Fourier
// field e(x) = sum_f dir_f cos(omega_f . x + phase_f), parameters in `statics`.
fn score_error(j: u32) -> f32 {
  var e = 0.0;
  if (ERR_BIAS) { e += statics[ERR_OFFSET + j]; }
  return e;
}

fn add_field(to_target: bool) {
  for (var f = 0u; f < ERR_FEATURES; f++) {
    let o = ERR_OFFSET + f * (2u * DIM + 1u);
    var arg = statics[o + 2u * DIM];
    for (var i = 0u; i < DIM; i++) { arg += statics[o + i] * xs[i]; }
    let c = cos(arg);
    if (LOG_DENSITY) {
      // div of dir_f cos(omega_f . x + phase_f) = -sin(.) omega_f . dir_f.
      var od = 0.0;
      for (var i = 0u; i < DIM; i++) { od += statics[o + i] * statics[o + DIM + i]; }
      if (to_target) { div_t -= sin(arg) * od; } else { div_n -= sin(arg) * od; }
    }
    for (var i = 0u; i < DIM; i++) {
      if (to_target) { s_t[i] += c * statics[o + DIM + i]; } else { s_n[i] += c * statics[o + DIM + i]; }
    }
  }
}

fn add_score_error_target() {
  for (var j = 0u; j < DIM; j++) { s_t[j] += score_error(j); }
  if (ERR_FEATURES > 0u) { add_field(true); }
}

fn add_score_error_negative() {
  for (var j = 0u; j < DIM; j++) { s_n[j] += score_error(j); }
  if (ERR_FEATURES > 0u) { add_field(false); }
}

// negative_fit, combine_scores: shaders/lib/guided-score.wgsl.

// The Feynman-Kac corrector's em step (src/cpu/fk.ts step for step). A particle carries
// its drift and log q from the last evaluation (states: [drift[DIM], log q]), so that each
// dispatch moves it, then evaluates at the new point and time, and its weight is complete
// at the dispatch's end, when the host may resample. The initialising dispatch only
// evaluates at x_T. One step per dispatch; the factor window holds the evaluated row.
fn fk_dispatch(particle: u32, local: u32) {
  let base = local * FK_STATE_STRIDE;
  var log_w = 0.0;
  var log_q_old = 0.0;
  var correction = 0.0;
  var row_index = 0u;
  if (params.initialise != 0u) {
    var sq = 0.0;
    if (owns_particle) {
      for (var blk = 0u; blk * 4u < DIM; blk++) {
        let z = normal4(params.seed, particle, 0u, blk);
        for (var lane = 0u; lane < 4u && blk * 4u + lane < DIM; lane++) {
          let v = PRIOR_SCALE * z[lane];
          x[blk * 4u + lane] = v;
          sq += v * v;
        }
      }
    } else {
      for (var j = 0u; j < DIM; j++) { x[j] = 0.0; }
    }
    correction = sq / (2.0 * PRIOR_SCALE * PRIOR_SCALE); // - log prior, without its constant
  } else {
    let n = params.firstStep;
    row_index = n + 1u;
    if (owns_particle) {
      let row = rows[n];
      log_w = log_weights[local];
      log_q_old = states[base + DIM];
      var back2 = 0.0;
      var z2 = 0.0;
      for (var blk = 0u; blk * 4u < DIM; blk++) {
        let z = normal4(params.seed, particle, n + 1u, blk);
        for (var lane = 0u; lane < 4u && blk * 4u + lane < DIM; lane++) {
          let j = blk * 4u + lane;
          let xj = particles[local * DIM + j];
          let dx = row.h * states[base + j] + row.noiseScale * z[lane];
          // x - a x' as (1 - a) x - a dx: no cancellation.
          let back = row.backShrink * xj - (1.0 - row.backShrink) * dx;
          back2 += back * back;
          z2 += z[lane] * z[lane];
          x[j] = xj + dx;
        }
      }
      correction = 0.5 * z2 - row.backHalfPrecision * back2 - log_q_old;
    } else {
      for (var j = 0u; j < DIM; j++) { x[j] = 0.0; }
    }
  }
  for (var j = 0u; j < DIM; j++) { xs[j] = x[j]; }
  velocity(0u, rows[row_index], row_index, 0u);
  if (!owns_particle) { return; }
  for (var j = 0u; j < DIM; j++) {
    particles[local * DIM + j] = x[j];
    states[base + j] = k[0][j];
  }
  states[base + DIM] = log_q;
  log_weights[local] = log_w + log_q + correction;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(ids: GridIds) {
  let local = grid_invocation(ids);
  owns_particle = local < params.particleCount;
  lane_id = ids.lid;
  let particle = params.particleOffset + local;
  let base = local * DIM;
  if (FK) {
    fk_dispatch(particle, local);
    return;
  }

  if (!owns_particle) {
    for (var j = 0u; j < DIM; j++) { x[j] = 0.0; }
  } else if (params.initialise != 0u) {
    // x_T from stream 0 of the generator, as the CPU's initParticles.
    for (var blk = 0u; blk * 4u < DIM; blk++) {
      let z = normal4(params.seed, particle, 0u, blk);
      for (var lane = 0u; lane < 4u && blk * 4u + lane < DIM; lane++) {
        x[blk * 4u + lane] = PRIOR_SCALE * z[lane];
      }
    }
    for (var j = 0u; j < DIM; j++) { momentum[j] = 0.0; }
    if (LOG_DENSITY) { log_q_carried = prior_log_density(); }
  } else {
    for (var j = 0u; j < DIM; j++) { x[j] = particles[base + j]; }
    if (VARIANT == VARIANT_APG) {
      for (var j = 0u; j < DIM; j++) { momentum[j] = states[local * STATE_STRIDE + j]; }
    }
    if (LOG_DENSITY) { log_q_carried = log_weights[local]; }
  }
  // Histories: zero before the first step (whose history weights are 0), else as stored.
  for (var m = 0u; m < HISTORIES; m++) {
    for (var j = 0u; j < DIM; j++) {
      hist[m][j] = 0.0;
      if (owns_particle && params.firstStep != 0u) { hist[m][j] = states[local * STATE_STRIDE + HIST_OFFSET + m * DIM + j]; }
    }
  }
  if (DENOISED) {
    for (var s = 0u; s < params.stepCount; s++) { denoised_step(params.firstStep + s, s, particle); }
    store_particle(local, base);
    return;
  }

  var tableau_a = TABLEAU_A;
  var tableau_b = TABLEAU_B;
  for (var s = 0u; s < params.stepCount; s++) {
    let n = params.firstStep + s;
    let h = rows[n * STAGES].h;
    for (var i = 0u; i < STAGES; i++) {
      for (var j = 0u; j < DIM; j++) {
        var acc = x[j];
        for (var l = 0u; l < i; l++) { acc += h * tableau_a[i * STAGES + l] * k[l][j]; }
        xs[j] = acc;
      }
      velocity(i, rows[n * STAGES + i], n * STAGES + i, s * STAGES + i);
    }
    for (var j = 0u; j < DIM; j++) {
      var acc = 0.0;
      for (var i = 0u; i < STAGES; i++) { acc += tableau_b[i] * k[i][j]; }
      x[j] += h * acc;
    }
    // d log q / dt = -div u, through the same tableau weights (h signed).
    if (LOG_DENSITY) {
      var acc = 0.0;
      for (var i = 0u; i < STAGES; i++) { acc += tableau_b[i] * stage_div[i]; }
      log_q_carried -= h * acc;
    }
    if (STOCHASTIC && owns_particle) {
      let noise = rows[n * STAGES].noiseScale;
      for (var blk = 0u; blk * 4u < DIM; blk++) {
        let z = normal4(params.seed, particle, n + 1u, blk);
        for (var lane = 0u; lane < 4u && blk * 4u + lane < DIM; lane++) {
          x[blk * 4u + lane] += noise * z[lane];
        }
      }
    }
  }
  store_particle(local, base);
}

// Writes the particle and its carried state back (owning invocations only).
fn store_particle(local: u32, base: u32) {
  if (!owns_particle) { return; }
  for (var j = 0u; j < DIM; j++) { particles[base + j] = x[j]; }
  if (LOG_DENSITY) { log_weights[local] = log_q_carried; }
  if (VARIANT == VARIANT_APG) {
    for (var j = 0u; j < DIM; j++) { states[local * STATE_STRIDE + j] = momentum[j]; }
  }
  for (var m = 0u; m < HISTORIES; m++) {
    for (var j = 0u; j < DIM; j++) { states[local * STATE_STRIDE + HIST_OFFSET + m * DIM + j] = hist[m][j]; }
  }
}

// One step of a k-diffusion sampler (CpuStepper.stepDenoised; the recurrence and its
// coefficients: src/solvers/samplers.ts, in `statics` from SAMPLER_OFFSET). k[i] holds stage
// i's guided denoiser (the rows' cx, cs, cMean are the denoiser's). Called in uniform control
// flow: velocity() has the tile barriers.
fn denoised_step(n: u32, s: u32, particle: u32) {
  let c = SAMPLER_OFFSET + n * SAMPLER_STRIDE;
  let pre_x = statics[c];
  let pre_z = statics[c + 1u];
  let ax = statics[c + 2u];
  let az = statics[c + 3u];
  let bh = array<f32, 3>(statics[c + 4u], statics[c + 5u], statics[c + 12u]);
  let hx = statics[c + 10u];
  let hd = statics[c + 11u];
  let px1 = statics[c + 6u];
  let q10 = statics[c + 7u];
  let b = array<f32, 2>(statics[c + 8u], statics[c + 9u]);
  for (var j = 0u; j < DIM; j++) { z_step[j] = 0.0; }
  if ((pre_z != 0.0 || az != 0.0) && owns_particle) {
    for (var blk = 0u; blk * 4u < DIM; blk++) {
      let zz = normal4(params.seed, particle, n + 1u, blk);
      for (var lane = 0u; lane < 4u && blk * 4u + lane < DIM; lane++) { z_step[blk * 4u + lane] = zz[lane]; }
    }
  }
  for (var j = 0u; j < DIM; j++) { x[j] = pre_x * x[j] + pre_z * z_step[j]; }
  for (var i = 0u; i < STAGES; i++) {
    for (var j = 0u; j < DIM; j++) {
      xs[j] = x[j];
      if (i > 0u) { xs[j] = px1 * x[j] + q10 * k[0][j]; }
    }
    velocity(i, rows[n * STAGES + i], n * STAGES + i, s * STAGES + i);
  }
  for (var j = 0u; j < DIM; j++) {
    var acc = ax * x[j] + b[0] * k[0][j];
    for (var i = 1u; i < STAGES; i++) { acc += b[i] * k[i][j]; }
    for (var m = 0u; m < HISTORIES; m++) { acc += bh[m] * hist[m][j]; }
    // What this step pushes (x before its update): D_0, or lms's derivative.
    let pushed = hx * x[j] + hd * k[0][j];
    for (var m = HISTORIES; m > 1u; m--) { hist[m - 1u][j] = hist[m - 2u][j]; }
    if (HISTORIES > 0u) { hist[0][j] = pushed; }
    x[j] = acc + az * z_step[j];
  }
}

// log N(x; 0, PRIOR_SCALE^2 I), the density of the in-kernel start draw.
fn prior_log_density() -> f32 {
  var sq = 0.0;
  for (var j = 0u; j < DIM; j++) { sq += x[j] * x[j]; }
  return -0.5 * sq / (PRIOR_SCALE * PRIOR_SCALE) - f32(DIM) * (LOG_SQRT_2PI + log(PRIOR_SCALE));
}

#if CLASSIFIER
#include "classifier"
#else
fn add_classifier_guidance(row_id: u32) {} // no trained classifier
#endif

#if DENOISER
#include "denoiser"
#else
fn apply_learned_scores(row_id: u32, gamma_negative: f32) {} // no learned denoiser
#endif
