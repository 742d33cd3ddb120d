// Weighted sums for the M-step of full and tied mixtures, from the responsibilities gmm_estep.wgsl
// wrote, as small matrix products: for component k and t = (x - c_k, 1), every pair i >= j of
// sum_n r_nk t_i t_j ((D, D) gives N_k, (i, D) the first moment, (i, j < D) the second moment;
// entry k * PAIRS + i (i + 1) / 2 + j, as sufficient_stats.wgsl); entry K * PAIRS sums the
// per-sample log-likelihoods, entry K * PAIRS + 1 the rows' sum_k r log r.
//
// A workgroup owns a block of rows and every component, one lane each, and walks its rows in
// tiles of TILE staged in workgroup memory (the rows as vec4s with the constant 1 after x, the
// tile's responsibilities). For each 4 x 4 block (I, J <= I) of pairs, a lane sums r t_I t_J^T
// over the tile as four vec4 multiply-adds per row (register blocking: the two sample loads are
// shared by every lane, one SIMD load feeds all components), then adds the 16 sums to its
// component's entries in `partials`: the workgroup owns its block's row there, and lane k alone
// touches component k's entries, so no barrier or atomic is needed.
//
// Precision: a block of pairs is summed over one tile (TILE rows), then added to the block's
// running sums (two levels); blocks are combined by reduce_partials.wgsl in a fixed order, so the
// same input gives the same bits.

override D: u32;
override K: u32;
// Lanes: K rounded up to a multiple of 8.
override WORKGROUP: u32 = 32u;
// Rows per tile: a multiple of WORKGROUP on a CPU emulation, fewer on a GPU (the tile's memory
// bounds the waves per SIMD).
override TILE: u32 = 64u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// means (K*D) | precision factors (K*D(D+1)/2) | log_const (K) | shifts (K*D)
@group(0) @binding(2) var<storage, read> comp: array<f32>;
@group(0) @binding(3) var<storage, read> resp: array<f32>;
@group(0) @binding(4) var<storage, read> loglik: array<f32>;
@group(0) @binding(5) var<storage, read> row_weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

// Row t: (x_0 .. x_{D-1}, 1, 0 ..) as (D + 4) / 4 vec4s; TILE rows rounded up to a multiple of
// WORKGROUP slots, since the staging loop's last pass writes a whole workgroup's (zeros past the
// tile's rows).
var<workgroup> tile_x: array<vec4<f32>, (TILE * ((D + 4u) / 4u) + WORKGROUP - 1u) / WORKGROUP * WORKGROUP>;
// Row t, component k at t * WORKGROUP + k: w_t r_tk.
var<workgroup> tile_r: array<f32, TILE * WORKGROUP>;
var<workgroup> loglik_lanes: array<f32, WORKGROUP>;

fn row_weight(row: u32) -> f32 {
  if (chunk.has_row_weights == 1u) {
    return row_weights[chunk.row_offset + row];
  }
  return 1.0;
}

// Component k's shift as the vec4 block v of (c, 0): the constant 1 of t is not shifted.
fn shift_block(k: u32, v: u32) -> vec4<f32> {
  let base = K * D + K * (D * (D + 1u) / 2u) + K + k * D;
  let i = 4u * v;
  var c = vec4<f32>(0.0);
  if (i < D) {
    c.x = comp[base + i];
  }
  if (i + 1u < D) {
    c.y = comp[base + i + 1u];
  }
  if (i + 2u < D) {
    c.z = comp[base + i + 2u];
  }
  if (i + 3u < D) {
    c.w = comp[base + i + 3u];
  }
  return c;
}

// Value v of a row's vec4 block: x, then 1 at index D, then 0.
fn row_value(at: u32, i: u32) -> f32 {
  if (i < D) {
    return x[at + i];
  }
  return select(0.0, 1.0, i == D);
}

