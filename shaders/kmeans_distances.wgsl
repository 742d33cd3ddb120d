// Squared Euclidean distance of each sample to every centre (KMeans.transform), in the direct
// form sum (x - c)^2: one thread per row, K x D work, written to a slice of rows of the N x K
// output (the host walks the slices so each fits one binding).

override D: u32;
override K: u32;
const WORKGROUP: u32 = 64u;

//!include chunk.wgsl

// row_offset: first row of this slice within the chunk; row_count: rows in the slice.
@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The raw centres (K * D) first.
@group(0) @binding(2) var<storage, read> centres: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * chunk.grid_width + wid.x) * WORKGROUP + lid;
  if (row >= chunk.row_count) {
    return;
  }
  let xb = (chunk.row_offset + row) * D;
  for (var k = 0u; k < K; k++) {
    var s = 0.0;
    for (var i = 0u; i < D; i++) {
      let t = x[xb + i] - centres[k * D + i];
      s = fma(t, t, s);
    }
    out[row * K + k] = s;
  }
}
