"""Times a PyTorch implementation of the bench's EM and Lloyd iterations on the same data and
initial model as the webgpu-em bench: the GPU peer on the same card.

Usage: torch_em.py DATA.npy INIT.json ITERS
INIT.json holds {"model": "gmm" | "kmeans", "weights", "means", "covarianceType", "covariances",
"regCovar"}. Prints one JSON object like the scikit-learn scripts (see sklearn_timing.py).

The iteration is the one PyCave and scikit-learn run, written with matrix products: the
Mahalanobis terms of all components as one GEMM per chunk of rows (full: x times the stacked
precision factors; diag: x^2, x and 1 against the precisions), log-sum-exp over components, then
the M-step with one (D x N)(N x D) product per component. Float32 throughout, with TF32 off so
that the products are true float32 like the WebGPU kernels. The data are centred once on load
(the log-likelihood does not change under a shift) so that float32 second moments do not cancel.
"""
import json
import math
import resource
import sys
import time

import numpy as np
import torch

# Rows per chunk of the E-step's (rows x K*D) intermediate: 2^20 rows x 512 floats = 2 GiB at most.
CHUNK_ELEMENTS = 1 << 29


def main() -> None:
    data_path, init_path, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with open(init_path) as f:
        init = json.load(f)
    x64 = np.load(data_path).astype(np.float64)
    shift = x64.mean(axis=0)
    x = torch.from_numpy((x64 - shift).astype(np.float32)).to(device)
    del x64
    means = torch.tensor(np.asarray(init["means"], dtype=np.float64) - shift, dtype=torch.float32, device=device)

    if init.get("model") == "kmeans":
        step, objective = kmeans_iteration(x, means)
    else:
        weights = torch.tensor(init["weights"], dtype=torch.float32, device=device)
        covariances = torch.tensor(init["covariances"], dtype=torch.float32, device=device)
        step, objective = gmm_iteration(x, weights, means, covariances, init["covarianceType"], float(init["regCovar"]))

    last = step()  # warm-up: kernels, cuBLAS handles, the caching allocator
    times = []
    for _ in range(iters):
        sync(device)
        started = time.perf_counter()
        last = step()
        sync(device)
        times.append(time.perf_counter() - started)
    value = objective(last)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    print(
        json.dumps(
            {
                "secondsPerIteration": float(np.median(times)),
                "objective": value,
                "nIter": iters + 1,
                "version": torch.__version__,
                "device": device,
                "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peakGpuMb": peak_gpu,
            }
        )
    )


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def gmm_iteration(x, weights, means, covariances, covariance_type: str, reg_covar: float):
    """One EM iteration per call: the E-step of the current model (whose mean log-likelihood the
    call returns, as webgpu-em's and scikit-learn's lower bound), then the M-step."""
    n, d = x.shape
    k = means.shape[0]
    state = {"weights": weights, "means": means, "prec": precision_factors(covariances, covariance_type)}
    if covariance_type not in ("full", "diag"):
        raise SystemExit(f"torch_em.py: covariance type {covariance_type} is not benchmarked")

    def log_prob(xc, means, prec):
        if covariance_type == "full":
            # ||(x - mu_k)^T L_k||^2 for all k at once: x @ [L_1 ... L_K] minus mu_k^T L_k.
            stacked = prec.permute(1, 0, 2).reshape(d, k * d)
            bias = torch.einsum("kd,kde->ke", means, prec).reshape(1, k * d)
            y = xc @ stacked - bias
            maha = (y * y).reshape(xc.shape[0], k, d).sum(dim=2)
            log_det = torch.log(torch.diagonal(prec, dim1=1, dim2=2)).sum(dim=1)
        else:
            # sum_i p_ki (x_i - mu_ki)^2 = x^2 . p_k - 2 x . (mu_k p_k) + mu_k^2 . p_k
            p = prec * prec
            maha = (xc * xc) @ p.T - 2.0 * xc @ (means * p).T + (means * means * p).sum(dim=1)
            log_det = torch.log(prec).sum(dim=1)
        return -0.5 * (d * math.log(2 * math.pi) + maha) + log_det

    def step():
        log_w = torch.log(state["weights"])
        rows = max(1, CHUNK_ELEMENTS // (k * d))
        resp = torch.empty((n, k), dtype=x.dtype, device=x.device)
        total = torch.zeros((), dtype=torch.float64, device=x.device)
        for start in range(0, n, rows):
            xc = x[start : start + rows]
            lp = log_prob(xc, state["means"], state["prec"]) + log_w
            lse = torch.logsumexp(lp, dim=1, keepdim=True)
            resp[start : start + rows] = torch.exp(lp - lse)
            total += lse.sum(dtype=torch.float64)
        nk = resp.sum(dim=0) + 10 * torch.finfo(resp.dtype).eps
        new_means = (resp.T @ x) / nk[:, None]
        if covariance_type == "full":
            cov = torch.empty((k, d, d), dtype=x.dtype, device=x.device)
            for j in range(k):
                diff = x - new_means[j]
                cov[j] = (resp[:, j : j + 1] * diff).T @ diff / nk[j]
            cov += reg_covar * torch.eye(d, dtype=x.dtype, device=x.device)
        else:
            avg_x2 = (resp.T @ (x * x)) / nk[:, None]
            cov = avg_x2 - new_means * new_means + reg_covar
        state["weights"] = nk / n
        state["means"] = new_means
        state["prec"] = precision_factors(cov, covariance_type)
        return total / n

    return step, lambda mean_log_likelihood: float(mean_log_likelihood)


def precision_factors(covariances, covariance_type: str):
    """Full: L_k with Sigma_k^-1 = L_k L_k^T (scikit-learn's precisions_cholesky_); diag: 1/sigma."""
    if covariance_type == "diag":
        return torch.rsqrt(covariances)
    chol = torch.linalg.cholesky(covariances)
    eye = torch.eye(covariances.shape[-1], dtype=covariances.dtype, device=covariances.device)
    inv = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False)
    return inv.transpose(1, 2)


def kmeans_iteration(x, centres):
    """One Lloyd iteration per call: nearest centres by ||x||^2 - 2 x.c + ||c||^2 (one GEMM per
    chunk, as Faiss and cuML do), then the mean of each cluster (empty ones keep their centre)."""
    n, d = x.shape
    k = centres.shape[0]
    x_norms = (x * x).sum(dim=1, keepdim=True)
    state = {"centres": centres}

    def labels_of(c):
        rows = max(1, CHUNK_ELEMENTS // k)
        c_norms = (c * c).sum(dim=1)
        out = torch.empty(n, dtype=torch.int64, device=x.device)
        for start in range(0, n, rows):
            xc = x[start : start + rows]
            dist = x_norms[start : start + rows] - 2.0 * xc @ c.T + c_norms
            out[start : start + rows] = dist.argmin(dim=1)
        return out

    def step():
        c = state["centres"]
        labels = labels_of(c)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        sums = torch.zeros_like(c).index_add_(0, labels, x)
        state["centres"] = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], c)
        return state["centres"]

    def inertia_per_sample(c):
        # The winners' distances in the direct form: the expanded one cancels in float32.
        labels = labels_of(c)
        diff = x - c[labels]
        return float((diff * diff).sum(dtype=torch.float64)) / n

    return step, inertia_per_sample


if __name__ == "__main__":
    main()
