// k-means assignment for CPU emulations with the `subgroups` feature (subgroups of at least 8
// invocations; the host's kmeansAssignKernel decides): kmeans_assign.wgsl (see there) with each
// centre tile's 8 values for a feature loaded one per lane and handed to every lane by
// subgroupBroadcast. A load at an address every invocation shares is executed by SIMD-on-CPU
// compilers (lavapipe) as one gathered scalar per lane and component, so two vec4 loads cost 64
// scalar loads per group of 8 lanes where this costs 8: measured 1.5x faster on lavapipe
// (bench/NOTES.md). A GPU serves such a load as one broadcast, so there the plain kernel stays.
enable subgroups;

override D: u32;
override K: u32;
override WRITE_DIST: bool = false;
const WORKGROUP: u32 = 64u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Per tile t of 8 centres: for each feature i the 8 values c'_i at float index (t * D + i) * 8;
// after all tiles, the 8 norms n' of tile t at float index (tiles * D + t) * 8 (padding: c' = 0, n' = 3e38).
@group(0) @binding(2) var<storage, read> tiles: array<f32>;
// The raw centres (K * D), then m s (D), then s, then the largest ||c'||.
@group(0) @binding(3) var<storage, read> centres: array<f32>;
@group(0) @binding(4) var<storage, read_write> labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> dist: array<f32>;

//!include kmeans_assign_rows.wgsl

// `c` counts vec4s, as in kmeans_assign.wgsl; lane l (below 8) loads centre l's value.
fn centre_tile(c: u32, lane: u32) -> CentreTile {
  let v = tiles[c * 4u + lane];
  return CentreTile(
    vec4<f32>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u)),
    vec4<f32>(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u)),
  );
}

// Once per tile and row block: plain loads.
fn tile_norms(n: u32) -> CentreTile {
  let f = n * 4u;
  return CentreTile(
    vec4<f32>(tiles[f], tiles[f + 1u], tiles[f + 2u], tiles[f + 3u]),
    vec4<f32>(tiles[f + 4u], tiles[f + 5u], tiles[f + 6u], tiles[f + 7u]),
  );
}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  // Subgroups of 8 or more lanes (checked by the host): lanes 0 to 7 hold the tile's 8 values.
  assign_rows(wid, lid, lane % 8u);
}
