"""Times scikit-learn's KMeans (Lloyd) on the same data and initial centres as the webgpu-em bench.

Usage: sklearn_kmeans.py DATA.npy INIT.json ITERS TIMING_ITERS
Prints one JSON object: seconds per Lloyd iteration, the inertia per sample reached, versions.
"""
import json
import sys

import numpy as np
from sklearn.cluster import KMeans

from sklearn_timing import per_iteration, report


def main() -> None:
    data_path, init_path, iters, timing_iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    x = np.load(data_path)
    with open(init_path) as f:
        init = json.load(f)
    means = np.asarray(init["means"], dtype=x.dtype)

    def make(n_iter: int) -> KMeans:
        return KMeans(n_clusters=len(means), init=means, n_init=1, max_iter=n_iter, tol=0.0, algorithm="lloyd")

    seconds, km, timed = per_iteration(make, x, iters, timing_iters)
    # inertia_ is that of the final centres (after iters + 1 updates), from one more assignment;
    # the webgpu-em bench reports the same after its warm-up and iters timed iterations.
    report(seconds, float(km.inertia_) / len(x), int(km.n_iter_), timed)


if __name__ == "__main__":
    main()
