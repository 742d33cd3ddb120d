// The body of the k-means assignment, included by kmeans_assign.wgsl and
// kmeans_assign_subgroups.wgsl (see there). Those declare D, K, WRITE_DIST, WORKGROUP, the
// bindings, and how a tile's centre values and norms are loaded: `centre_tile` and `tile_norms`,
// each returning the 8 values of one tile as two vec4s.

// Rows per invocation and centres per tile (two vec4 accumulators); layout.ts KMEANS_ROWS, KMEANS_TILE.
const ROWS: u32 = 4u;
const TILE: u32 = 8u;
const CHANGED: u32 = 0x80000000u;

// The 8 values of one centre tile (one feature's c', or the norms n'), centres 0-3 and 4-7.
struct CentreTile {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

struct Best {
  score: f32,
  index: u32,
  // The second-best score: how clear the choice is.
  second: f32,
}

fn consider(b: Best, score: f32, index: u32) -> Best {
  if (score < b.score) {
    return Best(score, index, b.score);
  }
  return Best(b.score, b.index, min(b.second, score));
}

// Folds the 8 scores of tile t into best (ties: the lowest index, as the tiles come in order).
fn fold(b: Best, s0: vec4<f32>, s1: vec4<f32>, t: u32) -> Best {
  let k = t * TILE;
  var r = consider(b, s0.x, k);
  r = consider(r, s0.y, k + 1u);
  r = consider(r, s0.z, k + 2u);
  r = consider(r, s0.w, k + 3u);
  r = consider(r, s1.x, k + 4u);
  r = consider(r, s1.y, k + 5u);
  r = consider(r, s1.z, k + 6u);
  return consider(r, s1.w, k + 7u);
}

// Whether rounding may have ranked the two best centres wrongly: each score n' - 2 x'.c' is off
// by at most about (D + 2) u (2 |x'| |c'| + ||c'||^2) in float32 (u = 2^-24; a dot product of D
// terms, the rounded x', c' and n'), bounded over the centres by the largest |c'|; twice that
// for safety, and two scores' errors between them.
fn ambiguous(b: Best, x_norm_sq: f32, c_max: f32) -> bool {
  let bound = 2.0 * f32(D + 2u) * 5.9604645e-8 * (2.0 * sqrt(x_norm_sq) * c_max + c_max * c_max);
  return b.second - b.score <= 2.0 * bound;
}

// The nearest centre in the direct form, sum (x - c)^2 on the unshifted values.
fn nearest_direct(row: u32, cols: u32, centre_count: u32) -> u32 {
  var best = 3.0e38;
  var index = 0u;
  for (var k = 0u; k < centre_count; k++) {
    var d2 = 0.0;
    for (var i = 0u; i < cols; i++) {
      let t = x[row * D + i] - centres[k * D + i];
      d2 = fma(t, t, d2);
    }
    if (d2 < best) {
      best = d2;
      index = k;
    }
  }
  return index;
}

fn finish(row: u32, best: Best, cols: u32, x_norm_sq: f32, c_max: f32, centre_count: u32) {
  if (row >= chunk.row_count) {
    return;
  }
  var b = best;
  if (ambiguous(b, x_norm_sq, c_max)) {
    b.index = nearest_direct(row, cols, centre_count);
  }
  var value = b.score;
  if (WRITE_DIST) {
    value = 0.0;
    for (var i = 0u; i < cols; i++) {
      let t = x[row * D + i] - centres[b.index * D + i];
      value = fma(t, t, value);
    }
  }
  dist[row] = value;
  let tag = b.index + 1u;
  let before = labels[row] & ~CHANGED;
  labels[row] = tag | select(0u, CHANGED, before != tag);
}

// The kernel: `lane` (below 8) is the invocation's lane in its subgroup for the subgroup variant.
fn assign_rows(wid: vec3<u32>, lid: u32, lane: u32) {
  let base = (wid.y * chunk.grid_width + wid.x) * WORKGROUP * ROWS + lid;
  // Rows past the end compute on the last row and write nothing (no divergent exit before the loop).
  let last = chunk.row_count - 1u;
  let x0 = min(base, last) * D;
  let x1 = min(base + WORKGROUP, last) * D;
  let x2 = min(base + 2u * WORKGROUP, last) * D;
  let x3 = min(base + 3u * WORKGROUP, last) * D;
  // Loop bounds as values the compiler cannot see: LLVM-based adapters (lavapipe) unroll loops
  // of constant trip count, which costs seconds of compilation at the first dispatch.
  let live = chunk.row_count > 0u;
  let cols = select(0u, D, live);
  let tile_count = select(0u, (K + TILE - 1u) / TILE, live);
  let scale = centres[K * D + D];
  let c_max = centres[K * D + D + 1u];
  let shift = K * D;
  let centre_count = select(0u, K, live);
  // ||x'||^2 of each row, for the rounding bound.
  var n0 = 0.0;
  var n1 = 0.0;
  var n2 = 0.0;
  var n3 = 0.0;
  for (var i = 0u; i < cols; i++) {
    let ms = centres[shift + i];
    let v0 = fma(x[x0 + i], scale, -ms);
    let v1 = fma(x[x1 + i], scale, -ms);
    let v2 = fma(x[x2 + i], scale, -ms);
    let v3 = fma(x[x3 + i], scale, -ms);
    n0 = fma(v0, v0, n0);
    n1 = fma(v1, v1, n1);
    n2 = fma(v2, v2, n2);
    n3 = fma(v3, v3, n3);
  }
  var b0 = Best(3.0e38, 0u, 3.0e38);
  var b1 = b0;
  var b2 = b0;
  var b3 = b0;
  for (var t = 0u; t < tile_count; t++) {
    var a00 = vec4<f32>();
    var a01 = vec4<f32>();
    var a10 = vec4<f32>();
    var a11 = vec4<f32>();
    var a20 = vec4<f32>();
    var a21 = vec4<f32>();
    var a30 = vec4<f32>();
    var a31 = vec4<f32>();
    var c = t * D * 2u;
    for (var i = 0u; i < cols; i++) {
      let ct = centre_tile(c, lane);
      let ms = centres[shift + i];
      let v0 = vec4<f32>(fma(x[x0 + i], scale, -ms));
      let v1 = vec4<f32>(fma(x[x1 + i], scale, -ms));
      let v2 = vec4<f32>(fma(x[x2 + i], scale, -ms));
      let v3 = vec4<f32>(fma(x[x3 + i], scale, -ms));
      a00 = fma(v0, ct.lo, a00);
      a01 = fma(v0, ct.hi, a01);
      a10 = fma(v1, ct.lo, a10);
      a11 = fma(v1, ct.hi, a11);
      a20 = fma(v2, ct.lo, a20);
      a21 = fma(v2, ct.hi, a21);
      a30 = fma(v3, ct.lo, a30);
      a31 = fma(v3, ct.hi, a31);
      c += 2u;
    }
    let nt = tile_norms((tile_count * D + t) * 2u);
    b0 = fold(b0, nt.lo - 2.0 * a00, nt.hi - 2.0 * a01, t);
    b1 = fold(b1, nt.lo - 2.0 * a10, nt.hi - 2.0 * a11, t);
    b2 = fold(b2, nt.lo - 2.0 * a20, nt.hi - 2.0 * a21, t);
    b3 = fold(b3, nt.lo - 2.0 * a30, nt.hi - 2.0 * a31, t);
  }
  finish(base, b0, cols, n0, c_max, centre_count);
  finish(base + WORKGROUP, b1, cols, n1, c_max, centre_count);
  finish(base + 2u * WORKGROUP, b2, cols, n2, c_max, centre_count);
  finish(base + 3u * WORKGROUP, b3, cols, n3, c_max, centre_count);
}
