// The components' 1- and 2-sigma ellipses (and k-means' centres) as lines in plot coordinates.

struct View {
  zoom: vec2<f32>,
  pan: vec2<f32>,
  centre: vec2<f32>,
  half_viewport: vec2<f32>,
  scale: f32,
  cols: u32,
  point_px: f32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> view: View;

struct Out {
  @builtin(position) position: vec4<f32>,
  @location(0) colour: vec4<f32>,
}

@vertex
fn line(@location(0) at: vec2<f32>, @location(1) colour: vec4<f32>) -> Out {
  var out: Out;
  out.position = vec4<f32>((at - view.centre) * view.zoom + view.pan, 0.0, 1.0);
  out.colour = colour;
  return out;
}

@fragment
fn colour(in: Out) -> @location(0) vec4<f32> {
  return in.colour;
}
