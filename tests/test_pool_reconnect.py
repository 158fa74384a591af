"""Remote workers reconnect with backoff (Paranoid Pirate); a pool's own workers never linger.

Real processes throughout: remote workers are ``python -m tuner worker`` children of the test;
a pool that must die abruptly runs in a ``python -c`` child that the test SIGKILLs (a broker
thread cannot be killed in-process).  Heartbeats are fast (0.1 s x 3) so losses are seen in
about 0.3 s; the first reconnect delay is ``wire.reconnect_delay_s(0)`` = 1 s.
"""

from __future__ import annotations

import contextlib
import math
import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

from tuner import wire
from tuner.errors import ConfigError
from tuner.pool import worker
from tuner.pool.executor import WorkerPool
from tuner.pool.supervisor import WORKER_MODULE, Supervisor

from .pool_helpers import WAIT_S, add, wait_until

ROOT = Path(__file__).resolve().parents[1]

FAST = {"heartbeat_interval_s": 0.1, "heartbeat_liveness": 3}
FAST_PROCESS = {"interval": 0.1, "liveness": 3}  # the same, for _pool_process

# A pool in its own process: says "local" when its max_workers=1 local worker joined, waits
# for `remotes` more workers, optionally gives every worker a long task, says "ready", then
# waits to be killed.
_POOL_SCRIPT = """
import sys, time
from tuner import WorkerPool
bind, interval, liveness, remotes, nap = sys.argv[1:6]
pool = WorkerPool(max_workers=1, balancer="round_robin", bind=bind,
                  heartbeat_interval_s=float(interval), heartbeat_liveness=int(liveness))
while not pool.stats().workers:
    time.sleep(0.02)
print("local", flush=True)
while len(pool.stats().workers) < 1 + int(remotes):
    time.sleep(0.02)
if float(nap):
    futures = [pool.submit(time.sleep, float(nap)) for _ in range(4)]
    while not all(w.outstanding for w in pool.stats().workers):
        time.sleep(0.02)
print("ready", flush=True)
sys.stdin.read()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@contextlib.contextmanager
def _remote_worker(endpoint: str, log: Path, *options: str):
    """A ``python -m tuner worker`` child; killed and reaped on the way out if still alive."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, "--connect", endpoint, *options],
            stdin=subprocess.DEVNULL,
            stderr=err,
            env=_env(),
            cwd=ROOT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WAIT_S)


def _gone(proc: psutil.Process) -> bool:
    """Exited (an orphan may stay a zombie if nobody reaps it: that counts as exited)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextlib.contextmanager
def _pool_process(bind: str, log: Path, *, interval: float, liveness: int, remotes=0, nap=0.0):
    """A pool in a child process whose local worker joined; yields (Popen, that worker).

    Read its next line with :func:`_expect` (``b"ready\\n"`` when its remotes joined).  On the
    way out the pool process is killed, and its worker too if still alive.
    """
    args = [bind, str(interval), str(liveness), str(remotes), str(nap)]
    with open(log, "wb") as err:  # the pool's workers inherit it: their messages land here too
        proc = subprocess.Popen(
            [sys.executable, "-c", _POOL_SCRIPT, *args],
            bufsize=0,  # raw pipes: a readline never reads ahead past what select saw
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=_env(),
            cwd=ROOT,
        )
    kids: list[psutil.Process] = []
    try:
        _expect(proc, b"local\n", log)
        kids = psutil.Process(proc.pid).children(recursive=True)
        assert kids, "the pool process has no worker"
        yield proc, kids
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WAIT_S)
        for kid in kids:
            if not _gone(kid):
                with contextlib.suppress(psutil.NoSuchProcess):
                    kid.kill()
        proc.stdin.close()
        proc.stdout.close()


def _expect(proc: subprocess.Popen, line: bytes, log: Path) -> None:
    """The pool process's next line is ``line`` (its stderr, in ``log``, explains if not)."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(WAIT_S), f"timed out waiting for {line!r} from the pool process"
    assert proc.stdout.readline() == line, log.read_text(errors="replace")


