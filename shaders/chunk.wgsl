// The range of rows a dispatch covers; included by the per-row and statistics kernels.
// Layout owned by src/backends/webgpu/layout.ts (CHUNK_FIELDS).
struct Chunk {
  row_offset: u32,      // first row of this chunk in the whole data set (indexes row weights)
  row_count: u32,       // rows in this chunk
  rows_per_block: u32,  // rows summed by one statistics workgroup
  block_offset: u32,    // this chunk's first block in the partial-sums buffer
  has_row_weights: u32, // 1 when row_weights holds per-row weights
  grid_width: u32,      // workgroups per row of a folded 2-D dispatch
  _pad0: u32,
  _pad1: u32,
}
