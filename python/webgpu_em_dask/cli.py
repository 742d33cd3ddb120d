"""Running the webgpu-em command line (Node) from Python: one place that finds it, runs it with
a timeout, and tells its deliberate one-line errors from crashes."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

# The checkout's launcher, when this package is used from the repository (PYTHONPATH=python).
_CHECKOUT_CLI = Path(__file__).resolve().parents[2] / "bin" / "webgpu-em.js"


class CliError(Exception):
    """The command line refused or failed cleanly (exit 1 or 2 with its one-line error): the
    same input fails the same way again, so it is not retried."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class CliCrash(RuntimeError):
    """The command line died, hung past its timeout or exited without its error line: worth a
    retry (on this worker or another)."""


def _parent_death_hook():
    # Linux: the child gets SIGKILL when the thread that started it dies (a killed Dask worker),
    # so no orphaned GPU process keeps running. Resolved here, before any fork.
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook():
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)

    return hook


_PARENT_DEATH = _parent_death_hook()


@dataclass(frozen=True)
class Runner:
    """How to run the command line, on whichever machine the call happens.

    ``cli``: the launcher (``bin/webgpu-em.js`` or an installed ``webgpu-em``); default
    ``$WEBGPU_EM_CLI``, else the checkout's ``bin/webgpu-em.js``, else ``webgpu-em`` on PATH.
    ``node``: the Node executable for a ``.js`` launcher (default ``$WEBGPU_EM_NODE`` or ``node``).
    ``timeout``: seconds one call may take. ``backend``/``adapter``: as the CLI's options.
    ``data_options``: extra CLI options that read the shards (``--no-header``, ``--dims 16``...).
    """

    cli: Optional[str] = None
    node: Optional[str] = None
    timeout: float = 600.0
    backend: str = "auto"
    adapter: Optional[str] = None
    data_options: tuple = field(default_factory=tuple)

    def argv(self, args: Sequence[str]) -> list:
        cli = self.cli or os.environ.get("WEBGPU_EM_CLI")
        if not cli:
            cli = str(_CHECKOUT_CLI) if _CHECKOUT_CLI.is_file() else shutil.which("webgpu-em")
        if not cli:
            raise CliError(
                "no webgpu-em command line on this machine; install it (npm install -g webgpu-em webgpu), "
                "set $WEBGPU_EM_CLI, or pass cli=",
                2,
            )
        if cli.endswith(".js"):
            return [self.node or os.environ.get("WEBGPU_EM_NODE") or "node", cli, *args]
        return [cli, *args]

    def gpu_options(self) -> list:
        return ["--backend", self.backend, *(["--adapter", self.adapter] if self.adapter else [])]

    def run(self, args: Sequence[str]) -> str:
        """Runs one command; returns its stdout. Raises CliError or CliCrash."""
        argv = self.argv(args)
        # One process: the launcher's child (which filters Dawn's start-up lines) would outlive
        # a killed worker; stderr is read here anyway.
        env = {**os.environ, "WEBGPU_EM_DIRECT": "1"}
        try:
            r = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=env,
                preexec_fn=_PARENT_DEATH,
            )
        except subprocess.TimeoutExpired as e:
            raise CliCrash(f"{' '.join(argv[1:3])}... took longer than {self.timeout} s (timeout=)") from e
        except OSError as e:
            raise CliError(f"cannot run {argv[0]}: {e}; set node= or cli=", 2) from e
        if r.returncode == 0:
            return r.stdout
        errors = [line for line in r.stderr.splitlines() if line.startswith("webgpu-em: error: ")]
        if r.returncode in (1, 2) and errors:
            raise CliError(errors[-1][len("webgpu-em: error: ") :], r.returncode)
        tail = " | ".join(r.stderr.strip().splitlines()[-3:])
        raise CliCrash(f"{' '.join(argv)} exited with {r.returncode}: {tail or 'no message'}")
