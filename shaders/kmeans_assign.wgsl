// k-means assignment (hard E-step): one thread per sample. Squared Euclidean distances are
// summed from (x_i - mu_ki)^2, never expanded as x^2 - 2 x mu + mu^2 (which cancels in
// float32). Writes the nearest centre (ties: the lowest index) as a float label and its squared
// distance, or, with ALL, the squared distance to every centre.

override D: u32;
override K: u32;
override ALL: bool = false;
const MAX_D: u32 = 64u;
const WORKGROUP: u32 = 64u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// centres (K*D) | unused (K) | shifts (K*D): the layout of the mixture kernels without precisions
@group(0) @binding(2) var<storage, read> comp: array<f32>;
// labels (one per row), or with ALL the N x K squared distances
@group(0) @binding(3) var<storage, read_write> resp: array<f32>;
// squared distance to the nearest centre
@group(0) @binding(4) var<storage, read_write> loglik: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * chunk.grid_width + wid.x) * WORKGROUP + lid;
  if (row >= chunk.row_count) {
    return;
  }
  var x_row: array<f32, MAX_D>;
  for (var i = 0u; i < D; i++) {
    x_row[i] = x[row * D + i];
  }
  var best = 0u;
  var best_dist = 3.0e38;
  for (var k = 0u; k < K; k++) {
    var dist = 0.0;
    for (var i = 0u; i < D; i++) {
      let t = x_row[i] - comp[k * D + i];
      dist = fma(t, t, dist);
    }
    if (ALL) {
      resp[row * K + k] = dist;
    }
    if (dist < best_dist) {
      best_dist = dist;
      best = k;
    }
  }
  if (!ALL) {
    resp[row] = f32(best);
  }
  loglik[row] = best_dist;
}
