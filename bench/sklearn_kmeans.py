"""Times scikit-learn's KMeans (Lloyd) on the same data and initial centres as the webgpu-em bench.

Usage: sklearn_kmeans.py DATA.npy INIT.json ITERS
Prints one JSON object: seconds per Lloyd iteration, the inertia per sample of the last
assignment, versions. Per-iteration time is (fit with ITERS + 1 iterations - fit with 1) / ITERS.
"""
import json
import resource
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.cluster import KMeans


def main() -> None:
    data_path, init_path, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
    x = np.load(data_path)
    with open(init_path) as f:
        init = json.load(f)
    means = np.asarray(init["means"], dtype=x.dtype)

    def fit(n_iter: int) -> tuple[float, KMeans]:
        km = KMeans(n_clusters=len(means), init=means, n_init=1, max_iter=n_iter, tol=0.0, algorithm="lloyd")
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            km.fit(x)
        return time.perf_counter() - started, km

    short, _ = fit(1)
    long, km = fit(iters + 1)
    # inertia_ is that of the final centres (after iters + 1 updates), from one more assignment;
    # the webgpu-em bench reports the same after its warm-up and iters timed iterations.
    print(
        json.dumps(
            {
                "secondsPerIteration": max(long - short, 0.0) / iters,
                "objective": float(km.inertia_) / len(x),
                "nIter": int(km.n_iter_),
                "version": sklearn.__version__,
                "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
