// The heavy-mixture step kernel: hundreds to thousands of full-covariance Gaussian components
// (e.g. edm2's 2-D tree, 2032 of them) in 2 to 4 dimensions. Mirrors CpuStepper in
// src/cpu/reference.ts step for step, like shaders/step.wgsl, for the case that dominates there:
// Gaussian components only, linear guidance, a tableau solver, no score error, no corrector,
// log-density or classifier (the host, src/gpu/heavy.ts, sends everything else to the general
// kernel).
//
// What makes it fast with many components:
//   - On a GPU (and SwiftShader), components are tiled through workgroup memory: the workgroup
//     copies a tile of the per-step table once, together, and every invocation of the workgroup
//     reads it from there. On llvmpipe (lavapipe) each stage's rows come from a uniform binding
//     of their own instead (HEAVY_UNIFORM_ROWS): llvmpipe loads workgroup memory in a loop lane
//     by lane, with a branch per lane, and a uniform value as a straight gather (1.15-1.3x per
//     CPU-second on edm2's tree).
//   - Each invocation owns GROUPS sets of four particles, each set the columns of a mat4xD (Pts),
//     so that one read of a component's factors serves 4 GROUPS evaluations, all in native vector
//     and matrix operations (the loops over sets have constant bounds; no private array is indexed
//     by the component loop: a CPU adapter such as lavapipe would access it lane by lane).
//   - Per (row, component) the host computes, once, in f64 (src/gpu/heavy.ts): the noised mean
//     alpha m, the precision P = W^T W of the noised covariance alpha^2 S + sigma^2 I = L L^T
//     (W = L^-1, from its Cholesky factor L), and the component's log-weight plus log-normaliser,
//     lw - sum_i log L_ii - DIM log sqrt(2 pi). A component is then R = X - alpha m,
//     log p = lw' - R . P R / 2, score -P R: 2 DIM^2 + DIM multiply-adds per particle (measured
//     about 1.2x faster per CPU-second than W R, |W R|^2, -W^T (W R) on lavapipe).
//   - The group's log-sum-exp runs online and branch-free with one exp per component and
//     particle (the rule of shaders/lib/log-sum-exp.wgsl, with lanes = vec4<f32>: four
//     particles), so that it never overflows or underflows however far a particle is from the
//     mixture.
//
// The host prepends the header of src/gpu/kernel.ts (DIM, STAGES, WORKGROUP_SIZE, STOCHASTIC,
// PRIOR_SCALE, NEG_FROM_TARGET, NEG_TARGET_SHIFT, TABLEAU_A/B, StepRow, StepParams) and the heavy
// header (src/gpu/heavy.ts: the aliases VecD, MatD, Pts, lanes, the struct HeavyEntry { w: P,
// shift, lw }, GROUPS, HEAVY_TARGET, HEAVY_NEGATIVE, HEAVY_TILE, HEAVY_UNIFORM_ROWS, and with
// uniform rows the stage bindings and walk_uniform); this file includes shaders/philox.wgsl,
// shaders/normal.wgsl and shaders/lib/ (src/gpu/program.ts, shaderText).
//
// factors: per window row r = s * STAGES + i (step s of the window, stage i), the target group's
// HEAVY_TARGET entries, then the negative group's HEAVY_NEGATIVE, at r * HEAVY_ENTRIES + e. With
// uniform rows, stage i's binding holds its rows of the window, s * HEAVY_ENTRIES + e.

#include "philox"
#include "normal"
#include "lib/grid"
#include "lib/log-sum-exp"

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<storage, read> rows: array<StepRow>;
@group(0) @binding(2) var<storage, read> factors: array<HeavyEntry>;
// [target data mean (DIM), negative data mean (DIM), ...] (src/gpu/mixture-table.ts).
@group(0) @binding(4) var<storage, read> statics: array<f32>;
@group(0) @binding(5) var<storage, read_write> particles: array<f32>;

