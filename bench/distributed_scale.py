"""Distributed EM on paper: times one worker's `webgpu-em stats` on shards of two sizes and the
driver's `webgpu-em mstep` over S statistics files, on this machine, and extrapolates one
iteration of N points in S shards on W workers (default: N = 1e9, D = 16, K = 32, full, W = 100).

    /usr/bin/python3 bench/distributed_scale.py [--rows 50000,200000] [--shards 100,1000]
        [--backend webgpu] [--n 1e9] [--workers 100] [--d 16] [--k 32]

Per iteration each worker reads its shards once (S/W shards of N/S rows) and sends
K(D+1)(D+2)/2 + 1 numbers per shard (plus the K x D shifts) to the driver, which merges them in
float64 and takes the M-step. Only the shard pass grows with N; the merge grows with S."""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / "bin" / "webgpu-em.js")


def run(*args):
    started = time.perf_counter()
    r = subprocess.run(["node", CLI, *args], capture_output=True, text=True, timeout=1200,
                       env={**os.environ, "WEBGPU_EM_DIRECT": "1"})
    if r.returncode != 0:
        raise SystemExit(f"webgpu-em {' '.join(args)} failed: {r.stderr.strip()}")
    return time.perf_counter() - started


def model(d, k, seed=1):
    rng = random.Random(seed)
    eye = [[(1.0 if i == j else 0.1) for j in range(d)] for i in range(d)]
    return {
        "format": "webgpu-em/gmm@1",
        "covarianceType": "full",
        "nFeatures": d,
        "weights": [1.0 / k] * k,
        "means": [[rng.uniform(-10, 10) for _ in range(d)] for _ in range(k)],
        "covariances": [eye for _ in range(k)],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="50000,200000", help="two shard sizes to time")
    p.add_argument("--shards", default="100,1000", help="statistics files to merge")
    p.add_argument("--backend", default="webgpu")
    p.add_argument("--n", type=float, default=1e9)
    p.add_argument("--workers", type=int, default=100)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--k", type=int, default=32)
    a = p.parse_args()
    sizes = [int(x) for x in a.rows.split(",")]
    merges = [int(x) for x in a.shards.split(",")]
    tmp = tempfile.mkdtemp(prefix="webgpu-em-scale-")
    try:
        m = os.path.join(tmp, "model.json")
        Path(m).write_text(json.dumps(model(a.d, a.k)))
        shard_times = {}
        stats_file = None
        for n in sizes:
            shard = os.path.join(tmp, f"shard-{n}.npy")
            run("sample", m, "-n", str(n), "--seed", "2", "--out", shard)
            out = os.path.join(tmp, f"stats-{n}.json")
            # The fastest of three (a shared machine's load only ever adds); the first may compile.
            times = [run("stats", m, shard, "--backend", a.backend, "--out", out, "--quiet") for _ in range(3)]
            shard_times[n] = min(times)
            stats_file = out
            print(f"stats, {n} rows, D={a.d}, K={a.k}, {a.backend}: {min(times):.2f} s a process "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
        stats_bytes = os.path.getsize(stats_file)
        numbers = a.k * (a.d + 1) * (a.d + 2) // 2 + 1
        print(f"statistics of one shard: {numbers} numbers (+ {a.k * a.d} shifts), {stats_bytes / 1024:.0f} KiB of JSON")
        merge_times = {}
        for s in merges:
            files = []
            for i in range(s):
                files.append(os.path.join(tmp, f"part-{i}.json"))
                if not os.path.exists(files[-1]):
                    shutil.copyfile(stats_file, files[-1])
            merge_times[s] = min(
                run("mstep", *files, "--model", m, "--out", os.path.join(tmp, "next.json"), "--quiet")
                for _ in range(2)
            )
            print(f"mstep of {s} statistics files: {merge_times[s]:.2f} s")
        # Per shard: a fixed cost (process, device, compiled pipelines from the cache) plus a
        # cost per row; the merge: a fixed cost plus a cost per file.
        n0, n1 = sizes[0], sizes[-1]
        per_row = (shard_times[n1] - shard_times[n0]) / (n1 - n0)
        fixed = max(shard_times[n0] - per_row * n0, 0.0)
        s0, s1 = merges[0], merges[-1]
        per_file = (merge_times[s1] - merge_times[s0]) / (s1 - s0)
        merge_fixed = max(merge_times[s0] - per_file * s0, 0.0)
        print(f"fit: shard = {fixed:.2f} s + {per_row * 1e6:.2f} s per million rows; "
              f"merge = {merge_fixed:.2f} s + {per_file * 1e3:.2f} ms per shard")
        print(f"\nN = {a.n:.0e}, D = {a.d}, K = {a.k}, W = {a.workers} workers (this machine's {a.backend} as each worker):")
        print("| shards S | rows a shard | shards a worker | worker pass s | to the driver | merge + M-step s | iteration s |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for s in [a.workers, a.workers * 10]:
            rows = a.n / s
            per_worker = math.ceil(s / a.workers)
            worker = per_worker * (fixed + per_row * rows)
            merge = merge_fixed + per_file * s
            mib = s * stats_bytes / 2**20
            print(f"| {s} | {rows:,.0f} | {per_worker} | {worker:,.0f} | {mib:,.1f} MiB | {merge:.1f} | {worker + merge:,.0f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
