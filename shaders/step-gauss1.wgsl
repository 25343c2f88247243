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
// 1-4 (gauss4TableBindings, LANES = 1), philox.wgsl and normal.wgsl.

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(5) var<storage, read_write> particles: array<f32>;

// IN_TARGET, IN_NEGATIVE: the header (src/gpu/codes.ts).
const LOG_ZERO: f32 = -1.0e30;

// coords (f32, vec2, vec3 or vec4 for DIM = 1..4) and its helpers (load_factors, load_statics,
// quadratic, from_normal4, load_particle, store_particle): the header (kernel.ts, gauss1Coords).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let local = (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid;
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
    for (var i = 0u; i < STAGES; i++) {
      var xs = x;
      for (var l = 0u; l < i; l++) { xs += h * tableau_a[i * STAGES + l] * k[l]; }
      // The guided velocity at xs: one online log-sum-exp per group over the components.
      // Pointers, not copies: SwiftShader loads a whole struct value field by field, lane by lane.
      let row = &rows[step * STAGES + i].row;
      let factor_row = step * STAGES + i;
      var max_t = LOG_ZERO;
      var sum_t = 0.0;
      var acc_t = coords(0.0);
      var max_n = LOG_ZERO;
      var sum_n = 0.0;
      var acc_n = coords(0.0);
      for (var c = 0u; c < NCOMP; c++) {
        if (NEG_FROM_TARGET && c == NTARGET) {
          max_n = max_t + NEG_TARGET_SHIFT;
          sum_n = sum_t;
          acc_n = acc_t;
        }
        let info = &components[c];
        let base = (factor_row * NCOMP + c) * FACTOR_STRIDE;
        let r = xs - load_factors(base + 2u + DIM);
        let q = r * load_factors(base + 2u);
        let logp = quadratic(factor(base), r, q);
        let score = -q;
        if (((*info).mask & IN_TARGET) != 0u) {
          let v = (*info).logWeightTarget + logp;
          let d = v - max_t;
          let e = exp(-abs(d));
          let up = d > 0.0;
          sum_t = select(sum_t + e, sum_t * e + 1.0, up);
          acc_t = select(acc_t + e * score, acc_t * e + score, up);
          max_t = max(max_t, v);
        }
        if (((*info).mask & IN_NEGATIVE) != 0u) {
          let v = (*info).logWeightNegative + logp;
          let d = v - max_n;
          let e = exp(-abs(d));
          let up = d > 0.0;
          sum_n = select(sum_n + e, sum_n * e + 1.0, up);
          acc_n = select(acc_n + e * score, acc_n * e + score, up);
          max_n = max(max_n, v);
        }
      }
      if (NEG_FROM_TARGET && NTARGET == NCOMP) {
        max_n = max_t + NEG_TARGET_SHIFT;
        sum_n = sum_t;
        acc_n = acc_t;
      }
      let gt = (*row).gammaTarget / sum_t;
      let gn = select(0.0, (*row).gammaNegative / sum_n, sum_n > 0.0);
      let s = gt * acc_t + gn * acc_n;
      let mean = (*row).gammaTarget * mean_t + (*row).gammaNegative * mean_n;
      k[i] = (*row).cx * xs + (*row).cs * s + (*row).cMean * mean;
    }
    var acc = coords(0.0);
    for (var i = 0u; i < STAGES; i++) { acc += tableau_b[i] * k[i]; }
    x += h * acc;
    if (STOCHASTIC) {
      x += rows[step * STAGES].row.noiseScale * from_normal4(normal4(params.seed, params.particleOffset + local, n + 1u, 0u));
    }
  }
  store_particle(local, x);
}
