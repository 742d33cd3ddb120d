// The scatter plot: every sample drawn straight from the fit's GPU buffers (no read-back), its
// position the projection of its row onto the plotted axes, its colour its label's.

struct View {
  // clip = (P x * scale - centre) * zoom + pan
  zoom: vec2<f32>,
  pan: vec2<f32>,
  centre: vec2<f32>,
  // Pixels per clip unit, for the size of a point drawn as a quad.
  half_viewport: vec2<f32>,
  scale: f32,
  cols: u32,
  point_px: f32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> view: View;
// Two rows of D: the plotted axes in feature space.
@group(0) @binding(1) var<storage, read> projection: array<f32>;
// 20 colours, then the unlabelled grey.
@group(0) @binding(2) var<storage, read> palette: array<vec4<f32>>;
@group(1) @binding(0) var<storage, read> x: array<f32>;
@group(1) @binding(1) var<storage, read> labels: array<u32>;

struct Out {
  @builtin(position) position: vec4<f32>,
  @location(0) colour: vec4<f32>,
}

fn point(row: u32, corner: vec2<f32>) -> Out {
  var p = vec2<f32>(0.0, 0.0);
  let base = row * view.cols;
  for (var i = 0u; i < view.cols; i++) {
    let v = x[base + i] * view.scale;
    p += vec2<f32>(projection[i], projection[view.cols + i]) * v;
  }
  let clip = (p - view.centre) * view.zoom + view.pan + corner * view.point_px / view.half_viewport;
  let label = labels[row];
  var colour = palette[20];
  if (label != 0xffffffffu) {
    colour = palette[label % 20u];
  }
  var out: Out;
  out.position = vec4<f32>(clip, 0.0, 1.0);
  out.colour = vec4<f32>(colour.rgb, view.alpha);
  return out;
}

// One pixel per sample (point-list): millions of points.
@vertex
fn pixel(@builtin(vertex_index) row: u32) -> Out {
  return point(row, vec2<f32>(0.0, 0.0));
}

const CORNERS = array<vec2<f32>, 6>(
  vec2<f32>(-0.5, -0.5), vec2<f32>(0.5, -0.5), vec2<f32>(-0.5, 0.5),
  vec2<f32>(-0.5, 0.5), vec2<f32>(0.5, -0.5), vec2<f32>(0.5, 0.5),
);

// A square of point_px pixels per sample (six vertices): fewer, larger points.
@vertex
fn quad(@builtin(vertex_index) index: u32) -> Out {
  return point(index / 6u, CORNERS[index % 6u]);
}

@fragment
fn colour(in: Out) -> @location(0) vec4<f32> {
  return in.colour;
}
