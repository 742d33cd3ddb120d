// One k-means++ step over the samples: for a candidate centre c, the squared distance of every
// sample to its nearest chosen centre if c were added, min(closest_n, ||x_n - c||^2) (or just
// ||x_n - c||^2 for the first centre), and each thread's sum over its rows. The host adds a
// block's WORKGROUP thread sums in a fixed order (in float64) and draws the next centre with
// probability proportional to these distances from the block sums and one block's values.
// With sample weights the sums are of weight x distance (the draw is D^2 times the weight, as
// duplicated samples would give); the distances themselves stay unweighted.

override D: u32;
const WORKGROUP: u32 = 64u;
const ROWS_PER_THREAD: u32 = 4u;

struct Step {
  row_offset: u32,   // first row of this dispatch's rows in the whole data set
  row_count: u32,    // rows of this dispatch (a slice of a chunk; x is bound from its first row)
  block_offset: u32, // this slice's first block in thread_sums (WORKGROUP sums per block)
  first: u32,        // 1 for the first centre: no previous distances
  weighted: u32,     // 1 when row_weights holds one weight per row (global rows)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> candidate: array<f32>;
@group(0) @binding(3) var<storage, read> closest: array<f32>;
@group(0) @binding(4) var<storage, read_write> trial: array<f32>;
@group(0) @binding(5) var<storage, read_write> thread_sums: array<f32>;
@group(0) @binding(6) var<storage, read> row_weights: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  // Past maxComputeWorkgroupsPerDimension blocks the dispatch folds into 2-D rows of groups.x
  // workgroups; the last row's spare workgroups have no block (and no sums) of their own.
  let block = wid.y * groups.x + wid.x;
  if (block * WORKGROUP * ROWS_PER_THREAD >= step.row_count) {
    return;
  }
  // D and the row count as values the compiler cannot see: LLVM-based adapters (lavapipe)
  // unroll loops of constant trip count, which for small D costs a second of compilation at the
  // first dispatch and gains nothing.
  let cols = select(0u, D, step.row_count > 0u);
  let rows = select(0u, ROWS_PER_THREAD, step.row_count > 0u);
  var sum = 0.0;
  for (var r = 0u; r < rows; r++) {
    let row = block * WORKGROUP * ROWS_PER_THREAD + r * WORKGROUP + lid;
    if (row < step.row_count) {
      var dist = 0.0;
      for (var i = 0u; i < cols; i++) {
        let t = x[row * D + i] - candidate[i];
        dist = fma(t, t, dist);
      }
      let global_row = step.row_offset + row;
      if (step.first == 0u) {
        dist = min(dist, closest[global_row]);
      }
      trial[global_row] = dist;
      if (step.weighted == 1u) {
        sum = fma(dist, row_weights[global_row], sum);
      } else {
        sum += dist;
      }
    }
  }
  thread_sums[(step.block_offset + block) * WORKGROUP + lid] = sum;
}
