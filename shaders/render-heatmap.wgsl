// Draws a 2-D histogram as a density heatmap straight from the GPU bin counts
// (web/gpu-plot.ts): a full-viewport triangle; each fragment looks up its bin. The colour is
// viridis of sqrt(density / top density) (the square root shows low-density modes); empty
// bins keep the background.

struct HeatmapView {
  bins0: u32,
  bins1: u32,
  _pad0: u32,
  _pad1: u32,
  scale: f32, // 1 / (particles x bin area x top density)
  _pad2: f32,
  _pad3: f32,
  _pad4: f32,
  // The viewport in framebuffer pixels: x, y, width, height.
  rect: vec4<f32>,
  background: vec4<f32>,
}

@group(0) @binding(0) var<uniform> view: HeatmapView;
@group(0) @binding(1) var<storage, read> counts: array<u32>;

@vertex
fn vs(@builtin(vertex_index) v: u32) -> @builtin(position) vec4<f32> {
  var p = array<vec2<f32>, 3>(vec2<f32>(-1.0, -1.0), vec2<f32>(3.0, -1.0), vec2<f32>(-1.0, 3.0));
  return vec4<f32>(p[v], 0.0, 1.0);
}

// Polynomial fit of matplotlib's viridis on [0, 1].
fn viridis(t: f32) -> vec3<f32> {
  let c0 = vec3<f32>(0.2777273272234177, 0.005407344544966578, 0.3340998053353061);
  let c1 = vec3<f32>(0.1050930431085774, 1.404613529898575, 1.384590162594685);
  let c2 = vec3<f32>(-0.3308618287255563, 0.214847559468213, 0.09509516302823659);
  let c3 = vec3<f32>(-4.634230498983486, -5.799100973351585, -19.33244095627987);
  let c4 = vec3<f32>(6.228269936347081, 14.17993336680818, 56.69055260068105);
  let c5 = vec3<f32>(4.776384997670288, -13.74514537774601, -65.35303263337234);
  let c6 = vec3<f32>(-5.435455855934631, 4.645852612178535, 26.3124352495832);
  return c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * (c5 + t * c6)))));
}

@fragment
fn fs(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
  // Framebuffer y grows downwards; the plot's second axis grows upwards.
  let u = (position.x - view.rect.x) / view.rect.z;
  let w = 1.0 - (position.y - view.rect.y) / view.rect.w;
  let i0 = min(u32(max(u, 0.0) * f32(view.bins0)), view.bins0 - 1u);
  let i1 = min(u32(max(w, 0.0) * f32(view.bins1)), view.bins1 - 1u);
  let count = counts[i0 + view.bins0 * i1];
  if (count == 0u) {
    return view.background;
  }
  let t = sqrt(clamp(f32(count) * view.scale, 0.0, 1.0));
  return vec4<f32>(clamp(viridis(t), vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
