// k-means assignment (hard E-step) as a tiled distance product, as in Faiss and cuML:
// ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, ranked by ||c||^2 - 2 x.c (||x||^2 is the same for
// every centre). Expanded in float32 this cancels for data far from the origin or of large
// magnitude, so the kernel ranks on x' = (x - m) s, the sample shifted and scaled inside the
// kernel (m and the power of two s come with the centres: a caller's or a streamed buffer gets
// them too), against c' = (c - m) s and n' = ||c'||^2 prepared on the host in float64; s makes
// |c'| about 1, so no product overflows and no digit is lost to the offset.
//
// Register blocking for SIMD-on-CPU adapters and GPUs alike: an invocation owns ROWS rows and
// walks the centres in tiles of 8 (two vec4 accumulators per row), so each load of a sample
// value feeds 8 multiply-adds and each load of a centre value ROWS; D is streamed from memory,
// so no workgroup memory or private array bounds it and no barrier sits in the loop.
//
// The expanded form's rounding error is bounded per row (see `ambiguous`): a row whose two best
// scores lie within that bound of each other, which happens for rows on a boundary and for every
// row when one centre is far from the others (a large shift and scale leave too few digits for
// the near centres), is decided again in the direct form over every centre.
//
// Each row's label goes to `labels` plus one (0: none yet), with bit 31 set when it differs
// from the label the row had there before (the statistics kernel counts those: Lloyd stops
// when none changed). With WRITE_DIST the winner's squared distance is recomputed in the
// direct form, sum (x - c)^2 on the unshifted values, and written to `dist` (predict,
// relocation); otherwise `dist` gets the ranking score, unused (the sums kernel recomputes the
// inertia in the direct form).
//
// This file loads a tile's centre values as two vec4 loads at the address every invocation
// shares; kmeans_assign_subgroups.wgsl, used on CPU emulations with `subgroups`, loads them once
// per subgroup instead. Both run kmeans_assign_rows.wgsl.

override D: u32;
override K: u32;
override WRITE_DIST: bool = false;
const WORKGROUP: u32 = 64u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Per tile t of 8 centres: for each feature i the 8 values c'_i at vec4 index (t * D + i) * 2;
// after all tiles, the 8 norms n' of tile t at index (tiles * D + t) * 2 (padding: c' = 0, n' = 3e38).
@group(0) @binding(2) var<storage, read> tiles: array<vec4<f32>>;
// The raw centres (K * D), then m s (D), then s, then the largest ||c'||.
@group(0) @binding(3) var<storage, read> centres: array<f32>;
@group(0) @binding(4) var<storage, read_write> labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> dist: array<f32>;

//!include kmeans_assign_rows.wgsl

fn centre_tile(c: u32, lane: u32) -> CentreTile {
  return CentreTile(tiles[c], tiles[c + 1u]);
}

fn tile_norms(n: u32) -> CentreTile {
  return CentreTile(tiles[n], tiles[n + 1u]);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  assign_rows(wid, lid, 0u);
}
