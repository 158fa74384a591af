"""ZeroMQ sockets for the pool, made in one place, with zmq errors translated to ours.

Every socket the pool opens comes from :func:`make_socket`, which always sets ``LINGER=0``
(a closing context must never block on unsent messages), the high-water marks, and, for the
broker's ROUTER, ``ROUTER_MANDATORY`` (a send to a peer that is gone raises instead of being
dropped silently, so the broker notices).  Any ``zmq.ZMQError`` raised by these helpers, or
inside :func:`translated`, becomes a :class:`~tuner.errors.TransportError` with the cause
chained (DESIGN.md convention 3).

CURVE is not here yet: ``tuner/security.py`` will provide the keys; the broker takes an
optional ``server_keys`` object and refuses a non-loopback TCP bind without one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Final

import zmq

from .errors import TransportError

__all__ = [
    "DEFAULT_HWM",
    "PrivateEndpoint",
    "bind",
    "connect",
    "make_socket",
    "translated",
]

DEFAULT_HWM: Final = 100_000
"""High-water mark (messages) of the pool's sockets; credits keep traffic far below it."""


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Run a block, turning ``zmq.ZMQError`` into :class:`TransportError` naming ``what``."""
    try:
        yield
    except zmq.ZMQError as exc:
        raise TransportError(f"{what}: {exc.strerror}", errno=exc.errno) from exc


def make_socket(
    ctx: zmq.Context,
    socket_type: int,
    *,
    hwm: int = DEFAULT_HWM,
    router_mandatory: bool = False,
) -> zmq.Socket:
    """A new socket with ``LINGER=0``, send/receive HWMs and, optionally, ``ROUTER_MANDATORY``.

    Raises
    ------
    TransportError
        The context is closed or out of sockets.
    """
    with translated("cannot create socket"):
        sock = ctx.socket(socket_type)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, hwm)
            sock.setsockopt(zmq.RCVHWM, hwm)
            if router_mandatory:
                sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        except BaseException:
            sock.close(0)
            raise
    return sock


def bind(sock: zmq.Socket, endpoint: str) -> str:
    """Bind ``sock``; returns the endpoint actually bound (a TCP port 0 or ``*`` resolved).

    Raises
    ------
    TransportError
        The address is in use, not local, or otherwise refused.
    """
    scheme, _, rest = endpoint.partition("://")
    if scheme == "tcp" and rest.endswith(":0"):
        endpoint = endpoint[:-2] + ":*"  # ZeroMQ's spelling of "any free port"
    with translated(f"cannot bind {endpoint}"):
        sock.bind(endpoint)
        bound = sock.getsockopt(zmq.LAST_ENDPOINT)
    return bound.decode() if isinstance(bound, bytes) else str(bound)


def connect(sock: zmq.Socket, endpoint: str) -> None:
    """Connect ``sock`` to ``endpoint`` (ZeroMQ connects in the background)."""
    with translated(f"cannot connect to {endpoint}"):
        sock.connect(endpoint)


class PrivateEndpoint:
    """A private ipc endpoint in a fresh temporary directory (mode 0700), removed by close().

    Attributes
    ----------
    endpoint : str
        ``ipc://<tmpdir>/broker``.
    """

    def __init__(self) -> None:
        self._dir: str | None = tempfile.mkdtemp(prefix="tuner-pool-")
        self.endpoint = f"ipc://{os.path.join(self._dir, 'broker')}"

    def close(self) -> None:
        """Remove the directory (idempotent)."""
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __repr__(self) -> str:
        return f"<PrivateEndpoint {self.endpoint}{'' if self._dir else ' (closed)'}>"
