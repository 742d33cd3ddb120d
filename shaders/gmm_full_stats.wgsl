// Weighted sums for the full-covariance M-step, one workgroup per (block of rows, component).
// With t = (x - c_k, 1), a vector of D + 1 values, every statistic is r_nk * t_i * t_j for one
// pair i >= j: (D, D) gives N_k, (i, D) the first moment, (i, j < D) the second moment. So the
// (D + 1)(D + 2)/2 sums of a component are one uniform loop. The extra workgroup row k = K
// sums the per-sample log-likelihoods instead (pair (D, D) only).
//
// Precision: each thread sums a tile of TILE rows, then adds the tile sum to its block total
// (two levels, so the error grows with TILE + tiles, not with the row count), and the blocks
// are combined by reduce_partials.wgsl in a fixed order: the same input gives the same bits.

override D: u32;
override K: u32;
override WORKGROUP: u32 = 64u;
const MAX_D: u32 = 64u;
const TILE: u32 = 32u;
const MAX_PER_THREAD: u32 = 12u;

struct Chunk {
  row_offset: u32,
  row_count: u32,
  rows_per_block: u32,
  block_offset: u32,
  has_row_weights: u32,
  grid_width: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> comp: array<f32>;
@group(0) @binding(3) var<storage, read> resp: array<f32>;
@group(0) @binding(4) var<storage, read> loglik: array<f32>;
@group(0) @binding(5) var<storage, read> row_weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

var<workgroup> tile: array<f32, TILE * (MAX_D + 1u)>;
var<workgroup> tile_r: array<f32, TILE>;

fn row_weight(row: u32) -> f32 {
  if (chunk.has_row_weights == 1u) {
    return row_weights[chunk.row_offset + row];
  }
  return 1.0;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = wid.x;
  let k = wid.y;
  let width = D + 1u;
  let entries = width * (width + 1u) / 2u;
  let shift_base = K * D + K * (D * (D + 1u) / 2u) + K;

  // Decode this thread's pairs (i >= j) from entry indices lid, lid + WORKGROUP, ...
  var pair_i: array<u32, MAX_PER_THREAD>;
  var pair_j: array<u32, MAX_PER_THREAD>;
  var owned = 0u;
  for (var e = lid; e < entries && owned < MAX_PER_THREAD; e += WORKGROUP) {
    var i = 0u;
    while ((i + 1u) * (i + 2u) / 2u <= e) {
      i++;
    }
    pair_i[owned] = i;
    pair_j[owned] = e - i * (i + 1u) / 2u;
    owned++;
  }

  var total: array<f32, MAX_PER_THREAD>;
  let row_begin = block * chunk.rows_per_block;
  let row_end = min(row_begin + chunk.rows_per_block, chunk.row_count);
  for (var t0 = row_begin; t0 < row_end; t0 += TILE) {
    for (var idx = lid; idx < TILE * width; idx += WORKGROUP) {
      let t = idx / width;
      let i = idx % width;
      let row = t0 + t;
      var v = 0.0;
      if (row < row_end) {
        if (i == D) {
          v = 1.0;
        } else if (k < K) {
          v = x[row * D + i] - comp[shift_base + k * D + i];
        }
      }
      tile[idx] = v;
    }
    for (var t = lid; t < TILE; t += WORKGROUP) {
      let row = t0 + t;
      var r = 0.0;
      if (row < row_end) {
        if (k < K) {
          r = resp[row * K + k] * row_weight(row);
        } else {
          r = loglik[row] * row_weight(row);
        }
      }
      tile_r[t] = r;
    }
    workgroupBarrier();
    // Zeroed explicitly: some drivers keep a loop-local array's values across iterations.
    var part: array<f32, MAX_PER_THREAD>;
    for (var m = 0u; m < owned; m++) {
      part[m] = 0.0;
    }
    for (var t = 0u; t < TILE; t++) {
      let r = tile_r[t];
      let base = t * width;
      for (var m = 0u; m < owned; m++) {
        part[m] = fma(r * tile[base + pair_i[m]], tile[base + pair_j[m]], part[m]);
      }
    }
    for (var m = 0u; m < owned; m++) {
      total[m] += part[m];
    }
    workgroupBarrier();
  }

  let stride = K * entries + 1u;
  let out_base = (chunk.block_offset + block) * stride;
  if (k < K) {
    for (var m = 0u; m < owned; m++) {
      partials[out_base + k * entries + lid + m * WORKGROUP] = total[m];
    }
  } else {
    // Only the pair (D, D), the last entry, holds the log-likelihood sum.
    let last = entries - 1u;
    if (lid == last % WORKGROUP) {
      partials[out_base + K * entries] = total[last / WORKGROUP];
    }
  }
}
