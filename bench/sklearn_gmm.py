"""Times scikit-learn's GaussianMixture on the same data and initial model as the webgpu-em bench.

Usage: sklearn_gmm.py DATA.npy INIT.json ITERS
Prints one JSON object: seconds per EM iteration, the mean log-likelihood reached, versions.
Per-iteration time is (fit with ITERS + 1 iterations - fit with 1) / ITERS, so the set-up and the
final E-step scikit-learn adds to every fit cancel out.
"""
import json
import resource
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture


def main() -> None:
    data_path, init_path, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
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

    def fit(n_iter: int) -> tuple[float, GaussianMixture]:
        gmm = GaussianMixture(
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
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gmm.fit(x)
        return time.perf_counter() - started, gmm

    short, _ = fit(1)
    long, gmm = fit(iters + 1)
    # lower_bound_ is the mean log-likelihood at the E-step of iteration iters + 1: the bench runs
    # webgpu-em for 1 warm-up + iters iterations, so both report the same quantity.
    print(
        json.dumps(
            {
                "secondsPerIteration": max(long - short, 0.0) / iters,
                "objective": float(gmm.lower_bound_),
                "nIter": int(gmm.n_iter_),
                "version": sklearn.__version__,
                "dtype": str(x.dtype),
                "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
