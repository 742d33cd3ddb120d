// Weighted sums for the M-step.
//
// With t = (x - c_k, 1), a vector of D + 1 values, every statistic of component k is a sum over
// samples of r_nk * t_i * t_j for one pair i >= j: (D, D) gives N_k, (i, D) the first moment,
// (i, j < D) the second moment. Entry e = k * S + pair. Full and tied covariances need every
// pair, S = (D + 1)(D + 2) / 2, in packed order; with DIAG (diag and spherical) only
// (i, i), then (i, D), then (D, D): S = 2 D + 1. Entry K * S sums the per-sample
// log-likelihoods (r = log p(x_n), t = (.., 1)) and entry K * S + 1 the rows' sum_k r log r
// (column K + 1 of the staged values). (k-means sums: kmeans_sums.wgsl.)
//
// A workgroup (block of rows, group of entries) owns WORKGROUP * PER_THREAD consecutive
// entries, PER_THREAD per thread, and walks its rows in tiles of TILE: the tile's samples and
// the responsibilities of the few components its entries touch are staged in workgroup memory
// once and used by every entry, so samples are read once per entry group, not once per
// component.
//
// Precision: each thread sums a tile into `part`, then adds the tile sum to its block total
// (two levels: the error grows with TILE + tiles, not with the row count); blocks are combined
// by reduce_partials.wgsl in a fixed order, so the same input gives the same bits.

override D: u32;
override K: u32;
override WORKGROUP: u32 = 64u;
override TILE: u32 = 32u;
// Most components (plus the two totals' columns) one workgroup's entries touch.
override K_SPAN: u32;
override DIAG: bool = false;
const PER_THREAD: u32 = 8u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> comp: array<f32>;
@group(0) @binding(3) var<storage, read> resp: array<f32>;
@group(0) @binding(4) var<storage, read> loglik: array<f32>;
@group(0) @binding(5) var<storage, read> row_weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

var<workgroup> tile_x: array<f32, TILE * (D + 1u)>;
var<workgroup> tile_r: array<f32, TILE * K_SPAN>;

fn row_weight(row: u32) -> f32 {
  if (chunk.has_row_weights == 1u) {
    return row_weights[chunk.row_offset + row];
  }
  return 1.0;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = wid.x;
  let width = D + 1u;
  var pairs = width * (width + 1u) / 2u;
  var precision_size = D * (D + 1u) / 2u;
  if (DIAG) {
    pairs = 2u * D + 1u;
    precision_size = D;
  }
  let entries = K * pairs + 2u;
  let first_entry = wid.y * WORKGROUP * PER_THREAD;
  let k_first = first_entry / pairs;
  let shift_base = K * D + K * precision_size + K;

  // This thread's entries: local responsibility column, pair (i, j), and the shifts c_ki, c_kj.
  var col: array<u32, PER_THREAD>;
  var pi: array<u32, PER_THREAD>;
  var pj: array<u32, PER_THREAD>;
  var ci: array<f32, PER_THREAD>;
  var cj: array<f32, PER_THREAD>;
  for (var m = 0u; m < PER_THREAD; m++) {
    let e = min(first_entry + m * WORKGROUP + lid, entries - 1u);
    let k = e / pairs;
    var i = 0u;
    var j = D;
    if (k < K && DIAG) {
      let p = e - k * pairs;
      if (p < D) {
        i = p;
        j = p;
      } else if (p < 2u * D) {
        i = p - D;
      } else {
        i = D;
      }
    } else if (k < K) {
      let p = e - k * pairs;
      i = u32((sqrt(8.0 * f32(p) + 1.0) - 1.0) * 0.5);
      // Correct the float estimate of the triangular root.
      if (i * (i + 1u) / 2u > p) {
        i--;
      }
      if ((i + 1u) * (i + 2u) / 2u <= p) {
        i++;
      }
      j = p - i * (i + 1u) / 2u;
    } else {
      i = D;
    }
    // The totals: entry K * pairs in column K, K * pairs + 1 in column K + 1.
    col[m] = k - k_first + select(0u, e - K * pairs, k >= K);
    pi[m] = i;
    pj[m] = j;
    ci[m] = 0.0;
    cj[m] = 0.0;
    if (k < K && i < D) {
      ci[m] = comp[shift_base + k * D + i];
    }
    if (k < K && j < D) {
      cj[m] = comp[shift_base + k * D + j];
    }
  }

  var total: array<f32, PER_THREAD>;
  let row_begin = block * chunk.rows_per_block;
  let row_end = min(row_begin + chunk.rows_per_block, chunk.row_count);
  for (var t0 = row_begin; t0 < row_end; t0 += TILE) {
    for (var idx = lid; idx < TILE * width; idx += WORKGROUP) {
      let t = idx / width;
      let i = idx - t * width;
      let row = t0 + t;
      var v = 0.0;
      if (row < row_end) {
        if (i == D) {
          v = 1.0;
        } else {
          v = x[row * D + i];
        }
      }
      tile_x[idx] = v;
    }
    for (var idx = lid; idx < TILE * K_SPAN; idx += WORKGROUP) {
      let t = idx / K_SPAN;
      let k = k_first + idx - t * K_SPAN;
      let row = t0 + t;
      var r = 0.0;
      if (row < row_end) {
        if (k < K) {
          r = resp[row * K + k] * row_weight(row);
        } else if (k == K) {
          // A weight of 0 drops the row, even one whose log-likelihood is -inf (0 * -inf is NaN).
          let w = row_weight(row);
          r = select(0.0, loglik[row] * w, w > 0.0);
        } else if (k == K + 1u) {
          let w = row_weight(row);
          var s = 0.0;
          for (var c = 0u; c < K; c++) {
            let q = resp[row * K + c];
            // r = 0 adds 0 (its log is -inf).
            s += select(0.0, q * log(q), q > 0.0);
          }
          r = select(0.0, s * w, w > 0.0);
        }
      }
      tile_r[idx] = r;
    }
    workgroupBarrier();
    var part: array<f32, PER_THREAD>;
    for (var m = 0u; m < PER_THREAD; m++) {
      part[m] = 0.0;
    }
    for (var t = 0u; t < TILE; t++) {
      let xb = t * width;
      let rb = t * K_SPAN;
      for (var m = 0u; m < PER_THREAD; m++) {
        let a = tile_x[xb + pi[m]] - ci[m];
        let b = tile_x[xb + pj[m]] - cj[m];
        part[m] = fma(tile_r[rb + col[m]] * a, b, part[m]);
      }
    }
    for (var m = 0u; m < PER_THREAD; m++) {
      total[m] += part[m];
    }
    workgroupBarrier();
  }

  let out_base = (chunk.block_offset + block) * entries;
  for (var m = 0u; m < PER_THREAD; m++) {
    let e = first_entry + m * WORKGROUP + lid;
    if (e < entries) {
      partials[out_base + e] = total[m];
    }
  }
}