// Adds s (pairs (i, j .. j + 3)) to the entries at `base`; pairs past the diagonal or past D are
// not entries.
fn add_row(base: u32, i: u32, j: u32, s: vec4<f32>) {
  if (i > D) {
    return;
  }
  let at = base + i * (i + 1u) / 2u + j;
  partials[at] += s.x;
  if (j + 1u <= i) {
    partials[at + 1u] += s.y;
  }
  if (j + 2u <= i) {
    partials[at + 2u] += s.z;
  }
  if (j + 3u <= i) {
    partials[at + 3u] += s.w;
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = wid.x;
  let pairs = (D + 1u) * (D + 2u) / 2u;
  let out = (chunk.block_offset + block) * (K * pairs + 2u);
  // Lanes past K repeat the last component, and add to a scratch row past the blocks' rows
  // (allocated by the host, never read), so that no store sits under a per-lane branch.
  let k = min(lid, K - 1u);
  let sums_at = select(arrayLength(&partials) - pairs, out + k * pairs, lid < K);
  // Loop bounds as values the compiler cannot see: Mesa's compilers (lavapipe) unroll loops of
  // constant trip count, which costs seconds of compilation at the first dispatch.
  let live = chunk.row_count > 0u;
  let blocks = select(0u, (D + 4u) / 4u, live);
  let tile_rows = select(0u, TILE, live);
  for (var e = 0u; e < select(0u, pairs, live); e++) {
    partials[sums_at + e] = 0.0;
  }
  var ll = 0.0;
  // This lane's component's sum of r log r.
  var rlogr = 0.0;

  let row_begin = block * chunk.rows_per_block;
  let row_end = min(row_begin + chunk.rows_per_block, chunk.row_count);
  for (var t0 = row_begin; t0 < row_end; t0 += TILE) {
    let rows = min(TILE, row_end - t0);
    // Lane = (row, block of 4 values); then lane = component for the responsibilities.
    for (var first = 0u; first < tile_rows * blocks; first += WORKGROUP) {
      let idx = first + lid;
      let t = idx / blocks;
      let v = idx - t * blocks;
      let row = t0 + t;
      var q = vec4<f32>(0.0);
      if (t < rows) {
        let at = row * D;
        q = vec4<f32>(row_value(at, 4u * v), row_value(at, 4u * v + 1u), row_value(at, 4u * v + 2u), row_value(at, 4u * v + 3u));
      }
      tile_x[idx] = q;
    }
    for (var t = 0u; t < rows; t++) {
      let row = t0 + t;
      let w = row_weight(row);
      let q = resp[row * K + k];
      tile_r[t * WORKGROUP + lid] = q * w;
      // r = 0 adds 0 (its log is -inf); lanes past K repeat a component and add nothing.
      rlogr += select(0.0, q * log(q) * w, q > 0.0 && w > 0.0 && lid < K);
      if (lid == t % WORKGROUP) {
        // A weight of 0 drops the row, even one whose log-likelihood is -inf (0 * -inf is NaN).
        ll += select(0.0, loglik[row] * w, w > 0.0);
      }
    }
    workgroupBarrier();

    for (var bi = 0u; bi < blocks; bi++) {
      let ci = shift_block(k, bi);
      for (var bj = 0u; bj <= bi; bj++) {
        let cj = shift_block(k, bj);
        var s0 = vec4<f32>(0.0);
        var s1 = vec4<f32>(0.0);
        var s2 = vec4<f32>(0.0);
        var s3 = vec4<f32>(0.0);
        for (var t = 0u; t < rows; t++) {
          let a = tile_r[t * WORKGROUP + lid] * (tile_x[t * blocks + bi] - ci);
          let b = tile_x[t * blocks + bj] - cj;
          s0 = fma(vec4<f32>(a.x), b, s0);
          s1 = fma(vec4<f32>(a.y), b, s1);
          s2 = fma(vec4<f32>(a.z), b, s2);
          s3 = fma(vec4<f32>(a.w), b, s3);
        }
        add_row(sums_at, 4u * bi, 4u * bj, s0);
        add_row(sums_at, 4u * bi + 1u, 4u * bj, s1);
        add_row(sums_at, 4u * bi + 2u, 4u * bj, s2);
        add_row(sums_at, 4u * bi + 3u, 4u * bj, s3);
      }
    }
    workgroupBarrier();
  }

  loglik_lanes[lid] = ll;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var i = 0u; i < select(0u, WORKGROUP, live); i++) {
      total += loglik_lanes[i];
    }
    partials[out + K * pairs] = total;
  }
  workgroupBarrier();
  loglik_lanes[lid] = rlogr;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var i = 0u; i < select(0u, WORKGROUP, live); i++) {
      total += loglik_lanes[i];
    }
    partials[out + K * pairs + 1u] = total;
  }
}
