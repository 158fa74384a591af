"""Local worker processes: start them as fresh interpreters, reap them, stop them all.

Workers are started with ``subprocess.Popen([sys.executable, "-m", "tuner", "worker",
"--connect", ENDPOINT, "--local"])`` (plus ``--keys DIR`` when the pool uses CURVE): a fresh
interpreter, never a fork (a forked ZeroMQ context is unsafe).  ``--local`` makes a worker
that lost its broker exit instead of reconnecting (its pool is gone; a remote worker waits for
the next one), and exit when its parent process dies, so a pool killed with SIGKILL leaves
no orphans behind.  The child gets the
parent's ``sys.path`` through ``PYTHONPATH``, as multiprocessing's spawn does, so
functions pickled by reference import in the worker.

The supervisor is driven by the broker thread (one owner, no locks): the broker watches each
process's pidfd (Linux) in its poll loop, so a ``kill -9`` is noticed at once, and calls
:meth:`Supervisor.reap` and :meth:`Supervisor.spawn` to keep the pool at ``max_workers``.
:meth:`Supervisor.stop_all` terminates, waits with a timeout, then kills: no zombie and no
orphan is left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Final

__all__ = ["WORKER_MODULE", "Supervisor"]

WORKER_MODULE: Final = "tuner.pool.worker"
"""The module implementing ``python -m tuner worker`` (also runnable as ``python -m``)."""

_TERMINATE_WAIT_S: Final = 2.0


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [p for p in sys.path if isinstance(p, str) and p]
    old = env.get("PYTHONPATH")
    if old:
        paths.append(old)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


class Supervisor:
    """Starts and stops the pool's local worker processes.

    Parameters
    ----------
    endpoint : str
        The broker endpoint the workers connect to.
    keys_dir : str, optional
        CURVE key directory passed to the workers as ``--keys``.
    """

    def __init__(self, endpoint: str, *, keys_dir: str | None = None) -> None:
        self.endpoint = endpoint
        self.keys_dir = keys_dir
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.started = 0
        self.exited = 0
        self._env = _child_env()

    def command(self) -> list[str]:
        """The command line of one worker."""
        cmd = [sys.executable, "-m", "tuner", "worker", "--connect", self.endpoint, "--local"]
        if self.keys_dir is not None:
            cmd += ["--keys", self.keys_dir]
        return cmd

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start one worker process; returns its Popen."""
        proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, env=self._env, close_fds=True
        )
        self.procs[proc.pid] = proc
        self.started += 1
        return proc

    def reap(self, pid: int) -> int | None:
        """Collect the exit status of ``pid`` if it has exited (None while it runs)."""
        proc = self.procs.get(pid)
        if proc is None:
            return None
        code = proc.poll()
        if code is not None:
            del self.procs[pid]
            self.exited += 1
        return code

    def reap_all(self) -> list[int]:
        """Reap every exited worker; returns their pids."""
        gone = [pid for pid, proc in self.procs.items() if proc.poll() is not None]
        for pid in gone:
            self.reap(pid)
        return gone

    def kill(self, pid: int) -> None:
        """Send SIGKILL to one worker (a worker the broker presumes dead but that lives on)."""
        proc = self.procs.get(pid)
        if proc is not None and proc.poll() is None:
            proc.kill()

    def stop_all(self, timeout_s: float = _TERMINATE_WAIT_S) -> None:
        """Terminate every worker, wait up to ``timeout_s``, kill the rest, reap them all."""
        procs = list(self.procs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout_s
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        for proc in procs:
            proc.wait()
        self.exited += len(procs)
        self.procs.clear()

    def __len__(self) -> int:
        return len(self.procs)

    def __repr__(self) -> str:
        return f"<Supervisor {self.endpoint}: {len(self.procs)} processes, {self.started} started>"
