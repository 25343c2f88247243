// The fast path's one-particle layout: the same mathematics, operation for operation, as
// shaders/step-gauss4.wgsl (diagonal or isotropic Gaussians, linear guidance or cfgpp, no score
// error, DIM <= 4), for adapters where step-gauss4's lanes are slow (SwiftShader, Chrome's
// software adapter). One particle per invocation, its coordinates in one value of the generated
// type `coords` (f32 for DIM = 1, else vecDIM<f32>), all state in function-local values, no helper state in module scope, the online
// log-sum-exp branch-free. Same bindings and tables as step-gauss4; a kernel variant of
// src/gpu/variants.ts, chosen per adapter by the autotuner there.
//
// Why (measured in Chromium 156, SwiftShader, standard workload, see docs/benchmarks.md):
// SwiftShader's JIT keeps private and function-local arrays in memory whenever they are
// indexed by a loop counter, and step-gauss4's per-coordinate arrays (x, xs, k, the weighted
// scores) are, on every component; and it runs a vec4 as four SIMD operations across the
// invocations, so four particles per invocation are no cheaper per particle than one. A coords
// value stays in registers and costs DIM operations.
//
// The host prepends the generated header (src/gpu/kernel.ts) with the declarations of bindings
// 1-4 (gauss4TableBindings, LANES = 1); the generator and the normal helpers are included below.

#include "philox"
#include "normal"
#include "lib/grid"
#include "lib/log-sum-exp"

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(5) var<storage, read_write> particles: array<f32>;

// IN_TARGET, IN_NEGATIVE: the header (src/gpu/codes.ts).
const LOG_ZERO: f32 = -1.0e30;

// coords (f32, vec2, vec3 or vec4 for DIM = 1..4) and its helpers (load_factors, load_statics,
// quadratic, from_normal4, load_particle, store_particle): the header (kernel.ts, gauss1Coords).

// One group's online log-sum-exp (shaders/lib/log-sum-exp.wgsl; mixture-lanes.wgsl's GroupSum as
// a value: running max, sum and weighted score), and the target's and the negative's.
struct Group {
  max: f32,
  sum: f32,
  acc: coords,
}

struct Lse {
  t: Group,
  n: Group,
}

// One component's log-density (without its weight) and score at xs, for table row entry `entry`.
struct Term {
  logp: f32,
  score: coords,
}

fn component_term(entry: u32, xs: coords) -> Term {
  let base = entry * FACTOR_STRIDE;
  let r = xs - load_factors(base + 2u + DIM);
  let q = r * load_factors(base + 2u);
  return Term(quadratic(factor(base), r, q), -q);
}

// Adds the term at log-weight log_w (lse_scale's rule, shaders/lib/log-sum-exp.wgsl).
fn group_added(g: Group, log_w: f32, t: Term) -> Group {
  let v = log_w + t.logp;
  let f = lse_scale(g.max, v);
  return Group(max(g.max, v), g.sum * f.keep + f.add, g.acc * f.keep + t.score * f.add);
}

fn add_target(s: Lse, c: u32, t: Term) -> Lse {
  return Lse(group_added(s.t, components[c].logWeightTarget, t), s.n);
}

fn add_negative(s: Lse, c: u32, t: Term) -> Lse {
  return Lse(s.t, group_added(s.n, components[c].logWeightNegative, t));
}

// NEG_FROM_TARGET: the negative group starts from the target's sums at the fixed log-weight shift.
fn negative_from_target(s: Lse) -> Lse {
  return Lse(s.t, Group(s.t.max + NEG_TARGET_SHIFT, s.t.sum, s.t.acc));
}

// walk_components(s, first_entry, xs): the header (kernel.ts, gauss1Walk), the components in
// order, one call each with a constant component index and the groups of each entry (its mask)
// fixed, so that the component infos are read at constant offsets (SwiftShader loads those once
// per SIMD batch, not lane by lane) and no mask is tested. Past GAUSS1_UNROLL components, this loop.
fn walk_loop(s_in: Lse, first_entry: u32, xs: coords) -> Lse {
  var s = s_in;
  for (var c = 0u; c < NCOMP; c++) {
    if (NEG_FROM_TARGET && c == NTARGET) { s = negative_from_target(s); }
    let t = component_term(first_entry + c, xs);
    if ((components[c].mask & IN_TARGET) != 0u) { s = add_target(s, c, t); }
    if ((components[c].mask & IN_NEGATIVE) != 0u) { s = add_negative(s, c, t); }
  }
  if (NEG_FROM_TARGET && NTARGET == NCOMP) { s = negative_from_target(s); }
  return s;
}

// The guided velocity at xs for table row `row_index` (step * STAGES + stage of this window): one
// online log-sum-exp per group over the components.
fn velocity(row_index: u32, xs: coords, mean_t: coords, mean_n: coords) -> coords {
  // A pointer, not a copy: SwiftShader loads a whole struct value field by field, lane by lane.
  let row = &rows[row_index].row;
  let empty = Group(LOG_ZERO, 0.0, coords(0.0));
  let lse = walk_components(Lse(empty, empty), row_index * NCOMP, xs);
  let gt = (*row).gammaTarget / lse.t.sum;
  let gn = select(0.0, (*row).gammaNegative / lse.n.sum, lse.n.sum > 0.0);
  let s = gt * lse.t.acc + gn * lse.n.acc;
  let mean = (*row).gammaTarget * mean_t + (*row).gammaNegative * mean_n;
  return (*row).cx * xs + (*row).cs * s + (*row).cMean * mean;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(ids: GridIds) {
  let local = grid_invocation(ids);
  if (local >= params.particleCount) { return; }

  var x: coords;
  if (params.initialise != 0u) {
    x = PRIOR_SCALE * from_normal4(normal4(params.seed, params.particleOffset + local, 0u, 0u));
  } else {
    x = load_particle(local);
  }

  var tableau_a = TABLEAU_A;
  var tableau_b = TABLEAU_B;
  var k: array<coords, STAGES>;
  let mean_t = load_statics(0u);
  let mean_n = load_statics(DIM);
  for (var step = 0u; step < params.stepCount; step++) {
    let n = params.firstStep + step;
    let h = rows[step * STAGES].row.h;
    var acc = coords(0.0);
    if (STAGES == 1u) {
      // One stage (euler, em): no stage arrays, which SwiftShader would keep in memory.
      acc += TABLEAU_B[0] * velocity(step, x, mean_t, mean_n);
    } else {
      for (var i = 0u; i < STAGES; i++) {
        var xs = x;
        for (var l = 0u; l < i; l++) { xs += h * tableau_a[i * STAGES + l] * k[l]; }
        k[i] = velocity(step * STAGES + i, xs, mean_t, mean_n);
      }
      for (var i = 0u; i < STAGES; i++) { acc += tableau_b[i] * k[i]; }
    }
    x += h * acc;
    if (STOCHASTIC) {
      x += rows[step * STAGES].row.noiseScale * from_normal4(normal4(params.seed, params.particleOffset + local, n + 1u, 0u));
    }
  }
  store_particle(local, x);
}
