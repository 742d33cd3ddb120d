// Sums the per-block partial statistics: out[v] = sum_b partials[b * stride + v], one thread
// per value, in a fixed order (groups of GROUP blocks, then the group sums) so the error grows
// with GROUP + blocks / GROUP rather than with the block count, and results are reproducible.
// Past maxComputeWorkgroupsPerDimension x WORKGROUP values the dispatch folds into 2-D rows of
// grid_width workgroups.

const WORKGROUP: u32 = 64u;
const GROUP: u32 = 64u;

struct Reduce {
  block_count: u32,
  stride: u32,
  grid_width: u32,
  _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Reduce;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.y * params.grid_width * WORKGROUP + gid.x;
  if (v >= params.stride) {
    return;
  }
  var total = 0.0;
  for (var b0 = 0u; b0 < params.block_count; b0 += GROUP) {
    var group_sum = 0.0;
    let b1 = min(b0 + GROUP, params.block_count);
    for (var b = b0; b < b1; b++) {
      group_sum += partials[b * params.stride + v];
    }
    total += group_sum;
  }
  out[v] = total;
}
