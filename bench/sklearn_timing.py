"""What the scikit-learn bench scripts share: per-iteration timing and the JSON they print."""
import json
import resource
import time
import warnings

import sklearn


def per_iteration(make, x, iters: int):
    """Seconds per iteration of make(n_iter).fit(x), and the model fitted with iters + 1 iterations.

    (fit with iters + 1 iterations - fit with 1) / iters: the set-up and the final assignment or
    E-step scikit-learn adds to every fit cancel out.
    """

    def timed(n_iter: int):
        model = make(n_iter)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x)
        return time.perf_counter() - started, model

    short, _ = timed(1)
    long, model = timed(iters + 1)
    return max(long - short, 0.0) / iters, model


def report(seconds_per_iteration: float, objective: float, n_iter: int, **extra) -> None:
    """Prints the one JSON object bench/run.ts reads."""
    print(
        json.dumps(
            {
                "secondsPerIteration": seconds_per_iteration,
                "objective": objective,
                "nIter": n_iter,
                "version": sklearn.__version__,
                "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                **extra,
            }
        )
    )
