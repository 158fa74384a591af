"""The far end of the transport floor: a DEALER that echoes every message it receives.

Run by :mod:`benchmarks.pool.floor` as ``python -m benchmarks.pool._echo ENDPOINT``.  It says
``READY`` once, echoes until it receives ``STOP``, and exits on its own after
``IDLE_TIMEOUT_MS`` of silence so that it never outlives a benchmark that died.
"""

from __future__ import annotations

import sys

import zmq

IDLE_TIMEOUT_MS = 30_000
READY = b"READY"
STOP = b"STOP"


def main(argv: list[str] | None = None) -> int:
    """Echo on the DEALER connected to ``argv[0]``; 0 after STOP, 1 after the idle timeout."""
    (endpoint,) = sys.argv[1:] if argv is None else argv
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.rcvtimeo = IDLE_TIMEOUT_MS
    try:
        sock.connect(endpoint)
        sock.send(READY)
        while True:
            try:
                frames = sock.recv_multipart(copy=True)
            except zmq.Again:
                return 1
            if frames == [STOP]:
                return 0
            sock.send_multipart(frames)
    finally:
        sock.close(0)
        ctx.term()


if __name__ == "__main__":
    raise SystemExit(main())
