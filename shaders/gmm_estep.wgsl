// E-step for Gaussian mixtures: one thread per sample.
// For every component k: log p_k = log_const_k - 0.5 * ||M_k (x - mu_k)||^2, where M_k is the
// inverse Cholesky factor of Sigma_k (packed lower; full and tied covariances) or, with DIAG,
// the diagonal 1 / sigma_k (diag and spherical: D multiply-adds per component, not D^2), and
// log_const_k = log w_k + log det M_k - D/2 log(2 pi), computed on the host in float64. The per-sample log-likelihood is the
// log-sum-exp over k (max subtracted first, so far-away samples give no 0/0) and the
// responsibilities are exp(log p_k - lse).

override D: u32;
override K: u32;
override DIAG: bool = false;
// Largest D of full and tied covariances (their row and difference live in private arrays); diag
// and spherical read the row from storage and take any D.
const MAX_D: u32 = 128u;
const WORKGROUP: u32 = 64u;

//!include chunk.wgsl

@group(0) @binding(0) var<uniform> chunk: Chunk;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// means (K*D) | precision factors (K*D(D+1)/2, or K*D with DIAG) | log_const (K) | shifts (K*D)
@group(0) @binding(2) var<storage, read> comp: array<f32>;
@group(0) @binding(3) var<storage, read_write> resp: array<f32>;
@group(0) @binding(4) var<storage, read_write> loglik: array<f32>;

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

fn log_component(x_row: ptr<function, array<f32, MAX_D>>, k: u32) -> f32 {
  let packed = precision_size();
  let chol_base = K * D + k * packed;
  let log_const = comp[K * D + K * packed + k];
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

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * chunk.grid_width + wid.x) * WORKGROUP + lid;
  if (row >= chunk.row_count) {
    return;
  }
  var x_row: array<f32, MAX_D>;
  if (!DIAG) {
    for (var i = 0u; i < D; i++) {
      x_row[i] = x[row * D + i];
    }
  }
  var max_lp = -3.0e38;
  for (var k = 0u; k < K; k++) {
    var lp: f32;
    if (DIAG) {
      lp = log_component_diag(row, k);
    } else {
      lp = log_component(&x_row, k);
    }
    resp[row * K + k] = lp;
    max_lp = max(max_lp, lp);
  }
  var total = 0.0;
  for (var k = 0u; k < K; k++) {
    total += exp(resp[row * K + k] - max_lp);
  }
  let lse = max_lp + log(total);
  for (var k = 0u; k < K; k++) {
    resp[row * K + k] = exp(resp[row * K + k] - lse);
  }
  loglik[row] = lse;
}
