"""The Dask driver on a LocalCluster of two worker processes: the distributed fit of four shards
equals the command line's single-process fit of their concatenation, from the same initial
model; a worker killed mid-fit changes nothing; a shard that fails to parse stops the fit."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

try:
    from distributed import Client, LocalCluster
except ImportError:  # pragma: no cover - CI=true turns this into a failure below
    Client = LocalCluster = None

from webgpu_em_dask import Runner, ShardError, fit_gmm, fit_kmeans

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / "bin" / "webgpu-em.js")
BACKEND = os.environ.get("WEBGPU_EM_DASK_BACKEND", "webgpu")
ITERATIONS = 10
# The killed-worker fit is shorter: what it tests is the iteration a worker dies in.
KILL_ITERATIONS = 5


def cli(*args):
    r = subprocess.run(
        ["node", CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, "WEBGPU_EM_DIRECT": "1"}
    )
    if r.returncode != 0:
        raise AssertionError(f"webgpu-em {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def write_shards(folder, n_shards=4, rows=400, seed=3):
    """Three Gaussian clusters in D = 3, offset from zero, rows dealt into shards in turn."""
    rng = random.Random(seed)
    centres = [(10.0, 20.0, -5.0), (14.0, 17.0, -1.0), (8.0, 26.0, -3.0)]
    spread = [0.8, 1.5, 1.0]
    shards = [["x,y,z"] for _ in range(n_shards)]
    everything = ["x,y,z"]
    for n in range(n_shards * rows):
        c = rng.randrange(3)
        row = ",".join(repr(m + rng.gauss(0, spread[c]) * (1 + 0.3 * j)) for j, m in enumerate(centres[c]))
        shards[n % n_shards].append(row)
        everything.append(row)
    paths = []
    for i, lines in enumerate(shards):
        paths.append(os.path.join(folder, f"shard-{i}.csv"))
        Path(paths[-1]).write_text("\n".join(lines) + "\n")
    whole = os.path.join(folder, "all.csv")
    Path(whole).write_text("\n".join(everything) + "\n")
    return paths, whole


@unittest.skipIf(Client is None and os.environ.get("CI") != "true", "python3-distributed is not installed")
class DaskFitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if Client is None:
            raise AssertionError("python3-distributed is missing; run scripts/setup.sh (CI=true: not a skip)")
        cls.tmp = tempfile.mkdtemp(prefix="webgpu-em-dask-test-")
        cls.shards, cls.whole = write_shards(cls.tmp)
        cls.init = os.path.join(cls.tmp, "init.json")
        # The shared start: a seeded one-step fit of all the data (not the fit under test).
        cli("gmm", cls.whole, "-k", "3", "--seed", "1", "--max-iter", "1", "--backend", "cpu", "--out", cls.init, "--quiet")
        cls.cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
        )
        cls.client = Client(cls.cluster)
        cls.runner = Runner(cli=CLI, backend=BACKEND, timeout=120)
        # The driver's fault handling and k-means loop, on the CPU backend: quicker processes;
        # the GPU's k-means statistics are tested in test/sample-weights.gpu.test.ts.
        cls.cpu = Runner(cli=CLI, backend="cpu", timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.cluster.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def single_process(self, backend, iterations=ITERATIONS):
        out = cli(
            "gmm", self.whole, "--init-model", self.init, "--max-iter", str(iterations), "--tol", "0",
            "--backend", backend, "--json", "--quiet",
        )
        return json.loads(out)

    def distributed(self, runner, iterations=ITERATIONS, **kw):
        return fit_gmm(self.client, self.shards, 3, init=self.init, max_iter=iterations, tol=0, runner=runner, **kw)

    def assert_same_fit(self, got, want, rel_tol, value_tol):
        """rel_tol on the mean log-likelihood; value_tol on means and weights (relative to 1 + |v|)."""
        self.assertEqual(got["nIter"], want["nIter"])
        self.assertEqual(got["nSamples"], want["nSamples"])
        rel = abs(got["lowerBound"] - want["lowerBound"]) / abs(want["lowerBound"])
        self.assertLess(rel, rel_tol, f"lower bounds {got['lowerBound']} vs {want['lowerBound']}")
        for a, b in zip(got["model"]["means"], want["model"]["means"]):
            for x, y in zip(a, b):
                self.assertAlmostEqual(x, y, delta=value_tol * (1 + abs(y)))
        for x, y in zip(got["model"]["weights"], want["model"]["weights"]):
            self.assertAlmostEqual(x, y, delta=value_tol)

    def test_1_equals_single_process_fit(self):
        want = self.single_process(BACKEND)
        got = self.distributed(self.runner)
        print(f"\n  {BACKEND}: distributed {got['lowerBound']!r} vs single {want['lowerBound']!r} "
              f"({got['seconds']:.1f} s for {ITERATIONS} iterations)", file=sys.stderr)
        # float32 sums of four shards against those of the whole: 1e-6 relative (measured 5e-8).
        self.assert_same_fit(got, want, 1e-6, 1e-4)
        # The result starts the command line again: it reads the model back.
        model = os.path.join(self.tmp, "fitted.json")
        Path(model).write_text(json.dumps(got))
        labels = cli("predict", model, self.shards[0], "--backend", "cpu").split()
        self.assertEqual(len(labels), 400)

    def test_2_survives_a_killed_worker(self):
        pids = self.client.run(os.getpid)
        killed = []

        def killer(iteration, _lower_bound):
            if iteration != 2 or killed:
                return

            def kill_busy_worker():
                # A worker busy with a stats task of the next iteration, killed mid-task.
                deadline = time.time() + 30
                while time.time() < deadline:
                    busy = [w for w, keys in self.client.processing().items() if any("stats" in str(k) for k in keys)]
                    if busy and busy[0] in pids:
                        time.sleep(0.1)
                        os.kill(pids[busy[0]], signal.SIGKILL)
                        killed.append((busy[0], time.time()))
                        return
                    time.sleep(0.05)

            threading.Thread(target=kill_busy_worker, daemon=True).start()

        got = self.distributed(self.cpu, KILL_ITERATIONS, callback=killer)
        ended = time.time()
        self.assertEqual(len(killed), 1, "no worker was killed during the fit")
        address, when = killed[0]
        self.assertLess(when, ended - 1, "the worker was killed only as the fit ended")
        with self.assertRaises(ProcessLookupError):
            os.kill(pids[address], 0)
        # On the CPU, float64 sums: the single-process fit to rounding.
        self.assert_same_fit(got, self.single_process("cpu", KILL_ITERATIONS), 1e-12, 1e-9)

    def test_3_a_bad_shard_stops_the_fit_naming_it(self):
        bad = os.path.join(self.tmp, "bad.csv")
        lines = Path(self.shards[1]).read_text().splitlines()
        lines[5] = "1.0,oops,3.0"
        Path(bad).write_text("\n".join(lines) + "\n")
        with self.assertRaises(ShardError) as caught:
            fit_gmm(self.client, [self.shards[0], bad], 3, init=self.init, max_iter=2, runner=self.cpu)
        message = str(caught.exception)
        self.assertIn("bad.csv", message)
        self.assertRegex(message, r"line 6")

    def test_4_kmeans_and_seeded_start(self):
        first = fit_kmeans(self.client, self.shards, 3, max_iter=20, seed=5, runner=self.cpu)
        print(f"\n  k-means: {first['nIter']} iterations, {first['seconds']:.1f} s", file=sys.stderr)
        self.assertTrue(first["converged"])
        self.assertEqual(first["nSamples"], 1600)
        self.assertEqual(first["model"]["format"], "webgpu-em/kmeans@1")
        inertias = first["history"]
        self.assertTrue(all(b <= a * (1 + 1e-6) for a, b in zip(inertias, inertias[1:])), inertias)
        # The same seed starts from the same centres: the same first inertia.
        again = fit_kmeans(self.client, self.shards, 3, max_iter=1, seed=5, runner=self.cpu)
        self.assertEqual(again["history"][0], inertias[0])
        # A mixture's means start k-means too.
        from_mixture = fit_kmeans(self.client, self.shards, 3, init=self.init, max_iter=1, runner=self.cpu)
        self.assertEqual(from_mixture["model"]["format"], "webgpu-em/kmeans@1")
        self.assertEqual(from_mixture["model"]["columns"], ["x", "y", "z"])

if __name__ == "__main__":
    unittest.main()
