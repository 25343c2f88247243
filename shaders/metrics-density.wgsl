// Per-particle metrics that need the target's density, binned on the GPU over a chunk of
// particles (src/gpu/density-metrics.ts). For every finite particle x:
//   L(x) = coefA log p_A(x) + coefB log p_B(x) - logShift   (the target's normalised log-density
//          at tMin: p_A the target class or p(x), p_B the guidance's negative for the tilted law)
//   r_k(x) = w_k p_k(x) / p_A(x), the posterior responsibility of each of p_A's components
// and it accumulates
//   partials (f32 per workgroup, added in f64 on the host): sum_k r_k (soft occupancy), and per
//          projection j, sum (u_j.x - c_j) and sum (u_j.x - c_j)^2 (moments about the exact mean)
//   counters (u32 atomics): finite, nonFinite, argmax_k r_k (hard occupancy), L > level_l (HDR),
//          inside any support box, h_m.x > b_m (half-spaces).
//
// The host prepends a generated header with the component codes (src/gpu/codes.ts), DIM, NCOMP,
// NOCC, NPROJ, NLEV, NBOX, NHALF, NQ, FACTOR_STRIDE, WG, HAS_UNIFORM, HAS_FULL, LOG_DENSITY and
// the struct MetricComponent. The component log-densities are the step kernel's
// (component_log_density in shaders/lib/mixture.wgsl), on one row of factors at tMin laid out as
// the step kernel's, with the eigenbases in `statics` where it has them.

#include "normal"
#include "lib/mixture"

struct MetricParams {
  count: u32,
  threads: u32,
  coefA: f32,
  coefB: f32,
  logShift: f32,
  invSigma: f32,
  _pad0: f32,
  _pad1: f32,
}

@group(0) @binding(0) var<uniform> params: MetricParams;
@group(0) @binding(1) var<storage, read> particles: array<f32>;
@group(0) @binding(2) var<storage, read> factors: array<f32>;
@group(0) @binding(3) var<storage, read> comps: array<MetricComponent>;
// [2 DIM unused (the step kernel's group means), eigenbases NCOMP x DIM x DIM (zero for diagonal components)]
@group(0) @binding(4) var<storage, read> statics: array<f32>;
// [proj vectors NPROJ x DIM, proj centres NPROJ, HDR levels NLEV, boxes NBOX x (low DIM, high DIM),
//  half-spaces NHALF x (h DIM, b)]
@group(0) @binding(5) var<storage, read> regions: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;
@group(0) @binding(7) var<storage, read_write> counters: array<atomic<u32>>;

const LOG_ZERO: f32 = -1.0e30;
// The target's (A) and the second law's (B) log-sum-exps (GroupSum: shaders/lib/mixture-lanes.wgsl).
var<private> group_a: GroupSum;
var<private> group_b: GroupSum;

const OFF_CENTRES: u32 = NPROJ * DIM;
const OFF_LEVELS: u32 = OFF_CENTRES + NPROJ;
const OFF_BOXES: u32 = OFF_LEVELS + NLEV;
const OFF_HALF: u32 = OFF_BOXES + NBOX * 2u * DIM;

const C_FINITE: u32 = 0u;
const C_NONFINITE: u32 = 1u;
const C_HARD: u32 = 2u;
const C_LEVELS: u32 = C_HARD + NOCC;
const C_INSIDE: u32 = C_LEVELS + NLEV;
const C_HALF: u32 = C_INSIDE + 1u;

var<private> xs: array<f32, DIM>;
// The library's factor reader (never staged here: factors are read from storage).
fn factor_at(i: u32, staged: bool) -> f32 { return factors[i]; }
var<private> lpa: array<f32, NOCC>;
var<private> acc: array<f32, NQ>;
var<private> hard: array<u32, NOCC>;
var<private> levels: array<u32, max(NLEV, 1u)>;
var<private> half: array<u32, max(NHALF, 1u)>;
var<workgroup> scratch: array<f32, WG>;

