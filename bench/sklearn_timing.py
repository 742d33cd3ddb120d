"""What the scikit-learn bench scripts share: per-iteration timing and the JSON they print."""
import json
import resource
import time
import warnings

import sklearn


def _fit(make, x, n_iter: int):
    model = make(n_iter)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x)
    return time.perf_counter() - started, model


def per_iteration(make, x, iters: int, timing_iters: int):
    """Seconds per iteration of make(n_iter).fit(x), and the model fitted with iters + 1 iterations.

    Timed as (fit with timing_iters + 1 iterations - fit with 1) / (the iterations the two fits
    actually ran, from n_iter_): the set-up and the final assignment or E-step scikit-learn adds
    to every fit cancel out, and a fit that stops early (Lloyd stops when no label changes, even
    with tol=0) is divided by what it ran, not by what was asked. Returns also the iterations
    the timing rests on, so a caller can see when they are too few.
    """
    short, first = _fit(make, x, 1)
    long, model = _fit(make, x, timing_iters + 1)
    ran = int(model.n_iter_) - int(first.n_iter_)
    if ran < 1:
        raise SystemExit(f"scikit-learn stopped after {model.n_iter_} iterations: nothing to time")
    # A few fast iterations can be lost in the noise of the two fits (long <= short): time both
    # again and keep each one's fastest; if that still leaves nothing, the whole long fit over its
    # iterations is the bound (set-up included, so never faster than the truth).
    for _ in range(3):
        if long > short:
            break
        short = min(short, _fit(make, x, 1)[0])
        long = min(long, _fit(make, x, timing_iters + 1)[0])
    seconds = (long - short) / ran if long > short else long / max(1, int(model.n_iter_))
    if timing_iters != iters:
        _, model = _fit(make, x, iters + 1)
    return seconds, model, ran


def report(seconds_per_iteration: float, objective: float, n_iter: int, timed_iterations: int, **extra) -> None:
    """Prints the one JSON object bench/run.ts reads."""
    print(
        json.dumps(
            {
                "secondsPerIteration": seconds_per_iteration,
                "objective": objective,
                "nIter": n_iter,
                "timedIterations": timed_iterations,
                "version": sklearn.__version__,
                "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                **extra,
            }
        )
    )
