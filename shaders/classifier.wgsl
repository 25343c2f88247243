// Trained-classifier guidance for the general step kernel (shaders/step.wgsl calls
// add_classifier_guidance from velocity(), after the guided score s_guided is formed):
//     s_guided += w(t) grad_x log p_hat_t(CLF_TARGET | xs),
// p_hat_t = softmax(logits), the logits interpolated between the networks of two time levels
//     logits = (1 - lam) net_lo(xs) + lam net_hi(xs),
//     grad   = (1 - lam) J_lo(xs)^T delta + lam J_hi(xs)^T delta,   delta = e_target - p_hat,
// the exact gradient of the interpolated classifier (src/model/classifier/classifier.ts). The host
// picks the levels, lam and w(t) per row (ClassifierRow, in f64); the networks mirror
// Network.forward / backward of src/model/classifier/network.ts operation for operation:
//     z_0 = (phi(xs) - featMean) * featInvStd,  z_l = act(W_l z_{l-1} + b_l),  logits = W_L z_{L-1} + b_L,
// with phi the feature map (linear x; quadratic [x, x_i^2, x_i x_j (i < j)]; sum [sum_i x_i]).
//
// The host prepends the CLF_* constants, the ClassifierRow struct and ClassifierBuffer
// (src/gpu/classifier.ts, from its ClassifierLayout): sizes, offsets, feature kind, activation.

@group(0) @binding(8) var<storage, read> clf: ClassifierBuffer;

const CLF_LINEAR: u32 = 0u;
const CLF_QUADRATIC: u32 = 1u;
const CLF_SUM: u32 = 2u;
const CLF_TANH: u32 = 0u;

var<private> clf_sizes: array<u32, CLF_LAYERS + 1u> = CLF_SIZES;
var<private> clf_w_offset: array<u32, CLF_LAYERS> = CLF_W_OFFSET;
var<private> clf_b_offset: array<u32, CLF_LAYERS> = CLF_B_OFFSET;
var<private> clf_act_offset: array<u32, CLF_LAYERS + 1u> = CLF_ACT_OFFSET;
// Each layer's output and pre-activation, per slot (0: the lower level, 1: the upper one).
var<private> clf_act: array<f32, 2u * CLF_ACT_TOTAL>;
var<private> clf_pre: array<f32, 2u * CLF_ACT_TOTAL>;
// Backpropagated d/d(layer output), one level at a time.
var<private> clf_delta: array<f32, CLF_ACT_TOTAL>;
var<private> clf_logits: array<f32, CLF_CLASSES>;
var<private> clf_dlogits: array<f32, CLF_CLASSES>;
var<private> clf_grad: array<f32, DIM>;

fn clf_sigmoid(z: f32) -> f32 {
  if (z >= 0.0) { return 1.0 / (1.0 + exp(-z)); }
  let e = exp(z);
  return e / (1.0 + e);
}

fn clf_activate(z: f32) -> f32 {
  // tanh(15) is 1 in f32; the clamp keeps a driver's sinh/cosh form of tanh finite.
  if (CLF_ACTIVATION == CLF_TANH) { return tanh(clamp(z, -15.0, 15.0)); }
  return z * clf_sigmoid(z);
}

// d act / d z from the pre-activation z and the activation a = act(z).
fn clf_activate_grad(z: f32, a: f32) -> f32 {
  if (CLF_ACTIVATION == CLF_TANH) { return 1.0 - a * a; }
  let s = clf_sigmoid(z);
  return s * (1.0 + z * (1.0 - s));
}

fn clf_set_input(base: u32, a0: u32, k: u32, phi: f32) {
  clf_act[a0 + k] = (phi - clf.params[base + CLF_FEAT_MEAN + k]) * clf.params[base + CLF_FEAT_INV_STD + k];
}

// The standardised features of xs into layer 0 of the scratch at a0 (level parameters at base).
fn clf_inputs(base: u32, a0: u32) {
  if (CLF_FEATURES == CLF_SUM) {
    var s = 0.0;
    for (var i = 0u; i < DIM; i++) { s += xs[i]; }
    clf_set_input(base, a0, 0u, s);
    return;
  }
  for (var i = 0u; i < DIM; i++) { clf_set_input(base, a0, i, xs[i]); }
  if (CLF_FEATURES == CLF_QUADRATIC) {
    var k = DIM;
    for (var i = 0u; i < DIM; i++) {
      clf_set_input(base, a0, k, xs[i] * xs[i]);
      k++;
    }
    for (var i = 0u; i < DIM; i++) {
      for (var j = i + 1u; j < DIM; j++) {
        clf_set_input(base, a0, k, xs[i] * xs[j]);
        k++;
      }
    }
  }
}