fn isFiniteBits(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
) {
  for (var q = 0u; q < NQ; q++) { acc[q] = 0.0; }
  for (var k = 0u; k < NOCC; k++) { hard[k] = 0u; }
  for (var l = 0u; l < NLEV; l++) { levels[l] = 0u; }
  for (var m = 0u; m < NHALF; m++) { half[m] = 0u; }
  var finite_count = 0u;
  var nonfinite_count = 0u;
  var inside_count = 0u;

  for (var p = wid.x * WG + lid; p < params.count; p += params.threads) {
    var finite = true;
    for (var j = 0u; j < DIM; j++) {
      xs[j] = particles[p * DIM + j];
      finite = finite && isFiniteBits(xs[j]);
    }
    if (!finite) {
      nonfinite_count++;
      continue;
    }
    finite_count++;

    group_reset(&group_a);
    group_reset(&group_b);
    for (var c = 0u; c < NCOMP; c++) {
      let info = comps[c];
      let lp = component_log_density(c, info.kind, c * FACTOR_STRIDE, false);
      if ((info.mask & IN_TARGET) != 0u) {
        let v = info.logWeightA + lp;
        lpa[info.slot] = v;
        group_add(&group_a, v);
      }
      if ((info.mask & IN_NEGATIVE) != 0u) { group_add(&group_b, info.logWeightB + lp); }
    }
    let log_a = group_log_density(&group_a);
    var big = params.coefA * log_a - params.logShift;
    if (params.coefB != 0.0) { big += params.coefB * group_log_density(&group_b); }

    var best = 0u;
    for (var k = 0u; k < NOCC; k++) {
      acc[k] += exp(lpa[k] - log_a);
      if (lpa[k] > lpa[best]) { best = k; }
    }
    hard[best]++;
    for (var l = 0u; l < NLEV; l++) {
      if (big > regions[OFF_LEVELS + l]) { levels[l]++; }
    }
    var inside = false;
    for (var bx = 0u; bx < NBOX; bx++) {
      var in_box = true;
      let o = OFF_BOXES + bx * 2u * DIM;
      for (var j = 0u; j < DIM; j++) {
        in_box = in_box && xs[j] > regions[o + j] && xs[j] < regions[o + DIM + j];
      }
      inside = inside || in_box;
    }
    if (inside) { inside_count++; }
    for (var m = 0u; m < NHALF; m++) {
      let o = OFF_HALF + m * (DIM + 1u);
      var s = 0.0;
      for (var j = 0u; j < DIM; j++) { s += regions[o + j] * xs[j]; }
      if (s > regions[o + DIM]) { half[m]++; }
    }
    for (var pj = 0u; pj < NPROJ; pj++) {
      var s = 0.0;
      for (var j = 0u; j < DIM; j++) { s += regions[pj * DIM + j] * xs[j]; }
      let v = s - regions[OFF_CENTRES + pj];
      acc[NOCC + 2u * pj] += v;
      acc[NOCC + 2u * pj + 1u] += v * v;
    }
  }

  if (finite_count > 0u) { atomicAdd(&counters[C_FINITE], finite_count); }
  if (nonfinite_count > 0u) { atomicAdd(&counters[C_NONFINITE], nonfinite_count); }
  if (inside_count > 0u) { atomicAdd(&counters[C_INSIDE], inside_count); }
  for (var k = 0u; k < NOCC; k++) { if (hard[k] > 0u) { atomicAdd(&counters[C_HARD + k], hard[k]); } }
  for (var l = 0u; l < NLEV; l++) { if (levels[l] > 0u) { atomicAdd(&counters[C_LEVELS + l], levels[l]); } }
  for (var m = 0u; m < NHALF; m++) { if (half[m] > 0u) { atomicAdd(&counters[C_HALF + m], half[m]); } }

  // Each partial sum over the workgroup: lane 0 adds the 64 values (a tree reduction inside this
  // loop compiles about 5x slower on lavapipe, for no measurable gain).
  for (var q = 0u; q < NQ; q++) {
    scratch[lid] = acc[q];
    workgroupBarrier();
    if (lid == 0u) {
      var s = 0.0;
      for (var i = 0u; i < WG; i++) { s += scratch[i]; }
      partials[wid.x * NQ + q] = s;
    }
    workgroupBarrier();
  }
}
