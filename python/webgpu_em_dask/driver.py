"""The Dask driver: per iteration one ``webgpu-em stats`` task per shard (on a worker that holds
the shard where possible), the statistics gathered and merged by ``webgpu-em mstep`` (float64),
convergence tested here. The iteration is the single-machine EM step over all the shards."""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from .cli import CliError, Runner
from .options import check, default


@dataclass(frozen=True)
class Shard:
    """One shard: a data file as the workers see it (an absolute path), its optional weights
    file, and the workers that hold it (addresses; default: found by asking every worker)."""

    path: str
    weights: Optional[str] = None
    workers: Optional[tuple] = None


class ShardError(Exception):
    """A shard the command line could not use (it says the file, row and column): the fit stops.
    ``shard`` is its path and ``index`` its place in the list given (None: no one shard, such as
    when every shard's weights sum to 0)."""

    def __init__(self, shard: Optional[str], message: str, index: Optional[int] = None):
        if shard is None:
            text = message
        elif index is None:
            text = f"shard {shard}: {message}"
        else:
            text = f"shard {index} ({shard}): {message}"
        super().__init__(text)
        self.shard = shard
        self.index = index


# What the command line says when a shard's weights are all 0 (gmm and kmeans refuse that).
_ZERO_WEIGHTS = re.compile(r"\bsums? to 0\b")


ShardLike = Union[str, os.PathLike, Shard]
ModelLike = Union[dict, str, os.PathLike]


def fit_gmm(
    client,
    shards: Sequence[ShardLike],
    n_components: int,
    covariance_type: Optional[str] = None,
    init: Optional[ModelLike] = None,
    max_iter: Optional[int] = None,
    tol: Optional[float] = None,
    seed: Optional[int] = None,
    *,
    reg_covar: Optional[float] = None,
    runner: Optional[Runner] = None,
    retries: int = 3,
    callback: Optional[Callable[[int, float], None]] = None,
) -> dict:
    """Fits a Gaussian mixture to the union of the shards with EM on the cluster.

    ``init``: a mixture model (a dict, or a model file as ``gmm --init-model`` reads: a model or a
    result object with ``model``); default: the command line's own seeded initialisation
    (``gmm --seed``) of one shard chosen by ``seed``, and its first EM step. Stops when the mean
    log-likelihood changes by less than ``tol`` (0: exactly ``max_iter`` iterations), as
    ``webgpu-em gmm`` does. ``reg_covar``: default the init model's, else 1e-6. ``callback(it,
    lower_bound)`` after each iteration.

    Returns the result object ``webgpu-em gmm --json`` prints: ``model`` (``webgpu-em/gmm@1``),
    ``converged``, ``nIter``, ``lowerBound``, ``nSamples``, and ``history`` (lower bounds).
    Options left as None take the library's defaults (``options.schema.json``)."""
    model = "GaussianMixture"
    covariance_type = _given(model, "covarianceType", covariance_type, "covariance_type")
    n_components, max_iter, tol, seed = _loop(model, n_components, max_iter, tol, seed)
    extra = ["--covariance", covariance_type]
    if reg_covar is not None:
        check(model, "regCovar", reg_covar, "reg_covar")
        extra += ["--reg-covar", repr(float(reg_covar))]
    return _Fit(client, shards, runner, retries, "gmm", n_components, seed, extra).run(
        init, max_iter, tol, reg_covar, callback, covariance_type
    )


def fit_kmeans(
    client,
    shards: Sequence[ShardLike],
    n_clusters: int,
    init: Optional[ModelLike] = None,
    max_iter: Optional[int] = None,
    tol: Optional[float] = None,
    seed: Optional[int] = None,
    *,
    runner: Optional[Runner] = None,
    retries: int = 3,
    callback: Optional[Callable[[int, float], None]] = None,
) -> dict:
    """Fits k-means (Lloyd) to the union of the shards on the cluster.

    ``init``: a model with means (``webgpu-em/kmeans@1`` or a mixture); default: ``webgpu-em
    kmeans --seed`` on one shard chosen by ``seed``, one Lloyd step. Stops when no centre moved
    or the inertia fell by less than ``tol`` relative (the workers keep no labels between
    iterations, so Lloyd's label count is not available). Returns ``model``, ``converged``,
    ``nIter``, ``inertia``, ``nSamples`` and ``history`` (inertias). Options left as None take
    the library's defaults (``options.schema.json``)."""
    n_clusters, max_iter, tol, seed = _loop("KMeans", n_clusters, max_iter, tol, seed, "nClusters")
    return _Fit(client, shards, runner, retries, "kmeans", n_clusters, seed, []).run(
        init, max_iter, tol, None, callback, None
    )