// Forward pass of one level's network at xs into slot `slot`; its logits are the slot's last layer.
fn clf_forward(level: u32, slot: u32) {
  let base = level * CLF_LEVEL_STRIDE;
  let a = slot * CLF_ACT_TOTAL;
  clf_inputs(base, a);
  for (var l = 1u; l <= CLF_LAYERS; l++) {
    let n_in = clf_sizes[l - 1u];
    let n_out = clf_sizes[l];
    let w = base + clf_w_offset[l - 1u];
    let b = base + clf_b_offset[l - 1u];
    let inp = a + clf_act_offset[l - 1u];
    let out = a + clf_act_offset[l];
    for (var o = 0u; o < n_out; o++) {
      var acc = clf.params[b + o];
      let row = w + o * n_in;
      for (var i = 0u; i < n_in; i++) { acc += clf.params[row + i] * clf_act[inp + i]; }
      clf_pre[out + o] = acc;
      if (l == CLF_LAYERS) {
        clf_act[out + o] = acc;
      } else {
        clf_act[out + o] = clf_activate(acc);
      }
    }
  }
}

// Adds scale * J(xs)^T clf_dlogits of one level's network (its forward pass in `slot`) to clf_grad.
fn clf_backward(level: u32, slot: u32, scale: f32) {
  let base = level * CLF_LEVEL_STRIDE;
  let a = slot * CLF_ACT_TOTAL;
  let top = clf_act_offset[CLF_LAYERS];
  for (var c = 0u; c < CLF_CLASSES; c++) { clf_delta[top + c] = scale * clf_dlogits[c]; }
  for (var l = CLF_LAYERS; l >= 1u; l--) {
    let n_in = clf_sizes[l - 1u];
    let n_out = clf_sizes[l];
    let w = base + clf_w_offset[l - 1u];
    let d_out = clf_act_offset[l];
    let d_in = clf_act_offset[l - 1u];
    for (var i = 0u; i < n_in; i++) { clf_delta[d_in + i] = 0.0; }
    for (var o = 0u; o < n_out; o++) {
      let g = clf_delta[d_out + o];
      let row = w + o * n_in;
      for (var i = 0u; i < n_in; i++) { clf_delta[d_in + i] += clf.params[row + i] * g; }
    }
    if (l > 1u) {
      for (var i = 0u; i < n_in; i++) {
        clf_delta[d_in + i] *= clf_activate_grad(clf_pre[a + d_in + i], clf_act[a + d_in + i]);
      }
    }
  }
  // Through the standardisation and the feature map (its vector-Jacobian product).
  if (CLF_FEATURES == CLF_SUM) {
    let g = clf_delta[0] * clf.params[base + CLF_FEAT_INV_STD];
    for (var i = 0u; i < DIM; i++) { clf_grad[i] += g; }
    return;
  }
  for (var i = 0u; i < DIM; i++) { clf_grad[i] += clf_delta[i] * clf.params[base + CLF_FEAT_INV_STD + i]; }
  if (CLF_FEATURES == CLF_QUADRATIC) {
    var k = DIM;
    for (var i = 0u; i < DIM; i++) {
      clf_grad[i] += 2.0 * xs[i] * (clf_delta[k] * clf.params[base + CLF_FEAT_INV_STD + k]);
      k++;
    }
    for (var i = 0u; i < DIM; i++) {
      for (var j = i + 1u; j < DIM; j++) {
        let g = clf_delta[k] * clf.params[base + CLF_FEAT_INV_STD + k];
        clf_grad[i] += xs[j] * g;
        clf_grad[j] += xs[i] * g;
        k++;
      }
    }
  }
}

// s_guided += w grad_x log p_hat(CLF_TARGET | xs) for step-table row `row_id`.
fn add_classifier_guidance(row_id: u32) {
  let r = clf.rows[row_id];
  if (r.w == 0.0) { return; }
  let top = clf_act_offset[CLF_LAYERS];
  clf_forward(r.levelLo, 0u);
  for (var c = 0u; c < CLF_CLASSES; c++) { clf_logits[c] = clf_act[top + c]; }
  if (r.lam > 0.0) {
    clf_forward(r.levelHi, 1u);
    for (var c = 0u; c < CLF_CLASSES; c++) {
      clf_logits[c] = (1.0 - r.lam) * clf_logits[c] + r.lam * clf_act[CLF_ACT_TOTAL + top + c];
    }
  }
  // delta = e_target - softmax(logits), through a stable log-softmax.
  var m = clf_logits[0];
  for (var c = 1u; c < CLF_CLASSES; c++) { m = max(m, clf_logits[c]); }
  var sum = 0.0;
  for (var c = 0u; c < CLF_CLASSES; c++) { sum += exp(clf_logits[c] - m); }
  let lse = m + log(sum);
  for (var c = 0u; c < CLF_CLASSES; c++) {
    clf_dlogits[c] = select(0.0, 1.0, c == CLF_TARGET) - exp(clf_logits[c] - lse);
  }
  for (var j = 0u; j < DIM; j++) { clf_grad[j] = 0.0; }
  clf_backward(r.levelLo, 0u, 1.0 - r.lam);
  if (r.lam > 0.0) { clf_backward(r.levelHi, 1u, r.lam); }
  for (var j = 0u; j < DIM; j++) { s_guided[j] += r.w * clf_grad[j]; }
}
