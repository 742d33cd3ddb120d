// E-step for Gaussian mixtures: one thread per sample.
// For every component k: log p_k = log_const_k - 0.5 * ||M_k (x - mu_k)||^2, where M_k is the
// inverse Cholesky factor of Sigma_k (packed lower; full and tied covariances) or, with DIAG,
// the diagonal 1 / sigma_k (diag and spherical: D multiply-adds per component, not D^2), and
// log_const_k = log w_k + log det M_k - D/2 log(2 pi), computed on the host in float64. The per-sample log-likelihood is the
// log-sum-exp over k (max subtracted first, so far-away samples give no 0/0) and the
// responsibilities are exp(log p_k - lse).
//
// What it writes, by override: RESP the responsibilities (K per row) into `resp`, which also holds
// the log-densities between the loops over k; LOGLIK the log-likelihood into `loglik`; LABELS
// the most probable component into `labels`: the first k of largest responsibility (the values
// RESP would write, compared in order, so the host's argmax of `resp` picks the same), with bit
// 31 set when the log-likelihood is not finite. Without RESP no N x K buffer exists: the
// log-densities wait in workgroup memory, one column of K per lane (LP_TILE = WORKGROUP x K
// floats), or where that does not fit (LP_TILE = 1) are computed again, the same bits each time.
// The host binds a 4-byte placeholder to each output it does not ask for.

override D: u32;
override K: u32;
override DIAG: bool = false;
override RESP: bool = true;
override LOGLIK: bool = true;
override LABELS: bool = false;
override WORKGROUP: u32 = 64u;
override LP_TILE: u32 = 1u;
// Full and tied: the row and its difference from each mean in private arrays (a CPU emulation,
// where they are stack memory), or read from storage as the sums go (a GPU, where arrays indexed
// at run time live in scratch memory: 32 KB a wave on RDNA3).
override PRIVATE_ROW: bool = true;
// Diag and spherical: the first loop over k takes the components in blocks of COMPONENT_BLOCK, each
// row value loaded once per block and feeding its components' sums (a GPU). Otherwise (a CPU
// emulation) one component at a time, where a GPU compiler keeps the whole row in registers
// across the components (D = 128: 192 VGPRs, 4 waves per SIMD on RDNA3). The same sums in the
// same order either way: the same bits.
override BLOCKED_DIAG: bool = false;
const COMPONENT_BLOCK: u32 = 8u;
// Largest D of full and tied covariances (their row and difference live in private arrays); diag
// and spherical read the row from storage and take any D.
const MAX_D: u32 = 128u;
const NOT_FINITE: u32 = 0x80000000u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// means (K*D) | precision factors (K*D(D+1)/2, or K*D with DIAG) | log_const (K) | shifts (K*D)
@group(0) @binding(2) var<storage, read> comp: array<f32>;
@group(0) @binding(3) var<storage, read_write> resp: array<f32>;
@group(0) @binding(4) var<storage, read_write> loglik: array<f32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;

var<workgroup> lp_tile: array<f32, LP_TILE>;

fn precision_size() -> u32 {
  if (DIAG) {
    return D;
  }
  return D * (D + 1u) / 2u;
}

fn log_component_diag(row: u32, k: u32) -> f32 {
  let chol_base = K * D + k * D;
  var maha = 0.0;
  for (var i = 0u; i < D; i++) {
    let y = (x[row * D + i] - comp[k * D + i]) * comp[chol_base + i];
    maha = fma(y, y, maha);
  }
  return comp[K * D + K * D + k] - 0.5 * maha;
}

// log p_k of components k0 .. k0 + COMPONENT_BLOCK - 1 (those past K repeat the last) for a
// diagonal precision, as log_component_diag computes each.
fn log_components_diag(row: u32, k0: u32) -> array<f32, COMPONENT_BLOCK> {
  var maha: array<f32, COMPONENT_BLOCK>;
  for (var b = 0u; b < COMPONENT_BLOCK; b++) {
    maha[b] = 0.0;
  }
  // The loop's end as a value the compiler cannot see (every row here is below row_count): a GPU
  // compiler unrolls a short loop of constant trip count, and its 2 x COMPONENT_BLOCK uniform
  // loads a feature then fill the scalar registers (hundreds spilled at D = 8 to 40).
  let end = select(D, 0u, row >= chunk.row_count);
  for (var i = 0u; i < end; i++) {
    let v = x[row * D + i];
    for (var b = 0u; b < COMPONENT_BLOCK; b++) {
      let k = min(k0 + b, K - 1u);
      let y = (v - comp[k * D + i]) * comp[K * D + k * D + i];
      maha[b] = fma(y, y, maha[b]);
    }
  }
  var lp: array<f32, COMPONENT_BLOCK>;
  for (var b = 0u; b < COMPONENT_BLOCK; b++) {
    lp[b] = comp[K * D + K * D + min(k0 + b, K - 1u)] - 0.5 * maha[b];
  }
  return lp;
}