def _given(model: str, name: str, value, python_name: str):
    """The value given, checked, or the library's default."""
    return default(model, name) if value is None else check(model, name, value, python_name)


def _loop(model: str, k, max_iter, tol, seed, k_name: str = "nComponents"):
    check(model, k_name, k, "the number of components")
    return (
        k,
        _given(model, "maxIter", max_iter, "max_iter"),
        _given(model, "tol", tol, "tol"),
        _given(model, "seed", seed, "seed"),
    )


def _stats_task(runner: Runner, model_text: str, shard: Shard) -> tuple:
    """On a worker: one shard's statistics under the model. A clean CLI error comes back as a
    value (the fit stops); a crash raises (Dask retries it)."""
    with tempfile.TemporaryDirectory(prefix="webgpu-em-stats-") as tmp:
        model = os.path.join(tmp, "model.json")
        out = os.path.join(tmp, "stats.json")
        with open(model, "w", encoding="utf-8") as f:
            f.write(model_text)
        args = ["stats", model, shard.path, "--out", out, "--quiet", *runner.gpu_options()]
        args += ["--weights", shard.weights] if shard.weights else []
        try:
            runner.run([*args, *runner.data_options])
        except CliError as e:
            # The model is this task's temporary copy, gone once it returns: not worth naming.
            return ("error", str(e).replace(model, "the current model"))
        with open(out, encoding="utf-8") as f:
            return ("ok", f.read())


def _columns_task(runner: Runner, shard: Shard) -> tuple:
    """On a worker: how many columns the command line reads from a shard (with the runner's data
    options), by a one-cluster, one-step k-means on the CPU: ("ok", D) or ("error", message)."""
    with tempfile.TemporaryDirectory(prefix="webgpu-em-columns-") as tmp:
        out = os.path.join(tmp, "columns.json")
        args = ["kmeans", shard.path, "-k", "1", "--max-iter", "1", "--backend", "cpu", "--out", out, "--quiet"]
        try:
            runner.run([*args, *runner.data_options])
        except CliError as e:
            return ("error", str(e))
        with open(out, encoding="utf-8") as f:
            return ("ok", json.load(f)["model"]["nFeatures"])


def _init_task(runner: Runner, command: str, k: int, seed: int, extra: list, shard: Shard) -> tuple:
    """On a worker: the command line's seeded initialisation on one shard, one step."""
    with tempfile.TemporaryDirectory(prefix="webgpu-em-init-") as tmp:
        out = os.path.join(tmp, "init.json")
        args = [command, shard.path, "-k", str(k), "--seed", str(seed), "--max-iter", "1"]
        args += ["--out", out, "--quiet", *extra, *runner.gpu_options()]
        args += ["--weights", shard.weights] if shard.weights else []
        try:
            runner.run([*args, *runner.data_options])
        except CliError as e:
            return ("error", str(e))
        with open(out, encoding="utf-8") as f:
            return ("ok", f.read())


def _holdings(paths: list) -> list:
    return [os.path.isfile(p) for p in paths]


