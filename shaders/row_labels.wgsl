// Each row's label for a renderer, written into a buffer of one u32 per row of a chunk: the
// cluster of a k-means label tag ((cluster + 1) with the changed flag in bit 31; 0 before any
// pass). A row without a label gets 0xffffffff. (A mixture's labels are written by the E-step
// itself, gmm_estep.wgsl with LABELS.) The rows are the labels buffer's length; the dispatch may
// be folded into two dimensions (num_workgroups gives its width).

const WORKGROUP: u32 = 64u;
const UNLABELLED: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> source: array<u32>;
@group(0) @binding(1) var<storage, read_write> labels: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = (wid.y * groups.x + wid.x) * WORKGROUP + lid;
  if (row >= arrayLength(&labels)) {
    return;
  }
  let tag = source[row] & 0x7fffffffu;
  labels[row] = select(tag - 1u, UNLABELLED, tag == 0u);
}
