"""The Dask driver's refusals name what the user gave: a shard whose weights are all 0 adds
nothing (weight 0 leaves a row out) and only every shard of weight 0 stops the fit; shards of
different D name the one that differs, its D and the others', never a temporary file."""

import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

try:
    from distributed import Client, LocalCluster
except ImportError:  # pragma: no cover - CI=true turns this into a failure below
    Client = LocalCluster = None

from webgpu_em_dask import Runner, Shard, ShardError, fit_gmm, fit_kmeans

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / "bin" / "webgpu-em.js")
ROWS = 60


def cli(*args):
    r = subprocess.run(
        ["node", CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, "WEBGPU_EM_DIRECT": "1"}
    )
    if r.returncode != 0:
        raise AssertionError(f"webgpu-em {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def rows(seed, d, n=ROWS):
    """Two clusters in D columns, offset from zero."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        centre = 4.0 * (i % 2)
        out.append(",".join(repr(10.0 + centre + j + rng.gauss(0, 1)) for j in range(d)))
    return out


def seed_picking(index, n_shards):
    """A seed whose start is shard `index` (the driver's seeded pick)."""
    return next(s for s in range(1000) if random.Random(s).randrange(n_shards) == index)


@unittest.skipIf(Client is None and os.environ.get("CI") != "true", "python3-distributed is not installed")
class DaskMessagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if Client is None:
            raise AssertionError("python3-distributed is missing; run scripts/setup.sh (CI=true: not a skip)")
        cls.tmp = tempfile.mkdtemp(prefix="webgpu-em-dask-messages-")
        cls.cluster = LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None, silence_logs=50
        )
        cls.client = Client(cls.cluster)
        cls.runner = Runner(cli=CLI, backend="cpu", timeout=120)
        cls.no_header = Runner(cli=CLI, backend="cpu", timeout=120, data_options=("--no-header",))
        # Three shards of D = 3 with a header, weights of 1 except shard 1's, all 0.
        cls.shards = []
        for i in range(3):
            path = cls.at(f"shard-{i}.csv")
            Path(path).write_text("\n".join(["x,y,z", *rows(i, 3)]) + "\n")
            weights = cls.at(f"w-{i}.txt")
            Path(weights).write_text(("0\n" if i == 1 else "1\n") * ROWS)
            cls.shards.append(Shard(path, weights))
        cls.init = cls.at("init.json")
        cli("gmm", cls.shards[0].path, "-k", "2", "--seed", "1", "--max-iter", "1", "--backend", "cpu",
            "--out", cls.init, "--quiet")
        # Headerless shards for the D tests: 0, 1 and 3 of D = 3, shard 2 of D = 4.
        cls.plain = []
        for i in range(4):
            path = cls.at(f"plain-{i}.csv")
            Path(path).write_text("\n".join(rows(10 + i, 4 if i == 2 else 3)) + "\n")
            cls.plain.append(path)

    @classmethod
    def at(cls, name):
        return os.path.join(cls.tmp, name)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.cluster.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_no_temporary_file(self, message):
        for fragment in ("webgpu-em-stats-", "webgpu-em-driver-", "webgpu-em-init-", "model.json", "stats-"):
            self.assertNotIn(fragment, message)

    # A shard whose weights are all 0.

    def test_zero_weight_shard_adds_nothing(self):
        got = fit_gmm(self.client, self.shards, 2, init=self.init, max_iter=3, tol=0, runner=self.runner)
        without = [self.shards[0], self.shards[2]]
        want = fit_gmm(self.client, without, 2, init=self.init, max_iter=3, tol=0, runner=self.runner)
        self.assertEqual(got["nIter"], 3)
        self.assertAlmostEqual(got["lowerBound"], want["lowerBound"], delta=1e-12 * abs(want["lowerBound"]))
        for a, b in zip(got["model"]["means"], want["model"]["means"]):
            for x, y in zip(a, b):
                self.assertAlmostEqual(x, y, delta=1e-12 * (1 + abs(y)))
        for x, y in zip(got["model"]["weights"], want["model"]["weights"]):
            self.assertAlmostEqual(x, y, delta=1e-12)

    def test_zero_weight_shard_in_kmeans(self):
        got = fit_kmeans(self.client, self.shards, 2, init=self.init, max_iter=2, tol=0, runner=self.runner)
        want = fit_kmeans(
            self.client, [self.shards[0], self.shards[2]], 2, init=self.init, max_iter=2, tol=0, runner=self.runner
        )
        self.assertEqual(got["history"], want["history"])
        self.assertEqual(got["model"]["means"], want["model"]["means"])

    def test_a_seeded_start_on_a_zero_weight_shard_starts_from_another(self):
        seed = seed_picking(1, 3)
        got = fit_gmm(self.client, self.shards, 2, seed=seed, max_iter=2, runner=self.runner)
        self.assertEqual(got["nIter"], 2)
        self.assertEqual(len(got["model"]["means"]), 2)

    def test_every_shard_of_weight_0_is_the_error(self):
        zero = self.at("w-zero.txt")
        Path(zero).write_text("0\n" * ROWS)
        shards = [Shard(s.path, zero) for s in self.shards]
        for kw in (dict(init=self.init), dict(seed=4)):
            with self.assertRaises(ShardError) as caught:
                fit_gmm(self.client, shards, 2, max_iter=2, runner=self.runner, **kw)
            message = str(caught.exception)
            self.assertIn("every shard's weights sum to 0", message)
            self.assertIn("3 shards", message)
            self.assert_no_temporary_file(message)

    # Shards of different D.

    def assert_names_the_odd_shard(self, message):
        self.assertIn(f"shard 2 ({self.plain[2]})", message)
        self.assertIn("D = 4", message)
        self.assertIn("the other 3 shards have D = 3", message)
        for i in (0, 1, 3):
            self.assertNotIn(self.plain[i], message)
        self.assert_no_temporary_file(message)

    def test_a_seeded_start_on_the_odd_shard_blames_it(self):
        # The start is fitted to shard 2 (D = 4): the other three fail under that model.
        with self.assertRaises(ShardError) as caught:
            fit_gmm(self.client, self.plain, 2, seed=seed_picking(2, 4), max_iter=2, runner=self.no_header)
        self.assertEqual(caught.exception.index, 2)
        self.assert_names_the_odd_shard(str(caught.exception))

    def test_an_init_model_names_the_odd_shard_not_the_model_copy(self):
        init = self.at("plain-init.json")
        cli("gmm", self.plain[0], "-k", "2", "--no-header", "--max-iter", "1", "--backend", "cpu", "--out", init,
            "--quiet")
        with self.assertRaises(ShardError) as caught:
            fit_kmeans(self.client, self.plain, 2, init=init, max_iter=2, runner=self.no_header)
        self.assert_names_the_odd_shard(str(caught.exception))

    def test_an_init_model_of_another_d_than_every_shard(self):
        init = self.at("d2-init.json")
        model = json.loads(Path(self.init).read_text())["model"]
        model = {**model, "nFeatures": 2, "means": [m[:2] for m in model["means"]],
                 "covariances": [[r[:2] for r in c[:2]] for c in model["covariances"]]}
        model.pop("columns", None)
        Path(init).write_text(json.dumps(model))
        same = [self.plain[0], self.plain[1]]
        with self.assertRaises(ShardError) as caught:
            fit_gmm(self.client, same, 2, init=init, max_iter=2, runner=self.no_header)
        message = str(caught.exception)
        self.assertIn("the initial model has D = 2 features but every shard has D = 3", message)
        self.assert_no_temporary_file(message)


if __name__ == "__main__":
    unittest.main()