class _Fit:
    def __init__(self, client, shards, runner, retries, command, k, seed, extra):
        if not shards:
            raise ValueError("no shards given; pass the data files (paths as the workers see them)")
        self.client = client
        self.shards = [s if isinstance(s, Shard) else Shard(os.fspath(s)) for s in shards]
        self.runner = runner or Runner()
        self.retries = retries
        self.command = command
        self.k = k
        self.seed = seed
        self.extra = extra
        self.fit_id = uuid.uuid4().hex[:8]
        self.holders = self._locate()

    def _locate(self) -> list:
        """The workers that hold each shard (None: every worker, no pinning needed)."""
        unknown = [s.path for s in self.shards if s.workers is None]
        found = self.client.run(_holdings, unknown) if unknown else {}
        if unknown and not found:
            raise RuntimeError(
                "the Dask cluster has no workers; start them (dask worker tcp://SCHEDULER:8786) and retry"
            )
        holders, missing = [], []
        for s in self.shards:
            if s.workers is not None:
                holders.append(list(s.workers))
                continue
            i = unknown.index(s.path)
            have = [w for w, flags in found.items() if flags[i]]
            if not have:
                missing.append(s.path)
            holders.append(None if len(have) == len(found) else have)
        if missing:
            raise ShardError(
                missing[0],
                f"no worker has this file ({len(missing)} shards missing); give paths as the workers "
                "see them, or Shard(path, workers=...)",
            )
        return holders

    def _submit(self, fn, i, key, *args):
        return self.client.submit(
            fn,
            self.runner,
            *args,
            self.shards[i],
            key=key,
            # Preferred, not required: a shard whose holders died is read by another worker that can.
            **({"workers": self.holders[i], "allow_other_workers": True} if self.holders[i] else {}),
            retries=self.retries,
            pure=False,
        )

    def run(self, init, max_iter, tol, reg_covar, callback, covariance_type):
        started = time.perf_counter()
        model = self._initial(init, covariance_type)
        history, previous, converged, result = [], None, False, None
        with tempfile.TemporaryDirectory(prefix="webgpu-em-driver-") as tmp:
            for it in range(1, max_iter + 1):
                text = json.dumps(model)
                futures = [
                    self._submit(_stats_task, i, f"webgpu-em-stats-{self.fit_id}-{it}-{i}", text)
                    for i in range(len(self.shards))
                ]
                try:
                    parts = self.client.gather(futures)
                except BaseException:
                    self.client.cancel(futures)
                    raise
                if it == 1 and any(status != "ok" for status, _ in parts):
                    self._columns_differ(model, parts)
                result = self._mstep(tmp, text, parts, reg_covar)
                value = result["lowerBound" if self.command == "gmm" else "inertia"]
                history.append(value)
                if callback:
                    callback(it, value)
                model = result["model"]
                if self.command == "gmm":
                    converged = previous is not None and abs(value - previous) < tol
                else:
                    converged = result["centerShift"] == 0 or (
                        previous is not None and previous - value <= tol * abs(previous)
                    )
                previous = value
                if converged:
                    break
        out = {"model": model, "converged": converged, "nIter": len(history)}
        out["lowerBound" if self.command == "gmm" else "inertia"] = history[-1]
        out.update(
            nSamples=result["nSamples"],
            shards=len(self.shards),
            history=history,
            seconds=time.perf_counter() - started,
        )
        return out

    def _columns_differ(self, model, parts):
        """Shards that failed under the first model: when their column counts differ from the
        others', the one that differs is named (not the shards that failed because the model was
        fitted to it). A shard that ran has the model's D; the others are asked on their workers."""
        model_d = model.get("nFeatures")
        failed = [i for i, (status, _) in enumerate(parts) if status != "ok"]
        futures = [
            self._submit(_columns_task, i, f"webgpu-em-columns-{self.fit_id}-{i}") for i in failed
        ]
        try:
            probed = dict(zip(failed, self.client.gather(futures)))
        except BaseException:
            self.client.cancel(futures)
            raise
        dims = {}
        for i in range(len(self.shards)):
            if i not in probed:
                dims[i] = model_d
            elif probed[i][0] == "ok":
                dims[i] = probed[i][1]
        groups = {}
        for i, d in dims.items():
            groups.setdefault(d, []).append(i)
        if len(groups) > 1:
            # The most shards share the reference D (a tie: the D of the lowest index).
            ref = max(groups, key=lambda d: (len(groups[d]), -groups[d][0]))
            odd = sorted(i for d, members in groups.items() if d != ref for i in members)
            i = odd[0]
            more = f" ({len(odd)} shards differ)" if len(odd) > 1 else ""
            n = len(groups[ref])
            raise ShardError(
                self.shards[i].path,
                f"it has D = {dims[i]} columns but the other {'shard has' if n == 1 else f'{n} shards have'} "
                f"D = {ref}{more}; give every shard the same columns (rewrite it, or pick them in every shard "
                "with Runner(data_options=('--columns', 'A,B,...'))), or leave it out",
                i,
            )
        if len(groups) == 1 and len(failed) == len(self.shards):
            (d,) = groups
            if model_d is not None and d != model_d:
                raise ShardError(
                    None,
                    f"the initial model has D = {model_d} features but every shard has D = {d} columns; "
                    "give an init model fitted to these columns (or leave init out)",
                )

    def _mstep(self, tmp, model_text, parts, reg_covar) -> dict:
        files = []
        weight = 0.0
        rows = 0
        for i, (status, payload) in enumerate(parts):
            if status != "ok":
                raise ShardError(self.shards[i].path, payload, i)
            files.append(os.path.join(tmp, f"stats-{i}.json"))
            Path(files[-1]).write_text(payload, encoding="utf-8")
            stats = json.loads(payload)
            weight += stats["weightSum"]
            rows += stats["rows"]
        # A shard of weight 0 adds nothing; all of them together leave nothing to fit.
        if not weight > 0:
            raise ShardError(
                None,
                f"every shard's weights sum to 0 ({len(parts)} shards, {rows} rows): nothing to fit; "
                "give some rows a positive weight",
            )
        model_file = os.path.join(tmp, "model.json")
        Path(model_file).write_text(model_text, encoding="utf-8")
        out = os.path.join(tmp, "next.json")
        args = ["mstep", *files, "--model", model_file, "--out", out, "--quiet"]
        if reg_covar is not None:
            args += ["--reg-covar", repr(float(reg_covar))]
        try:
            self.runner.run(args)
        except CliError as e:
            # Name the shards and the model, not this driver's temporary files.
            message = str(e).replace(model_file, "the current model").replace(out, "the next model")
            for i, f in reversed(list(enumerate(files))):
                message = message.replace(f, f"the statistics of shard {i} ({self.shards[i].path})")
            raise CliError(message, e.exit_code) from e
        result = json.loads(Path(out).read_text(encoding="utf-8"))
        for f in [*files, model_file, out]:
            os.remove(f)
        return result

    def _initial(self, init, covariance_type) -> dict:
        if init is not None:
            model = _read_model(init)
            means = model.get("means")
            if not isinstance(means, list) or len(means) != self.k:
                found = len(means) if isinstance(means, list) else "no"
                raise ValueError(f"init has {found} means but {self.k} components were asked for")
            if self.command == "gmm":
                if "covariances" not in model:
                    raise ValueError(
                        "fit_gmm's init must be a mixture (weights, means, covariances); for k-means "
                        "centres, start with webgpu-em gmm --init-model on a sample and pass its model"
                    )
                if model.get("covarianceType") != covariance_type:
                    raise ValueError(
                        f"init has '{model.get('covarianceType')}' covariances but covariance_type is "
                        f"'{covariance_type}'; give one that matches"
                    )
                return model
            # k-means starts from the means of any model: as a k-means model, `stats` gives Lloyd's sums.
            kmeans = {"format": "webgpu-em/kmeans@1", "nFeatures": len(means[0]), "means": means}
            return {**kmeans, **({"columns": model["columns"]} if model.get("columns") else {})}
        # A seeded pick of the shard the command line initialises on; a shard whose weights are
        # all 0 leaves nothing to start from, so the next one is taken.
        first = random.Random(self.seed).randrange(len(self.shards))
        for step in range(len(self.shards)):
            i = (first + step) % len(self.shards)
            key = f"webgpu-em-init-{self.fit_id}-{i}"
            future = self._submit(_init_task, i, key, self.command, self.k, self.seed, self.extra)
            status, payload = future.result()
            if status == "ok":
                return json.loads(payload)["model"]
            if not (self.shards[i].weights and _ZERO_WEIGHTS.search(payload)):
                raise ShardError(self.shards[i].path, payload, i)
        raise ShardError(
            None,
            f"every shard's weights sum to 0 ({len(self.shards)} shards): nothing to fit; "
            "give some rows a positive weight",
        )


def _read_model(init: ModelLike) -> dict:
    if isinstance(init, dict):
        model = init
    else:
        with open(init, encoding="utf-8") as f:
            model = json.load(f)
    if "means" not in model and isinstance(model.get("model"), dict):
        model = model["model"]
    if "means" not in model:
        raise ValueError("init is not a webgpu-em model (no means); pass a model or a result object")
    return model
