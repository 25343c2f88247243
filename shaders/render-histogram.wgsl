// Draws a 1-D histogram as bars straight from the GPU bin counts (web/gpu-plot.ts): one
// instance per bin, six vertices (two triangles) per bar, no readback. Heights are in density
// units: count / (particles x bin width), divided by the plot's top density.

struct HistogramView {
  bins: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  scale: f32, // 1 / (particles x bin width x top density)
  _pad3: f32,
  _pad4: f32,
  _pad5: f32,
  color: vec4<f32>,
}

@group(0) @binding(0) var<uniform> view: HistogramView;
@group(0) @binding(1) var<storage, read> counts: array<u32>;

struct VertexOut {
  @builtin(position) position: vec4<f32>,
}

@vertex
fn vs(@builtin(vertex_index) v: u32, @builtin(instance_index) bin: u32) -> VertexOut {
  var corner = array<vec2<f32>, 6>(
    vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
    vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
  );
  let c = corner[v];
  let height = min(f32(counts[bin]) * view.scale, 1.02);
  let x = (f32(bin) + c.x) / f32(view.bins);
  var out: VertexOut;
  out.position = vec4<f32>(2.0 * x - 1.0, 2.0 * c.y * height - 1.0, 0.0, 1.0);
  return out;
}

@fragment
fn fs() -> @location(0) vec4<f32> {
  return view.color;
}
