// Per-cluster sums of a k-means (Lloyd) pass, from the labels kmeans_assign.wgsl wrote: for each
// cluster k, sum (x - c_k) over its samples and their count; the inertia sum ||x - c_label||^2
// in the direct form; and the number of samples whose label changed. Each sample adds to its own
// cluster only, so the work is N x D, not N x K x D: a workgroup (block of rows, range of K_TILE
// clusters) keeps its clusters' sums in workgroup memory, thread t owning columns t,
// t + WORKGROUP, ... of (x - c, 1), so no two threads write the same cell and the row loop has
// no barrier. The inertia is summed by the first cluster range's threads over their columns,
// then across the workgroup in a fixed order.
//
// Output, one row of partial sums per block: per cluster the D first moments, then the count;
// then the inertia and the changed-label count (kmeansStatsEntries in layout.ts).
// reduce_partials.wgsl combines the blocks in a fixed order.

override D: u32;
override K: u32;
override K_TILE: u32;
// One SIMD group of a CPU adapter: every thread of a workgroup walks every row of its block,
// so on lavapipe each extra group of 8 repeats the per-row work (label, branch, loop) for a
// few more columns; 8 threads walking the columns measured 1.6x faster than 24 at D = 16.
const WORKGROUP: u32 = 8u;
const CHANGED: u32 = 0x80000000u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The raw centres (K * D), then the assignment kernel's shift and scale.
@group(0) @binding(2) var<storage, read> centres: array<f32>;
// Labels plus one, bit 31 set when changed, as written by kmeans_assign.wgsl.
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> row_weights: array<f32>;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;

var<workgroup> sums: array<f32, K_TILE * (D + 1u)>;
var<workgroup> inertia_parts: array<f32, WORKGROUP>;

fn row_weight(row: u32) -> f32 {
  if (chunk.has_row_weights == 1u) {
    return row_weights[chunk.row_offset + row];
  }
  return 1.0;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = wid.x;
  // Loop bounds as values the compiler cannot see: LLVM-based adapters (lavapipe) unroll loops
  // of constant trip count, which costs a second or more of compilation at the first dispatch.
  let live = chunk.row_count > 0u;
  let width = select(0u, D + 1u, live);
  let threads = select(0u, WORKGROUP, live);
  let k_first = wid.y * K_TILE;
  let k_end = min(k_first + K_TILE, K);
  let first_range = wid.y == 0u;
  for (var idx = lid; idx < K_TILE * width; idx += WORKGROUP) {
    sums[idx] = 0.0;
  }
  workgroupBarrier();

  let row_begin = block * chunk.rows_per_block;
  let row_end = min(row_begin + chunk.rows_per_block, chunk.row_count);
  var inertia = 0.0;
  var changed = 0.0;
  for (var row = row_begin; row < row_end; row++) {
    let tag = labels[row];
    let label = (tag & ~CHANGED) - 1u;
    let w = row_weight(row);
    // A row of weight zero is as good as absent: its label changing does not keep Lloyd going.
    if (lid == 0u && tag >= CHANGED && w > 0.0) {
      changed += 1.0;
    }
    let mine = label >= k_first && label < k_end;
    if (mine || first_range) {
      let base = (label - k_first) * width;
      // This row's squared distance over the thread's columns first, then one addition to the
      // running sum: at D = 2048 a single running sum would take D / WORKGROUP terms per row.
      var row_sq = 0.0;
      for (var i = lid; i < width; i += WORKGROUP) {
        var v = w;
        if (i < D) {
          let t = x[row * D + i] - centres[label * D + i];
          row_sq = fma(t, t, row_sq);
          v = t * w;
        }
        if (mine) {
          sums[base + i] += v;
        }
      }
      inertia = fma(row_sq, w, inertia);
    }
  }
  inertia_parts[lid] = inertia;
  workgroupBarrier();

  let entries = K * width + 2u;
  let out_base = (chunk.block_offset + block) * entries;
  for (var idx = lid; idx < (k_end - k_first) * width; idx += WORKGROUP) {
    partials[out_base + k_first * width + idx] = sums[idx];
  }
  if (lid == 0u && first_range) {
    var total = 0.0;
    for (var t = 0u; t < threads; t++) {
      total += inertia_parts[t];
    }
    partials[out_base + K * width] = total;
    partials[out_base + K * width + 1u] = changed;
  }
}
