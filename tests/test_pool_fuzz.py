"""Wire fuzzing of a live broker: random and mutated frames on its socket (issue 3, tests).

One pool listens on loopback TCP for the whole module; a DEALER test socket sends it
hypothesis-generated messages: random bytes, valid-looking msgpack headers and mutated valid
wire messages (frames flipped, truncated, dropped, duplicated; wrong versions; oversized).
After each example the broker must still answer a real client correctly, and every message
that ``tuner.wire.decode`` refuses must be counted in ``stats().protocol_errors``.

Ordering: frames from one DEALER reach the ROUTER in order, so after each example a known-bad
sentinel frame is sent and the test waits until it is counted: by then every frame of the
example has been handled.
"""

from __future__ import annotations

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner import payloads, wire
from tuner.errors import ProtocolError
from tuner.pool.executor import WorkerPool

from .pool_helpers import add, wait_until

WAIT_S = 60
MAX_MESSAGE_BYTES = wire.MIN_MESSAGE_BYTES  # 1 MiB: "oversized" stays cheap to send
SENTINEL = [b"\xc1"]  # never valid msgpack




@pytest.fixture(scope="module")
def pool():
    with WorkerPool(
        max_workers=1, bind="tcp://127.0.0.1:0", max_message_bytes=MAX_MESSAGE_BYTES
    ) as p:
        wait_until(lambda: len(p.stats().workers) == 1, "the worker")
        yield p


@pytest.fixture(scope="module")
def dealer(pool):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(pool.address)
    yield sock
    sock.close(0)
    ctx.term()


# ---------------------------------------------------------------------------- strategies

ids = st.integers(0, wire.MAX_ID)
attempts = st.integers(0, wire.MAX_ATTEMPT)
blobs = st.binary(max_size=64)
texts = st.text(max_size=20)

results = st.builds(
    wire.Result,
    task_id=ids,
    attempt=attempts,
    status=st.sampled_from(list(wire.Status)),
    busy_ns=st.integers(0, 10**12),
    payload=blobs,
)
# Every message type; a valid READY is filtered out by the test (it would make the socket a worker).
valid_messages = st.one_of(
    st.builds(
        wire.Results, st.lists(results, min_size=1, max_size=4, unique_by=lambda r: r.task_id)
    ),
    st.builds(
        wire.Tasks,
        st.lists(
            st.builds(wire.Task, task_id=ids, attempt=attempts, payload=blobs),
            min_size=1,
            max_size=4,
            unique_by=lambda t: t.task_id,
        ),
    ),
    st.just(wire.Heartbeat()),
    st.builds(wire.Disconnect, texts),
    st.builds(
        wire.Welcome,
        credit=st.integers(1, wire.MAX_CREDIT),
        heartbeat_interval_s=st.floats(0.001, 3600.0),
        heartbeat_liveness=st.integers(1, wire.MAX_HEARTBEAT_LIVENESS),
        max_message_bytes=st.integers(wire.MIN_MESSAGE_BYTES, wire.MAX_MESSAGE_BYTES),
        serializer=st.sampled_from(payloads.SERIALIZERS),
    ),
    st.builds(
        wire.Ready,
        pid=st.integers(0, 2**32 - 1),
        host=st.text(min_size=1, max_size=20),
        worker_version=texts,
        python_version=texts,
        credit=st.integers(1, wire.MAX_CREDIT),
    ),
)

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=12,
)


@st.composite
def headers(draw):
    """Valid-looking headers: [version, type, random fields]."""
    version = draw(st.sampled_from([wire.PROTOCOL_VERSION, 0, 1, 99, -1, "2"]))
    code = draw(st.integers(-1, 8))
    fields = draw(st.lists(msgpack_values, max_size=6))
    frames = [msgpack.packb([version, code, *fields])]
    frames += draw(st.lists(blobs, max_size=3))
    return frames


@st.composite
def mutated(draw):
    """A valid message's frames, then one to three mutations."""
    frames = list(wire.encode(draw(valid_messages)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "drop", "duplicate", "version", "big"]))
        i = draw(st.integers(0, len(frames) - 1))
        if op == "flip" and frames[i]:
            j = draw(st.integers(0, len(frames[i]) - 1))
            bit = 1 << draw(st.integers(0, 7))
            frame = bytearray(frames[i])
            frame[j] ^= bit
            frames[i] = bytes(frame)
        elif op == "truncate":
            frames[i] = frames[i][: draw(st.integers(0, max(0, len(frames[i]) - 1)))]
        elif op == "drop" and len(frames) > 1:
            del frames[i]
        elif op == "duplicate":
            frames.insert(i, frames[i])
        elif op == "version":
            try:
                header = msgpack.unpackb(frames[0])
            except Exception:  # an earlier mutation broke the header: leave it broken
                continue
            if isinstance(header, list) and header:
                header[0] = draw(st.integers(0, 300).filter(lambda v: v != wire.PROTOCOL_VERSION))
                frames[0] = msgpack.packb(header)
        elif op == "big":
            frames.append(b"\0" * (MAX_MESSAGE_BYTES + 1))
    return frames


frames_strategy = st.one_of(
    st.lists(st.binary(max_size=64), min_size=1, max_size=4),  # random bytes
    headers(),
    mutated(),
)


def is_valid_ready(frames):
    try:
        msg = wire.decode(frames, max_message_bytes=MAX_MESSAGE_BYTES, accept=wire.FROM_WORKER)
    except ProtocolError:
        return False
    return type(msg) is wire.Ready


def refused(frames):
    """True if the broker must count these frames as a protocol error."""
    try:
        wire.decode(frames, max_message_bytes=MAX_MESSAGE_BYTES, accept=wire.FROM_WORKER)
    except ProtocolError:
        return True
    return False


# ---------------------------------------------------------------------------- the tests

counter = {"x": 0}


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(messages=st.lists(frames_strategy, min_size=1, max_size=5))
def test_fuzzed_frames_are_counted_and_the_broker_keeps_answering(pool, dealer, messages):
    messages = [m for m in messages if not is_valid_ready(m)]
    before = pool.stats().protocol_errors
    bad = sum(refused(m) for m in messages)
    for frames in messages:
        dealer.send_multipart(frames)
    dealer.send_multipart(SENTINEL)
    wait_until(lambda: pool.stats().protocol_errors >= before + bad + 1, "the example and sentinel")
    assert pool.stats().protocol_errors == before + bad + 1
    while dealer.poll(0):  # DISCONNECT answers to valid messages from an unknown peer
        reply = wire.decode(
            dealer.recv_multipart(), max_message_bytes=MAX_MESSAGE_BYTES, accept=wire.FROM_BROKER
        )
        assert type(reply) is wire.Disconnect
    counter["x"] += 1
    x = counter["x"]
    assert pool.submit(add, x, 1).result(timeout=WAIT_S) == x + 1
    assert len(pool.stats().workers) == 1


def test_the_pool_still_maps_correctly_after_the_fuzzing(pool):
    assert list(pool.map(add, range(200), range(200), timeout=WAIT_S)) == [
        2 * i for i in range(200)
    ]
    stats = pool.stats()
    assert stats.worker_deaths == 0
    assert [w.host for w in stats.workers] and stats.protocol_errors > 0