const LOG_ZERO: f32 = -1.0e30; // stands in for log 0: WGSL may assume no infinities
const HEAVY_ENTRIES: u32 = HEAVY_TARGET + HEAVY_NEGATIVE;
const LANES: u32 = 4u * GROUPS; // particles per invocation: GROUPS sets of four, the columns of a Pts

var<workgroup> tile: array<HeavyEntry, HEAVY_TILE>;

var<private> lane_id: u32;
var<private> x: array<Pts, GROUPS>;
var<private> xs: array<Pts, GROUPS>;
var<private> k: array<array<Pts, GROUPS>, STAGES>;
// The current group's online log-sum-exp, one lane per particle: running max, sum, and the
// score sum (column i for particle i).
var<private> lse_max: array<vec4<f32>, GROUPS>;
var<private> lse_sum: array<vec4<f32>, GROUPS>;
var<private> lse_acc: array<Pts, GROUPS>;

fn add_entry(e: HeavyEntry) {
  for (var gi = 0u; gi < GROUPS; gi++) { add_entry_to(e, gi); }
}

// Adds tile entry e to the online log-sum-exp of particle set gi (four particles).
fn add_entry_to(e: HeavyEntry, gi: u32) {
  let p = xs[gi];
  let r = Pts(p[0] - e.shift, p[1] - e.shift, p[2] - e.shift, p[3] - e.shift);
  let g = e.w * r; // P r, minus the score: the sums below subtract it
  let q = vec4<f32>(dot(r[0], g[0]), dot(r[1], g[1]), dot(r[2], g[2]), dot(r[3], g[3]));
  let v = e.lw - 0.5 * q;
  let f = lse_scale(lse_max[gi], v);
  lse_sum[gi] = lse_sum[gi] * f.keep + f.add;
  let acc = lse_acc[gi];
  lse_acc[gi] = Pts(
    acc[0] * f.keep.x - g[0] * f.add.x,
    acc[1] * f.keep.y - g[1] * f.add.y,
    acc[2] * f.keep.z - g[2] * f.add.z,
    acc[3] * f.keep.w - g[3] * f.add.w,
  );
  lse_max[gi] = max(lse_max[gi], v);
}

// Walks entries [e0, e1) of step s's row of stage `stage` in the dispatch's window: from the
// stage's uniform binding (HEAVY_UNIFORM_ROWS, src/gpu/heavy.ts), else a tile at a time through
// workgroup memory. Called in uniform control flow by every invocation: the tile loads have
// barriers.
fn walk(e0: u32, e1: u32, s: u32, stage: u32) {
  if (HEAVY_UNIFORM_ROWS) {
    walk_uniform(stage, s * HEAVY_ENTRIES + e0, s * HEAVY_ENTRIES + e1);
    return;
  }
  let factor_row = s * STAGES + stage;
  for (var t0 = e0; t0 < e1; t0 += HEAVY_TILE) {
    let n = min(HEAVY_TILE, e1 - t0);
    let src = factor_row * HEAVY_ENTRIES + t0;
    workgroupBarrier();
    for (var i = lane_id; i < n; i += WORKGROUP_SIZE) { tile[i] = factors[src + i]; }
    workgroupBarrier();
    for (var c = 0u; c < n; c++) { add_entry(tile[c]); }
  }
}

fn group_score(gi: u32) -> Pts {
  let inv = 1.0 / lse_sum[gi];
  let acc = lse_acc[gi];
  return Pts(acc[0] * inv.x, acc[1] * inv.y, acc[2] * inv.z, acc[3] * inv.w);
}

fn reset_groups() {
  for (var gi = 0u; gi < GROUPS; gi++) {
    lse_max[gi] = vec4<f32>(LOG_ZERO);
    lse_sum[gi] = vec4<f32>(0.0);
    lse_acc[gi] = Pts();
  }
}