def _serves(pool: WorkerPool, pid: int) -> None:
    """The worker ``pid`` is in ``pool`` and gets a share of a round-robin map."""
    wait_until(lambda: pid in {w.pid for w in pool.stats().workers}, f"worker {pid} to join")
    assert list(pool.map(add, range(60), range(60), timeout=WAIT_S)) == [2 * i for i in range(60)]
    by_pid = {w.pid: w for w in pool.stats().workers}
    assert by_pid[pid].local is False
    assert by_pid[pid].tasks_done > 0


# ------------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "options",
    [
        ["--give-up-after", "-1"],
        ["--give-up-after", "nan"],
        ["--give-up-after", "inf"],
        ["--give-up-after", "soon"],
        ["--local", "--give-up-after", "5"],
    ],
)
def test_bad_give_up_options_are_usage_errors(options, capsys):
    assert worker.main(["--connect", "tcp://127.0.0.1:1", *options]) == 2
    err = capsys.readouterr().err
    assert "--give-up-after" in err


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70))
def test_give_up_bound_is_a_finite_number_of_seconds(value):
    if math.isfinite(value) and value >= 0:
        assert worker.Worker("tcp://127.0.0.1:1", give_up_after_s=value).give_up_after_s == float(
            value
        )
    else:
        with pytest.raises(ConfigError, match="give_up_after_s") as info:
            worker.Worker("tcp://127.0.0.1:1", give_up_after_s=value)
        assert info.value.knob == "give_up_after_s"


def test_the_pool_starts_its_own_workers_as_local():
    cmd = Supervisor("ipc:///x", keys_dir="/k").command()
    assert "--local" in cmd
    assert worker._build_parser().parse_args(cmd[cmd.index("--connect") :]).local is True


# ------------------------------------------------------------------------- processes


@contextlib.contextmanager
def _fake_broker():
    """A bare ROUTER on a free loopback port, driven by the test: (socket, endpoint)."""
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        yield router, f"tcp://127.0.0.1:{port}"
    finally:
        router.close(0)
        ctx.term()


def _next_ready(router: zmq.Socket) -> tuple[bytes, wire.Ready]:
    """The next READY (heartbeats and results skipped), with the sender's routing id."""
    deadline = time.monotonic() + WAIT_S
    while True:
        left_ms = int((deadline - time.monotonic()) * 1000)
        assert left_ms > 0 and router.poll(left_ms), "timed out waiting for READY"
        wid, *frames = router.recv_multipart()
        msg = wire.decode(frames, max_message_bytes=wire.MAX_MESSAGE_BYTES, accept=wire.FROM_WORKER)
        if type(msg) is wire.Ready:
            return wid, msg


def _welcome(router: zmq.Socket, wid: bytes) -> None:
    welcome = wire.Welcome(
        credit=1,
        heartbeat_interval_s=0.1,
        heartbeat_liveness=3,
        max_message_bytes=wire.DEFAULT_MAX_MESSAGE_BYTES,
        serializer="cloudpickle",
    )
    router.send_multipart([wid, *wire.encode(welcome)])


def test_after_disconnect_a_remote_worker_says_ready_once_more_then_leaves(tmp_path):
    with (
        _fake_broker() as (router, endpoint),
        _remote_worker(endpoint, tmp_path / "worker.err", "--give-up-after", "120") as remote,
    ):
        first, ready = _next_ready(router)
        assert ready.pid == remote.pid
        _welcome(router, first)
        # a broker that does not know the socket (e.g. restarted on the same port) says so
        router.send_multipart([first, *wire.encode(wire.Disconnect("unknown worker"))])
        second, ready = _next_ready(router)
        assert second != first  # a fresh socket: a new identity, same process
        assert ready.pid == remote.pid
        _welcome(router, second)
        # a pool shutting down says DISCONNECT, then refuses the READY that follows
        router.send_multipart([second, *wire.encode(wire.Disconnect("pool shut down"))])
        third, _ = _next_ready(router)
        router.send_multipart([third, *wire.encode(wire.Disconnect("pool is shutting down"))])
        assert remote.wait(WAIT_S) == 0


