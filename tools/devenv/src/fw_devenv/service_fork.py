"""Service processes for tests, forked from a warm interpreter.

Starting ``python -m fw_billing`` costs a few seconds of CPU before the first line of the
service runs (FastAPI, pydantic, the PDF stack); an end-to-end test starts four such processes
and the suite starts well over a hundred. A ``multiprocessing`` fork server imports every
service's ``bootstrap`` once; each service process is then forked from it. It is still a
separate OS process with its own environment, its own log file on stdout/stderr and the
service's real entry point (``runpy`` runs ``fw_<svc>`` as ``__main__``, as ``python -m`` does),
and it is stopped with SIGTERM or killed with SIGKILL like before.

``FW_TEST_SPAWN=exec`` starts a fresh ``python -m fw_<svc>`` instead (to rule the fork out).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import runpy
import subprocess
import sys
from collections.abc import Mapping
from multiprocessing.context import ForkServerContext
from pathlib import Path

#: Imported once by the fork server (a module that fails to import is imported in the child):
#: each service's composition root, which imports all of the service. Not ``__main__`` itself:
#: ``runpy`` would then find it imported already and warn on stderr (into the service's log).
PRELOAD = [f"fw_{svc}.bootstrap" for svc in ("intake", "session", "billing", "retention", "reporting", "web")]

_contexts: dict[str, ForkServerContext] = {}


def _ctx() -> ForkServerContext:
    """The fork server context, created (with its preload list) on first use."""
    if "forkserver" not in _contexts:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _contexts["forkserver"] = ctx
    return _contexts["forkserver"]


def _run_service(module: str, env: dict[str, str], log_path: str) -> None:
    """In the forked child: stdout and stderr to the log, the given environment, ``-m module``."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # as a fresh interpreter whose stdout is a file: block-buffered stdout, line-buffered stderr
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [module]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class ForkedService:
    """The parts of :class:`subprocess.Popen` the tests use, for a forked service process."""

    def __init__(self, module: str, env: Mapping[str, str], log_path: Path) -> None:
        self._proc = _ctx().Process(target=_run_service, args=(module, dict(env), str(log_path)),
                                    name=module, daemon=True)
        self._proc.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.exitcode

    def poll(self) -> int | None:
        return self._proc.exitcode

    def terminate(self) -> None:
        self._proc.terminate()

    def kill(self) -> None:
        self._proc.kill()

    def wait(self, timeout: float | None = None) -> int:
        self._proc.join(timeout)
        code = self._proc.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self._proc.name, timeout or 0)
        return code


def spawn_service(module: str, env: Mapping[str, str], log_path: Path) -> ForkedService | subprocess.Popen[bytes]:
    """Start ``python -m module`` with ``env``, stdout and stderr appended to ``log_path``."""
    if os.environ.get("FW_TEST_SPAWN", "fork") == "exec":
        with log_path.open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", module], env=dict(env), stdout=log,
                                    stderr=subprocess.STDOUT)
    return ForkedService(module, env, log_path)