// ||M_k (x - mu_k)||^2 with x - mu_k formed as the sums go: no private array. The factor and the
// mean are read at the same address by every lane (one broadcast load), the row from the cache.
fn maha_streamed(row: u32, k: u32) -> f32 {
  let chol_base = K * D + k * precision_size();
  var maha = 0.0;
  for (var i = 0u; i < D; i++) {
    let at = chol_base + i * (i + 1u) / 2u;
    var y = 0.0;
    for (var j = 0u; j <= i; j++) {
      y = fma(comp[at + j], x[row * D + j] - comp[k * D + j], y);
    }
    maha = fma(y, y, maha);
  }
  return maha;
}

fn log_component(row: u32, x_row: ptr<function, array<f32, MAX_D>>, k: u32) -> f32 {
  let packed = precision_size();
  let chol_base = K * D + k * packed;
  let log_const = comp[K * D + K * packed + k];
  if (!PRIVATE_ROW) {
    return log_const - 0.5 * maha_streamed(row, k);
  }
  var diff: array<f32, MAX_D>;
  for (var i = 0u; i < D; i++) {
    diff[i] = (*x_row)[i] - comp[k * D + i];
  }
  var maha = 0.0;
  for (var i = 0u; i < D; i++) {
    let row = chol_base + i * (i + 1u) / 2u;
    var y = 0.0;
    for (var j = 0u; j <= i; j++) {
      y = fma(comp[row + j], diff[j], y);
    }
    maha = fma(y, y, maha);
  }
  return log_const - 0.5 * maha;
}

fn log_density(row: u32, k: u32, x_row: ptr<function, array<f32, MAX_D>>) -> f32 {
  if (DIAG) {
    return log_component_diag(row, k);
  }
  return log_component(row, x_row, k);
}

// log p_k of this lane's row, kept from the first loop over k.
fn keep(row: u32, lane: u32, k: u32, lp: f32) {
  if (RESP) {
    resp[row * K + k] = lp;
  } else if (LP_TILE >= WORKGROUP * K) {
    lp_tile[k * WORKGROUP + lane] = lp;
  }
}

fn kept(row: u32, lane: u32, k: u32, x_row: ptr<function, array<f32, MAX_D>>) -> f32 {
  if (RESP) {
    return resp[row * K + k];
  }
  if (LP_TILE >= WORKGROUP * K) {
    return lp_tile[k * WORKGROUP + lane];
  }
  return log_density(row, k, x_row);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * chunk.grid_width + wid.x) * WORKGROUP + lid;
  if (row >= chunk.row_count) {
    return;
  }
  var x_row: array<f32, MAX_D>;
  if (!DIAG && PRIVATE_ROW) {
    for (var i = 0u; i < D; i++) {
      x_row[i] = x[row * D + i];
    }
  }
  var max_lp = -3.0e38;
  if (DIAG && BLOCKED_DIAG) {
    for (var k0 = 0u; k0 < K; k0 += COMPONENT_BLOCK) {
      let lps = log_components_diag(row, k0);
      for (var b = 0u; b < COMPONENT_BLOCK; b++) {
        if (k0 + b < K) {
          keep(row, lid, k0 + b, lps[b]);
          max_lp = max(max_lp, lps[b]);
        }
      }
    }
  } else {
    for (var k = 0u; k < K; k++) {
      let lp = log_density(row, k, &x_row);
      keep(row, lid, k, lp);
      max_lp = max(max_lp, lp);
    }
  }
  var total = 0.0;
  for (var k = 0u; k < K; k++) {
    total += exp(kept(row, lid, k, &x_row) - max_lp);
  }
  let lse = max_lp + log(total);
  var best = 0u;
  var best_r = 0.0;
  for (var k = 0u; k < K; k++) {
    let r = exp(kept(row, lid, k, &x_row) - lse);
    if (RESP) {
      resp[row * K + k] = r;
    }
    if (k == 0u || r > best_r) {
      best = k;
      best_r = r;
    }
  }
  if (LOGLIK) {
    loglik[row] = lse;
  }
  if (LABELS) {
    let finite = (bitcast<u32>(lse) & 0x7f800000u) != 0x7f800000u;
    labels[row] = select(best | NOT_FINITE, best, finite);
  }
}
