"""Runner: the command line's one-line errors are CliError (not retried), a hang is CliCrash."""

import os
import unittest
from pathlib import Path

from webgpu_em_dask import CliError, Runner
from webgpu_em_dask.cli import CliCrash

CLI = str(Path(__file__).resolve().parents[2] / "bin" / "webgpu-em.js")


class RunnerTest(unittest.TestCase):
    def test_usage_error_is_clean(self):
        with self.assertRaises(CliError) as caught:
            Runner(cli=CLI).run(["nosuch"])
        self.assertEqual(caught.exception.exit_code, 2)
        self.assertIn("unknown command 'nosuch'", str(caught.exception))

    def test_data_error_is_clean(self):
        with self.assertRaises(CliError) as caught:
            Runner(cli=CLI).run(["mstep", os.devnull])
        self.assertEqual(caught.exception.exit_code, 1)
        self.assertIn("invalid JSON", str(caught.exception))

    def test_a_hang_is_a_crash(self):
        with self.assertRaises(CliCrash) as caught:
            Runner(cli=CLI, timeout=0.05).run(["info", "--backend", "cpu"])
        self.assertIn("took longer than 0.05 s", str(caught.exception))

    def test_the_checkout_cli_is_the_default(self):
        argv = Runner(node="node").argv(["--version"])
        if not os.environ.get("WEBGPU_EM_CLI"):
            self.assertEqual(argv, ["node", CLI, "--version"])
        self.assertRegex(Runner().run(["--version"]), r"^\d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
