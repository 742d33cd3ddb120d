// One k-means++ step over the samples for a step's candidate centres c_t (all of them in one
// dispatch): for each candidate, the squared distance of every sample to its nearest chosen
// centre if c_t were added, min(closest_n, ||x_n - c_t||^2) (or just ||x_n - c_t||^2 for the
// first centre), and each block's sum of them. A block is 256 rows, one workgroup; each thread
// sums its 4 rows in float32 and the block's 64 thread sums are added in order in float64 (on
// integers, f64_add below): the sums, bit for bit, that the host made of the thread sums before,
// so that the draws do not change. seeding_select.wgsl adds each candidate's block sums into
// its potential. With sample weights the sums are of weight x distance (the draw is D^2 times
// the weight, as duplicated samples would give); the distances themselves stay unweighted.

override D: u32;
const WORKGROUP: u32 = 64u;
const ROWS_PER_THREAD: u32 = 4u;
/** Most candidates one dispatch takes (the host groups a step's candidates by this). */
const MAX_CANDIDATES: u32 = 16u;

struct Step {
  row_offset: u32,      // first row of this dispatch's rows in the whole data set
  row_count: u32,       // rows of this dispatch (a slice of a chunk; x is bound from its first row)
  block_offset: u32,    // this slice's first block among the pass's blocks
  first: u32,           // 1 for the first centre: no previous distances
  weighted: u32,        // 1 when row_weights holds one weight per row (global rows)
  candidates: u32,      // candidates of this dispatch (at most MAX_CANDIDATES)
  candidate_first: u32, // this dispatch's first candidate among the step's (in candidate_rows)
  trial_stride: u32,    // floats between two of this dispatch's candidates' distances in trial
  block_stride: u32,    // the pass's blocks: block sums between two candidates
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> candidate_rows: array<f32>;
@group(0) @binding(3) var<storage, read> closest: array<f32>;
@group(0) @binding(4) var<storage, read_write> trial: array<f32>;
@group(0) @binding(5) var<storage, read_write> block_sums: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read> row_weights: array<f32>;

var<workgroup> thread_sums: array<f32, MAX_CANDIDATES * WORKGROUP>;

//!include float64.wgsl

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
  let count = min(step.candidates, MAX_CANDIDATES);
  for (var t = 0u; t < count; t++) {
    let c = (step.candidate_first + t) * D;
    var sum = 0.0;
    for (var r = 0u; r < rows; r++) {
      let row = block * WORKGROUP * ROWS_PER_THREAD + r * WORKGROUP + lid;
      if (row < step.row_count) {
        var dist = 0.0;
        for (var i = 0u; i < cols; i++) {
          let d = x[row * D + i] - candidate_rows[c + i];
          dist = fma(d, d, dist);
        }
        let global_row = step.row_offset + row;
        if (step.first == 0u) {
          dist = min(dist, closest[global_row]);
        }
        trial[t * step.trial_stride + global_row] = dist;
        if (step.weighted == 1u) {
          sum = fma(dist, row_weights[global_row], sum);
        } else {
          sum += dist;
        }
      }
    }
    thread_sums[t * WORKGROUP + lid] = sum;
  }
  workgroupBarrier();
  // Lane t adds candidate t's 64 thread sums in order, from +0, in float64.
  if (lid < count) {
    var total = vec2<u32>(0u, 0u);
    for (var l = 0u; l < WORKGROUP; l++) {
      total = f64_add(total, f64_from_f32(thread_sums[lid * WORKGROUP + l]));
    }
    block_sums[(step.candidate_first + lid) * step.block_stride + step.block_offset + block] = total;
  }
}
