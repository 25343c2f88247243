// Learned denoisers for the general step kernel (shaders/step.wgsl calls apply_learned_scores
// from velocity(), after the exact group scores s_t, s_n are formed and before the score errors):
// a slot's learned score replaces the exact one,
//     s = kx xs + kF F([a xs, c_noise]),
// F the model's MLP (SiLU hidden layers, linear output), the per-row constants (a, c_noise, kx, kF)
// computed on the host in f64 (src/model/denoiser/denoiser.ts, denoiserCoefficients). Mirrors
// Denoiser.scoreWith and Network.forward operation for operation.
//
// The host prepends the DEN_* constants (src/gpu/denoiser.ts, from its DenoiserLayout): which
// slots have a model, the layer table (nIn, nOut, W offset, b offset), the widest layer, where the
// rows start. Slot codes DEN_SLOT_*: the kernel header (src/gpu/codes.ts).

@group(0) @binding(8) var<storage, read> den: array<f32>;

// Run-time indexed, so a private copy of the constant table (as shaders/classifier.wgsl does).
var<private> den_layers: array<vec4<u32>, DEN_LAYER_N> = DEN_LAYERS;
var<private> den_layer_start: array<u32, 2> = DEN_LAYER_START;
var<private> den_layer_count: array<u32, 2> = DEN_LAYER_COUNT;
// One layer's input and output.
var<private> den_in: array<f32, DEN_MAX_WIDTH>;
var<private> den_out: array<f32, DEN_MAX_WIDTH>;

fn den_sigmoid(z: f32) -> f32 {
  if (z >= 0.0) { return 1.0 / (1.0 + exp(-z)); }
  let e = exp(z);
  return e / (1.0 + e);
}

// F([a xs, c_noise]) of slot `slot` into den_out[0..DIM).
fn den_forward(slot: u32, a: f32, c_noise: f32) {
  for (var i = 0u; i < DIM; i++) { den_in[i] = a * xs[i]; }
  den_in[DIM] = c_noise;
  let first = den_layer_start[slot];
  let count = den_layer_count[slot];
  for (var l = 0u; l < count; l++) {
    let layer = den_layers[first + l];
    let n_in = layer.x;
    let n_out = layer.y;
    for (var o = 0u; o < n_out; o++) {
      var acc = den[layer.w + o];
      let row = layer.z + o * n_in;
      for (var i = 0u; i < n_in; i++) { acc += den[row + i] * den_in[i]; }
      if (l + 1u < count) { acc = acc * den_sigmoid(acc); }
      den_out[o] = acc;
    }
    if (l + 1u < count) {
      for (var o = 0u; o < n_out; o++) { den_in[o] = den_out[o]; }
    }
  }
}

// s_t and/or s_n (where a slot has a model) for step-table row `row_id`; the negative only where
// it counts (gammaNegative != 0), as the CPU reference.
fn apply_learned_scores(row_id: u32, gamma_negative: f32) {
  let r = DEN_ROWS + row_id * DEN_ROW_FLOATS;
  if (DEN_TARGET) {
    den_forward(DEN_SLOT_TARGET, den[r], den[r + 1u]);
    for (var j = 0u; j < DIM; j++) { s_t[j] = den[r + 2u] * xs[j] + den[r + 3u] * den_out[j]; }
  }
  if (DEN_NEGATIVE && gamma_negative != 0.0) {
    den_forward(DEN_SLOT_NEGATIVE, den[r + 4u], den[r + 5u]);
    for (var j = 0u; j < DIM; j++) { s_n[j] = den[r + 6u] * xs[j] + den[r + 7u] * den_out[j]; }
  }
}
