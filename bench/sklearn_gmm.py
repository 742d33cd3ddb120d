"""Times scikit-learn's GaussianMixture on the same data and initial model as the webgpu-em bench.

Usage: sklearn_gmm.py DATA.npy INIT.json ITERS TIMING_ITERS
Prints one JSON object: seconds per EM iteration, the mean log-likelihood reached, versions.
"""
import json
import sys

import numpy as np
from sklearn.mixture import GaussianMixture

from sklearn_timing import per_iteration, report


def main() -> None:
    data_path, init_path, iters, timing_iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    x = np.load(data_path)
    with open(init_path) as f:
        init = json.load(f)
    weights = np.asarray(init["weights"], dtype=np.float64)
    means = np.asarray(init["means"], dtype=np.float64)
    covariance_type = init.get("covarianceType", "full")
    covariances = np.asarray(init["covariances"], dtype=np.float64)
    if covariance_type == "diag":
        precisions = 1.0 / covariances
    else:
        precisions = np.linalg.inv(covariances)
        precisions = 0.5 * (precisions + np.transpose(precisions, (0, 2, 1)))

    def make(n_iter: int) -> GaussianMixture:
        return GaussianMixture(
            n_components=len(weights),
            covariance_type=covariance_type,
            tol=0.0,
            reg_covar=float(init.get("regCovar", 1e-6)),
            max_iter=n_iter,
            init_params="random_from_data",
            weights_init=weights,
            means_init=means,
            precisions_init=precisions,
        )

    seconds, gmm, timed = per_iteration(make, x, iters, timing_iters)
    # lower_bound_ is the mean log-likelihood at the E-step of iteration iters + 1: the bench runs
    # webgpu-em for 1 warm-up + iters iterations, so both report the same quantity.
    report(seconds, float(gmm.lower_bound_), int(gmm.n_iter_), timed, dtype=str(x.dtype))


if __name__ == "__main__":
    main()