def test_a_remote_worker_started_before_its_broker_joins_when_the_broker_appears(tmp_path):
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    log = tmp_path / "worker.err"
    with _remote_worker(endpoint, log, "--give-up-after", "120") as remote:
        # no broker yet: its first session gets no WELCOME and it backs off, still alive
        wait_until(lambda: "reconnecting in" in log.read_text(), "the worker to retry")
        assert remote.poll() is None
        with WorkerPool(max_workers=1, balancer="round_robin", bind=endpoint, **FAST) as pool:
            _serves(pool, remote.pid)
        assert remote.wait(WAIT_S) == 0  # DISCONNECT at shutdown still ends it cleanly


def test_a_remote_worker_reconnects_to_a_new_broker_on_the_same_port(tmp_path):
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    log = tmp_path / "worker.err"
    with _remote_worker(endpoint, log, "--give-up-after", "120") as remote:
        # the first pool dies abruptly (no DISCONNECT) while every worker runs a 1 s task
        pool_log = tmp_path / "pool.err"
        with _pool_process(endpoint, pool_log, remotes=1, nap=1.0, **FAST_PROCESS) as (
            pool_proc,
            kids,
        ):
            _expect(pool_proc, b"ready\n", pool_log)
            pool_proc.kill()
            pool_proc.wait(WAIT_S)
            # its own (--local) worker does not linger
            wait_until(lambda: all(map(_gone, kids)), "the dead pool's local worker to exit")
        assert remote.poll() is None  # the remote one let its task finish and is retrying
        with WorkerPool(max_workers=1, balancer="round_robin", bind=endpoint, **FAST) as pool:
            # Same process, new session: it saw the silence and backed off, or (if this
            # pool came up first) libzmq reconnected its old socket here, this broker said
            # DISCONNECT to the unknown identity and the worker said READY again.  Stale
            # results that old socket may carry are dropped by the broker (never sent them).
            _serves(pool, remote.pid)
            assert pool.stats().protocol_errors == 0
        assert remote.wait(WAIT_S) == 0


def test_a_remote_worker_gives_up_after_the_bound_without_a_broker(tmp_path):
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    lost_log, never_log = tmp_path / "lost.err", tmp_path / "never.err"
    pool_log = tmp_path / "pool.err"
    with (
        # a worker that never meets a broker says so with its own status
        _remote_worker(
            f"tcp://127.0.0.1:{_free_port()}", never_log, "--give-up-after", "0.5"
        ) as never,
        _pool_process(endpoint, pool_log, remotes=1, **FAST_PROCESS) as (pool_proc, _),
        _remote_worker(endpoint, lost_log, "--give-up-after", "1") as lost,
    ):
        _expect(pool_proc, b"ready\n", pool_log)
        pool_proc.kill()
        assert lost.wait(WAIT_S) == worker.EXIT_BROKER_LOST
        assert never.wait(WAIT_S) == worker.EXIT_NO_WELCOME
    assert "giving up" in lost_log.read_text()
    assert "giving up" in never_log.read_text()


def test_a_killed_pools_local_workers_exit_when_their_parent_dies(tmp_path):
    # 100 s of silence would be allowed: only the parent check (once per 1 s heartbeat) ends
    # the orphan this soon.  A short liveness ends it too: see the reconnect test above.
    log = tmp_path / "pool.err"
    with _pool_process("tcp://127.0.0.1:0", log, interval=1.0, liveness=100) as (pool_proc, kids):
        _expect(pool_proc, b"ready\n", log)
        pool_proc.kill()
        pool_proc.wait(WAIT_S)
        wait_until(lambda: all(map(_gone, kids)), "the dead pool's workers to exit")
    assert f"parent process {pool_proc.pid} is gone" in log.read_text()
