// Per-cluster sums of a k-means (Lloyd) pass: for each cluster k, sum (x - c_k) over the
// samples labelled k, their count, and the summed squared distance (inertia). Each sample adds
// to its own cluster only, so the work is N x D, not N x K x D: a workgroup (block of rows,
// range of K_TILE clusters) keeps its clusters' sums in workgroup memory, thread t owning
// columns t, t + WORKGROUP, ... of (x - c, 1), so no two threads write the same cell.
//
// Output, one row of partial sums per block: per cluster the D first moments, then the count;
// the inertia last (statsPerComponent(D, 'hard') in layout.ts). reduce_partials.wgsl combines
// the blocks in a fixed order.

override D: u32;
override K: u32;
override K_TILE: u32;
const WORKGROUP: u32 = 64u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// centres (K*D) | unused (K) | shifts (K*D)
@group(0) @binding(2) var<storage, read> comp: array<f32>;
// labels, as written by kmeans_assign.wgsl
@group(0) @binding(3) var<storage, read> resp: array<f32>;
// squared distance to the nearest centre
@group(0) @binding(4) var<storage, read> loglik: array<f32>;
@group(0) @binding(5) var<storage, read> row_weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

var<workgroup> sums: array<f32, K_TILE * (D + 1u)>;

fn row_weight(row: u32) -> f32 {
  if (chunk.has_row_weights == 1u) {
    return row_weights[chunk.row_offset + row];
  }
  return 1.0;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = wid.x;
  let width = D + 1u;
  let k_first = wid.y * K_TILE;
  let k_end = min(k_first + K_TILE, K);
  let shift_base = K * D + K;
  for (var idx = lid; idx < K_TILE * width; idx += WORKGROUP) {
    sums[idx] = 0.0;
  }
  workgroupBarrier();

  let row_begin = block * chunk.rows_per_block;
  let row_end = min(row_begin + chunk.rows_per_block, chunk.row_count);
  var inertia = 0.0;
  for (var row = row_begin; row < row_end; row++) {
    let label = u32(resp[row]);
    let w = row_weight(row);
    if (lid == 0u) {
      inertia += loglik[row] * w;
    }
    if (label >= k_first && label < k_end) {
      let base = (label - k_first) * width;
      for (var i = lid; i < width; i += WORKGROUP) {
        var v = w;
        if (i < D) {
          v = (x[row * D + i] - comp[shift_base + label * D + i]) * w;
        }
        sums[base + i] += v;
      }
    }
  }
  workgroupBarrier();

  let entries = K * width + 1u;
  let out_base = (chunk.block_offset + block) * entries;
  for (var idx = lid; idx < (k_end - k_first) * width; idx += WORKGROUP) {
    partials[out_base + k_first * width + idx] = sums[idx];
  }
  if (lid == 0u && wid.y == 0u) {
    partials[out_base + K * width] = inertia;
  }
}