// k[stage] = cx xs + cs s + cMean (guided data mean), s = gammaTarget s_t + gammaNegative s_n.
fn velocity(stage: u32, row: StepRow, s: u32) {
  reset_groups();
  walk(0u, HEAVY_TARGET, s, stage);
  var score: array<Pts, GROUPS>;
  for (var gi = 0u; gi < GROUPS; gi++) { score[gi] = row.gammaTarget * group_score(gi); }
  // The negative group: with NEG_FROM_TARGET (cfg against the unconditional law, classifier
  // guidance) it holds the whole target at a fixed log-weight shift, so its sums start from the
  // target's.
  if (NEG_FROM_TARGET) {
    for (var gi = 0u; gi < GROUPS; gi++) { lse_max[gi] += vec4<f32>(NEG_TARGET_SHIFT); }
  } else {
    reset_groups();
  }
  if (HEAVY_NEGATIVE > 0u) { walk(HEAVY_TARGET, HEAVY_ENTRIES, s, stage); }
  if ((NEG_FROM_TARGET || HEAVY_NEGATIVE > 0u) && row.gammaNegative != 0.0) {
    for (var gi = 0u; gi < GROUPS; gi++) { score[gi] += row.gammaNegative * group_score(gi); }
  }
  var mean: VecD;
  for (var j = 0u; j < DIM; j++) { mean[j] = row.gammaTarget * statics[j] + row.gammaNegative * statics[DIM + j]; }
  let means = Pts(mean, mean, mean, mean);
  for (var gi = 0u; gi < GROUPS; gi++) { k[stage][gi] = row.cx * xs[gi] + row.cs * score[gi] + row.cMean * means; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(ids: GridIds) {
  let invocation = grid_invocation(ids);
  let first = invocation * LANES;
  lane_id = ids.lid;
  // Spare lanes (past the chunk's end) step the origin: they only keep the barriers company.
  for (var gi = 0u; gi < GROUPS; gi++) { x[gi] = Pts(); }
  for (var p = 0u; p < LANES; p++) {
    let local = first + p;
    if (local >= params.particleCount) { continue; }
    if (params.initialise != 0u) {
      // x_T from stream 0 of the generator, as the CPU's initParticles.
      for (var blk = 0u; blk * 4u < DIM; blk++) {
        let z = normal4(params.seed, params.particleOffset + local, 0u, blk);
        for (var l = 0u; l < 4u && blk * 4u + l < DIM; l++) { x[p / 4u][p % 4u][blk * 4u + l] = PRIOR_SCALE * z[l]; }
      }
    } else {
      for (var j = 0u; j < DIM; j++) { x[p / 4u][p % 4u][j] = particles[local * DIM + j]; }
    }
  }

  var tableau_a = TABLEAU_A;
  var tableau_b = TABLEAU_B;
  for (var s = 0u; s < params.stepCount; s++) {
    let n = params.firstStep + s;
    let h = rows[n * STAGES].h;
    for (var i = 0u; i < STAGES; i++) {
      for (var gi = 0u; gi < GROUPS; gi++) {
        xs[gi] = x[gi];
        for (var l = 0u; l < i; l++) { xs[gi] += (h * tableau_a[i * STAGES + l]) * k[l][gi]; }
      }
      velocity(i, rows[n * STAGES + i], s);
    }
    for (var gi = 0u; gi < GROUPS; gi++) {
      var acc = Pts();
      for (var i = 0u; i < STAGES; i++) { acc += tableau_b[i] * k[i][gi]; }
      x[gi] += h * acc;
    }
    if (STOCHASTIC) {
      let noise = rows[n * STAGES].noiseScale;
      for (var p = 0u; p < LANES; p++) {
        let local = first + p;
        if (local >= params.particleCount) { continue; }
        for (var blk = 0u; blk * 4u < DIM; blk++) {
          let z = normal4(params.seed, params.particleOffset + local, n + 1u, blk);
          for (var l = 0u; l < 4u && blk * 4u + l < DIM; l++) { x[p / 4u][p % 4u][blk * 4u + l] += noise * z[l]; }
        }
      }
    }
  }
  for (var p = 0u; p < LANES; p++) {
    let local = first + p;
    if (local >= params.particleCount) { continue; }
    for (var j = 0u; j < DIM; j++) { particles[local * DIM + j] = x[p / 4u][p % 4u][j]; }
  }
}
