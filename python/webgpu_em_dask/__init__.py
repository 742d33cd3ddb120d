"""Exact EM across a Dask cluster: each worker computes its shards' sufficient statistics with
the webgpu-em command line (``webgpu-em stats``), the driver merges them and takes the M-step
(``webgpu-em mstep``). An iteration needs only the sum of every shard's statistics, so the fit
is the single-machine fit of all the data."""

from .cli import CliError, Runner
from .driver import Shard, ShardError, fit_gmm, fit_kmeans

__all__ = ["CliError", "Runner", "Shard", "ShardError", "fit_gmm", "fit_kmeans"]
