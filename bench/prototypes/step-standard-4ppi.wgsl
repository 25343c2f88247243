// PROTOTYPE, not used by the sampler: a hand-specialised step kernel for the standard
// workload only (DIM = 1, the 4 components of bench/workloads.ts standardWorkload, their
// log-weights as constants), written to measure on lavapipe what the kernel changes of issue 7
// are worth (see the bench report). It replaces shaders/step.wgsl after the generated header,
// philox.wgsl and normal.wgsl (bindings as in 329759c), and needs two host changes:
//   - dispatch ceil(count / 4) invocations (each owns 4 consecutive particles, as one vec4);
//   - rows and factors bound as uniform buffers (usage UNIFORM, >= 64 KiB each).
// What it does differently from shaders/step.wgsl:
//   1. 4 particles per invocation (a vec4 per coordinate): the per-step table loads, which
//      lavapipe executes lane by lane (their index comes from the loop counter, which gallivm
//      never treats as uniform), are shared by 4 particles; 4 independent chains per lane.
//   2. Component structure at compile time: no kind/mask branches, component loop unrolled.
//   3. Two-pass log-sum-exp (log-densities of all components, then max, then ONE exp per
//      group entry), no data-dependent branches.
//   4. No early return: the step loop stays in uniform control flow.
// Measured (lavapipe, 2 cores, 2^18 particles x 100 steps, same busy machine, round-robin):
// shaders/step.wgsl at 329759c ~34 M, this file ~110-150 M particle-steps per 2 CPU-seconds;
// results agree with the current kernel to 3e-5.
const LWT = array<f32, 2>(-0.6931472, -0.6931472);
const LWN = array<f32, 4>(-1.3862944, -1.3862944, -1.89712, -1.0498221);

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<uniform> rows_u: array<vec4<f32>, 4096>;
@group(0) @binding(2) var<uniform> factors_u: array<vec4<f32>, 4096>;
fn factor(i: u32) -> f32 { return factors_u[i >> 2u][i & 3u]; }
fn rowf(i: u32) -> f32 { return rows_u[i >> 2u][i & 3u]; }
fn row_at(r: u32) -> StepRow {
  let b = r * 10u;
  return StepRow(rowf(b), rowf(b + 1u), rowf(b + 2u), rowf(b + 3u), rowf(b + 4u), rowf(b + 5u), rowf(b + 6u), rowf(b + 7u), rowf(b + 8u), rowf(b + 9u));
}
@group(0) @binding(3) var<storage, read> components: array<ComponentInfo>;
// [target data mean (DIM), negative data mean (DIM), ...]
@group(0) @binding(4) var<storage, read> statics: array<f32>;
@group(0) @binding(5) var<storage, read_write> particles: array<f32>;


const PPI: u32 = 4u; // particles per invocation (DIM = 1 only: one vec4 holds them)

// (For a component count not known in advance, the one-pass alternative to the two passes
// below is branchless, still one exp per entry: d = v - m; e = exp(-|d|);
// sum = select(sum + e, sum * e + 1, d > 0); acc likewise; m = max(m, v).)

fn velocity4(row: StepRow, xs: vec4<f32>, s_idx: u32) -> vec4<f32> {
  // Two passes (NCOMP is a compile-time constant): log-densities and scores of every
  // component, then per group the max and ONE exp per entry.
  var lp: array<vec4<f32>, 4>;
  var sc: array<vec4<f32>, 4>;
  for (var c = 0u; c < 4u; c++) {
    let base = (s_idx * NCOMP + c) * FACTOR_STRIDE;
    let r = xs - factor(base + 2u);
    let q = r * factor(base + 1u);
    lp[c] = factor(base) - 0.5 * r * q;
    sc[c] = -q;
  }
  let mt = max(lp[0] + LWT[0], lp[1] + LWT[1]);
  var mn = lp[0] + LWN[0];
  for (var c = 1u; c < 4u; c++) { mn = max(mn, lp[c] + LWN[c]); }
  var st = vec4<f32>(0.0); var at = vec4<f32>(0.0);
  var sn = vec4<f32>(0.0); var an = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (c < 2u) {
      let e = exp(lp[c] + LWT[c] - mt);
      st += e; at += e * sc[c];
    }
    let e = exp(lp[c] + LWN[c] - mn);
    sn += e; an += e * sc[c];
  }
  let s = (row.gammaTarget / st) * at + (row.gammaNegative / sn) * an;
  let mean = row.gammaTarget * statics[0] + row.gammaNegative * statics[1];
  return row.cx * xs + row.cs * s + row.cMean * mean;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let inv = (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid;
  let first = inv * PPI;
  var x4 = vec4<f32>(0.0);
  for (var p = 0u; p < PPI; p++) {
    let local = min(first + p, params.particleCount - 1u);
    if (params.initialise != 0u) {
      x4[p] = PRIOR_SCALE * normal4(params.seed, params.particleOffset + local, 0u, 0u).x;
    } else {
      x4[p] = particles[local];
    }
  }
  _ = components[0]; // keeps binding 3 in the auto layout
  for (var s = 0u; s < params.stepCount; s++) {
    let n = params.firstStep + s;
    let row = row_at(n);
    x4 += row.h * velocity4(row, x4, s);
  }
  for (var p = 0u; p < PPI; p++) {
    if (first + p < params.particleCount) { particles[first + p] = x4[p]; }
  }
}
