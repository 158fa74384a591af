"""tuner.wire: round trips, hostile frames, payload pickling and remote exceptions."""

from __future__ import annotations

import pickle
import threading
import traceback

import msgpack
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tuner import payloads, wire
from tuner.errors import (
    ConfigError,
    ProtocolError,
    RemoteError,
    RemoteTraceback,
    SerializationError,
)
from tuner.wire import (
    FROM_BROKER,
    FROM_WORKER,
    Disconnect,
    Heartbeat,
    MessageType,
    Ready,
    Result,
    Results,
    Status,
    Task,
    Tasks,
    Welcome,
    decode,
    encode,
)

LIMIT = 2**20  # max_message_bytes for most tests
V = wire.PROTOCOL_VERSION

# -- strategies ---------------------------------------------------------------------------------

# Text fields are bounded in UTF-8 bytes; 256 characters of up to 4 bytes always fit.
texts = st.text(max_size=256)
blobs = st.binary(max_size=64)
ids = st.integers(0, wire.MAX_ID)
attempts = st.integers(0, wire.MAX_ATTEMPT)

readies = st.builds(
    Ready,
    pid=st.integers(0, 2**32 - 1),
    host=st.text(min_size=1, max_size=256),
    worker_version=texts,
    python_version=texts,
    credit=st.integers(1, wire.MAX_CREDIT),
)
welcomes = st.builds(
    Welcome,
    credit=st.integers(1, wire.MAX_CREDIT),
    heartbeat_interval_s=st.floats(0.001, 3600.0),
    heartbeat_liveness=st.integers(1, wire.MAX_HEARTBEAT_LIVENESS),
    max_message_bytes=st.integers(wire.MIN_MESSAGE_BYTES, wire.MAX_MESSAGE_BYTES),
    serializer=st.sampled_from(payloads.SERIALIZERS),
)
tasks_msgs = st.lists(
    st.builds(Task, task_id=ids, attempt=attempts, payload=blobs),
    min_size=1,
    max_size=20,
    unique_by=lambda t: t.task_id,
).map(Tasks)
results_msgs = st.lists(
    st.builds(
        Result,
        task_id=ids,
        attempt=attempts,
        status=st.sampled_from(Status),
        busy_ns=st.integers(0, 2**64 - 1),
        payload=blobs,
    ),
    min_size=1,
    max_size=20,
    unique_by=lambda r: r.task_id,
).map(Results)
messages = st.one_of(
    readies,
    welcomes,
    tasks_msgs,
    results_msgs,
    st.just(Heartbeat()),
    st.builds(Disconnect, reason=texts),
)


def decodes_or_protocol_error(frames, **kw):
    """The fuzzing oracle: a valid message, or ProtocolError; anything else fails the test."""
    try:
        msg = decode(frames, max_message_bytes=kw.pop("max_message_bytes", LIMIT), **kw)
    except ProtocolError as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return None
    # whatever decodes must re-encode to frames that decode to the same message
    assert decode(encode(msg), max_message_bytes=LIMIT) == msg
    return msg


# -- round trips --------------------------------------------------------------------------------


@given(msg=messages)
def test_every_message_round_trips(msg):
    frames = encode(msg)
    assert all(type(f) is bytes for f in frames)
    assert len(frames[0]) <= wire.MAX_HEADER_BYTES
    assert decode(frames, max_message_bytes=LIMIT) == msg
    assert decode(tuple(frames), max_message_bytes=LIMIT) == msg
    # buffers other than bytes (zmq.Frame, memoryview, bytearray) decode the same
    assert decode([memoryview(f) for f in frames], max_message_bytes=LIMIT) == msg
    assert decode([bytearray(f) for f in frames], max_message_bytes=LIMIT) == msg


@given(msg=st.one_of(tasks_msgs, results_msgs))
def test_all_payloads_travel_in_one_frame(msg):
    frames = encode(msg)
    items = msg.tasks if isinstance(msg, Tasks) else msg.results
    assert len(frames) == 2
    assert frames[1] == b"".join(i.payload for i in items)
    entries = msgpack.unpackb(frames[0])[2]
    assert [e[-1] for e in entries] == [len(i.payload) for i in items]
    decoded = decode(frames, max_message_bytes=LIMIT)
    got = decoded.tasks if isinstance(decoded, Tasks) else decoded.results
    assert [type(i.payload) for i in got] == [bytes] * len(items)
    assert [i.payload for i in got] == [i.payload for i in items]


def test_header_layout_is_a_versioned_array():
    assert V == 3
    frames = encode(Tasks([Task(7, 1, b"p"), Task(8, 0, b"")]))
    assert msgpack.unpackb(frames[0]) == [V, MessageType.TASKS, [[7, 1, 1], [8, 0, 0]]]
    assert frames[1] == b"p"
    frames = encode(Results([Result(7, 1, Status.ERROR, 99, b"err")]))
    assert msgpack.unpackb(frames[0]) == [V, MessageType.RESULTS, [[7, 1, 1, 99, 3]]]
    assert frames[1] == b"err"
    assert encode(Heartbeat()) == [msgpack.packb([V, 5])]


def test_payloads_are_cut_at_the_declared_lengths():
    blobs = [b"", b"a", b"", b"bcd" * 100, bytes(range(256)), b""]
    tasks = Tasks([Task(i, 0, p) for i, p in enumerate(blobs)])
    results = Results([Result(i, 0, 0, i, p) for i, p in enumerate(blobs)])
    for msg in (tasks, results):
        frames = encode(msg)
        assert decode(frames, max_message_bytes=LIMIT) == msg
        assert decode([memoryview(f) for f in frames], max_message_bytes=LIMIT) == msg


def test_full_batches_fit_the_header_limit():
    big = 2**64 - 1
    tasks = Tasks([Task(big - i, wire.MAX_ATTEMPT, b"") for i in range(wire.MAX_BATCH_TASKS)])
    results = Results(
        [Result(big - i, wire.MAX_ATTEMPT, 2, big, b"") for i in range(wire.MAX_BATCH_TASKS)]
    )
    for msg in (tasks, results):
        frames = encode(msg)
        assert len(frames[0]) <= 109 * 1024 < wire.MAX_HEADER_BYTES  # as docs/protocol.md says
        assert decode(frames, max_message_bytes=LIMIT) == msg


def test_result_status_int_is_normalised():
    assert [int(s) for s in Status] == list(range(len(Status)))  # wire values are 0..n-1
    for status in Status:
        assert Result(1, 0, int(status), 0, b"").status is status


# -- building invalid messages is refused -------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Task(-1, 0, b""),
        lambda: Task(2**64, 0, b""),
        lambda: Task(True, 0, b""),
        lambda: Task(1, wire.MAX_ATTEMPT + 1, b""),
        lambda: Task(1, 0, "text"),
        lambda: Task(1, 0, bytearray(b"x")),
        lambda: Tasks([]),
        lambda: Tasks([Task(1, 0, b""), Task(1, 1, b"")]),
        lambda: Tasks([Result(1, 0, 0, 0, b"")]),
        lambda: Tasks(Task(1, 0, b"")),
        lambda: Tasks([Task(i, 0, b"") for i in range(wire.MAX_BATCH_TASKS + 1)]),
        lambda: Result(1, 0, 3, 0, b""),
        lambda: Result(1, 0, 0, -1, b""),
        lambda: Result(1, 0, 0.0, 0, b""),
        lambda: Ready(1, "", "v", "3.11", 1),
        lambda: Ready(1, "h", "v", "3.11", 0),
        lambda: Ready(1, "h" * (wire.MAX_TEXT_BYTES + 1), "v", "3.11", 1),
        lambda: Ready(1, "h", "\ud800", "3.11", 1),
        lambda: Ready(2**32, "h", "v", "3.11", 1),
        lambda: Welcome(1, 1, 3, 2**26, "pickle"),
        lambda: Welcome(1, float("nan"), 3, 2**26, "pickle"),
        lambda: Welcome(1, 1.0, 3, 2**26, "json"),
        lambda: Welcome(1, 1.0, 3, 100, "pickle"),
        lambda: Welcome(wire.MAX_CREDIT + 1, 1.0, 3, 2**26, "pickle"),
        lambda: Disconnect(None),
    ],
)
def test_invalid_fields_are_protocol_errors(build):
    with pytest.raises(ProtocolError):
        build()


def test_encode_refuses_non_messages_and_oversized_messages():
    with pytest.raises(ProtocolError, match=r"not a message"):
        encode("hello")  # type: ignore[arg-type]
    msg = Tasks([Task(1, 0, b"x" * 1000)])
    assert len(encode(msg, max_message_bytes=2000)) == 2
    with pytest.raises(ProtocolError, match=r"exceeds max_message_bytes=500"):
        encode(msg, max_message_bytes=500)


# -- decoding hostile input ---------------------------------------------------------------------


def _reason(frames, **kw):
    with pytest.raises(ProtocolError) as info:
        decode(frames, max_message_bytes=kw.pop("max_message_bytes", LIMIT), **kw)
    return info.value.reason


def test_specific_violations_have_specific_reasons():
    good = encode(Tasks([Task(1, 0, b"a"), Task(2, 0, b"b")]))
    assert "empty" in _reason([])
    assert "list" in _reason(b"".join(good))
    assert "bytes-like" in _reason([good[0], 42])
    assert "too many frames" in _reason([*good, b"c"])
    assert "too many frames" in _reason([good[0]] + [b""] * (wire.MAX_BATCH_TASKS + 1))
    assert "too large" in _reason(good, max_message_bytes=len(good[0]) + 1)
    assert "header too large" in _reason([b"\x00" * (wire.MAX_HEADER_BYTES + 1)])
    assert "one payload frame" in _reason(good[:-1])
    assert "msgpack" in _reason([b"\xc1"])
    assert "msgpack" in _reason([good[0] + b"\x00", *good[1:]])
    assert "array" in _reason([msgpack.packb({})])
    assert "array" in _reason([msgpack.packb([1])])
    assert "version 1" in _reason([msgpack.packb([1, 5])])  # version 1: a frame per payload
    assert "version 2" in _reason([msgpack.packb([2, 5])])  # version 2: no packed payloads
    assert "version 4" in _reason([msgpack.packb([4, 5])])
    assert "version (not an integer)" in _reason([msgpack.packb([True, 5])])
    assert "version (not an integer)" in _reason([msgpack.packb([list(range(4000)), 5])])
    assert "unknown message type" in _reason([msgpack.packb([V, 99])])
    assert "unknown message type" in _reason([msgpack.packb([V, "TASKS"])])
    assert "HEARTBEAT" in _reason([msgpack.packb([V, 5, 0])])
    assert "HEARTBEAT" in _reason([msgpack.packb([V, 5]), b"extra"])
    assert "duplicate" in _reason([msgpack.packb([V, 3, [[1, 0, 0], [1, 1, 0]]]), b""])
    assert "task_id" in _reason([msgpack.packb([V, 3, [[-1, 0, 0]]]), b""])
    assert "entries" in _reason([msgpack.packb([V, 3, []]), b""])
    assert "entry" in _reason([msgpack.packb([V, 3, [[1, 0]]]), b""])  # version 1's layout
    assert "entry" in _reason([msgpack.packb([V, 4, [[1, 0, 0, 0]]]), b""])
    assert "status" in _reason([msgpack.packb([V, 4, [[1, 0, 7, 0, 0]]]), b""])
    assert "heartbeat_interval_s" in _reason([msgpack.packb([V, 2, 1, 1, 3, 2**26, "pickle"])])


def _tasks_frames(lengths, payload):
    return [msgpack.packb([V, 3, [[i, 0, n] for i, n in enumerate(lengths)]]), payload]


def _results_frames(lengths, payload):
    return [msgpack.packb([V, 4, [[i, 0, 0, 7, n] for i, n in enumerate(lengths)]]), payload]


@pytest.mark.parametrize("frames_of", [_tasks_frames, _results_frames])
@pytest.mark.parametrize(
    ("lengths", "payload", "reason"),
    [
        ([2, 2], b"abc", "exceed the payload frame"),  # too long by one
        ([1, 1], b"abc", "add up to 2 bytes"),  # too short by one
        ([0], b"x", "add up to 0 bytes"),  # a stray byte after the blobs
        ([3], b"", "exceed the payload frame"),
        ([-1, 4], b"abc", "payload length"),  # negative, even though the sum would fit
        ([4, -1], b"abc", "exceed the payload frame"),
        ([2**64 - 1], b"abc", "payload length"),  # huge
        ([LIMIT + 1], b"abc", "payload length"),  # beyond max_message_bytes
        ([2**63, 2**63, 3], b"abc", "payload length"),  # would wrap around in 64 bits
        ([1.0, 2], b"abc", "payload length"),  # not an integer
        ([True, 2], b"abc", "payload length"),
        ([None, 3], b"abc", "payload length"),
    ],
)
def test_payload_lengths_that_do_not_add_up_are_refused(frames_of, lengths, payload, reason):
    assert reason in _reason(frames_of(lengths, payload))
    if type(lengths[0]) is int and all(n >= 0 for n in lengths) and sum(lengths) <= 3:
        # the same lengths with a payload frame of exactly their sum decode
        assert decode(frames_of(lengths, b"z" * sum(lengths)), max_message_bytes=LIMIT)


def test_payload_lengths_are_bounded_by_max_message_bytes():
    frames = _tasks_frames([2**20], b"x" * 2**20)
    assert decode(frames, max_message_bytes=2**21).tasks[0].payload == b"x" * 2**20
    with pytest.raises(ProtocolError, match=r"too large"):
        decode(frames, max_message_bytes=2**20)  # header + payload exceed the bound


@given(
    msg=st.one_of(tasks_msgs, results_msgs),
    lengths=st.lists(
        st.integers(-3, 40) | st.integers(-(2**63), 2**64 - 1), min_size=1, max_size=5
    ),
)
def test_random_payload_lengths_decode_or_raise_protocol_error(msg, lengths):
    frames = encode(msg)
    header = msgpack.unpackb(frames[0])
    for entry, n in zip(header[2], lengths, strict=False):
        entry[-1] = n
    frames[0] = msgpack.packb(header)
    decoded = decodes_or_protocol_error(frames)
    if decoded is not None:
        items = decoded.tasks if isinstance(decoded, Tasks) else decoded.results
        assert b"".join(i.payload for i in items) == frames[1]
        assert [len(i.payload) for i in items] == [e[-1] for e in header[2]]


def test_accept_refuses_messages_meant_for_the_other_side():
    tasks = encode(Tasks([Task(1, 0, b"")]))
    ready = encode(Ready(1, "h", "v", "3.11", 4))
    assert decode(tasks, max_message_bytes=LIMIT, accept=FROM_BROKER).TYPE is MessageType.TASKS
    assert decode(ready, max_message_bytes=LIMIT, accept=FROM_WORKER).TYPE is MessageType.READY
    assert "unexpected TASKS" in _reason(tasks, accept=FROM_WORKER)
    assert "unexpected READY" in _reason(ready, accept=FROM_BROKER)
    assert {MessageType.HEARTBEAT, MessageType.DISCONNECT} == FROM_WORKER & FROM_BROKER
    assert set(MessageType) == FROM_WORKER | FROM_BROKER


@pytest.mark.parametrize(
    "header",
    [
        b"\xdd\xff\xff\xff\xff",  # array of 4 billion elements: refused before allocation
        b"\xdf\xff\xff\xff\xff",  # map of 4 billion pairs
        b"\xdb\xff\xff\xff\xff",  # string of 4 GiB
        b"\xc6\xff\xff\xff\xff",  # bin of 4 GiB
        b"\xc9\xff\xff\xff\xff\x01",  # ext of 4 GiB
        b"\x91" * 100_000,  # 100,000 nested arrays
        msgpack.packb([V, 1, 1, "h" * (wire.MAX_TEXT_BYTES + 1), "", "", 1]),
        msgpack.packb([V, 3, [[i, 0, 0] for i in range(wire.MAX_BATCH_TASKS + 1)]]),
    ],
)
def test_unpacking_is_bounded(header):
    assert decodes_or_protocol_error([header]) is None
    assert decodes_or_protocol_error([header, b""]) is None


@given(frames=st.lists(st.binary(max_size=64), max_size=6))
def test_random_frames_decode_or_raise_protocol_error(frames):
    decodes_or_protocol_error(frames)


@given(
    header=st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | texts
        | st.binary(max_size=8),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=12,
    ),
    n_payloads=st.integers(0, 3),
)  # fmt: skip
def test_random_msgpack_headers_decode_or_raise_protocol_error(header, n_payloads):
    frames = [msgpack.packb(header), *([b"p"] * n_payloads)]
    decodes_or_protocol_error(frames)


@given(
    version=st.sampled_from([wire.PROTOCOL_VERSION]) | st.integers(-5, 5),
    code=st.integers(-2, 8),
    fields=st.lists(
        st.integers(-2, 2**64 - 1) | st.floats(0, 4000) | texts | st.none()
        | st.lists(st.lists(st.integers(-1, 2**64 - 1), max_size=5), max_size=4),
        max_size=7,
    ),
    n_payloads=st.integers(0, 4),
)  # fmt: skip
def test_plausible_headers_decode_or_raise_protocol_error(version, code, fields, n_payloads):
    frames = [msgpack.packb([version, code, *fields]), *([b"p" * n_payloads] * min(n_payloads, 1))]
    msg = decodes_or_protocol_error(frames)
    if msg is not None:
        assert version == wire.PROTOCOL_VERSION and code == int(msg.TYPE)


@given(msg=messages, data=st.data())
def test_mutated_messages_decode_or_raise_protocol_error(msg, data):
    frames = encode(msg)
    mutation = data.draw(
        st.sampled_from(["flip", "truncate", "drop", "duplicate", "insert", "swap", "append"])
    )
    index = data.draw(st.integers(0, len(frames) - 1))
    frame = bytearray(frames[index])
    if mutation == "flip":
        assume(frame)
        pos = data.draw(st.integers(0, len(frame) - 1))
        frame[pos] ^= data.draw(st.integers(1, 255))
        frames[index] = bytes(frame)
    elif mutation == "truncate":
        frames[index] = bytes(frame[: data.draw(st.integers(0, max(0, len(frame) - 1)))])
    elif mutation == "drop":
        del frames[index]
    elif mutation == "duplicate":
        frames.insert(index, frames[index])
    elif mutation == "insert":
        frames.insert(index, data.draw(st.binary(max_size=16)))
    elif mutation == "swap":
        other = data.draw(st.integers(0, len(frames) - 1))
        frames[index], frames[other] = frames[other], frames[index]
    else:
        frames[index] = frames[index] + data.draw(st.binary(min_size=1, max_size=8))
    decodes_or_protocol_error(frames)


@given(msg=messages, version=st.integers(-(2**63), 2**64 - 1))
def test_other_versions_are_refused(msg, version):
    assume(version != wire.PROTOCOL_VERSION)
    frames = encode(msg)
    header = msgpack.unpackb(frames[0])
    header[0] = version
    frames[0] = msgpack.packb(header)
    with pytest.raises(ProtocolError, match=f"unsupported protocol version {version}"):
        decode(frames, max_message_bytes=LIMIT)


@given(msg=messages, slack=st.integers(1, 100))
def test_oversized_messages_are_refused(msg, slack):
    frames = encode(msg)
    total = sum(map(len, frames))
    assert decode(frames, max_message_bytes=total) == msg
    assume(total - slack >= 0)
    with pytest.raises(ProtocolError, match=r"too large"):
        decode(frames, max_message_bytes=total - slack)


# -- protocol constants ---------------------------------------------------------------------------


def test_paranoid_pirate_constants_and_backoff():
    assert (wire.HEARTBEAT_INTERVAL_S, wire.HEARTBEAT_LIVENESS) == (1.0, 3)
    delays = [wire.reconnect_delay_s(n) for n in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0, 32.0]
    assert wire.reconnect_delay_s(10**6) == wire.RECONNECT_MAX_S == 32.0
    with pytest.raises(ValueError):
        wire.reconnect_delay_s(-1)


# -- payloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("serializer", payloads.SERIALIZERS)
@given(
    value=st.recursive(
        st.none() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=10,
    )
)
def test_dumps_loads_round_trip(serializer, value):
    assert payloads.loads(payloads.dumps(value, serializer), serializer) == value
    status, payload = wire.pack_result(value, serializer)
    assert status is Status.OK
    assert wire.unpack_result(status, payload, serializer) == (True, value)


def test_cloudpickle_carries_lambdas_and_pickle_names_the_culprit():
    offset = 5
    call = payloads.dumps_call(lambda x: x + offset, (1,), {}, "cloudpickle")
    fn, args, kwargs = payloads.loads_call(call, "cloudpickle")
    assert fn(*args, **kwargs) == 6
    with pytest.raises(SerializationError, match=r"the function: .*<lambda> with pickle"):
        payloads.dumps_call(lambda x: x, (1,), {}, "pickle")


@pytest.mark.parametrize("serializer", payloads.SERIALIZERS)
def test_unpicklable_argument_is_named(serializer):
    lock = threading.Lock()
    with pytest.raises(SerializationError, match=r"argument 1 of divmod\(\).*_thread\.lock") as i:
        payloads.dumps_call(divmod, (1, lock), {}, serializer)
    assert isinstance(i.value.__cause__, TypeError)
    with pytest.raises(SerializationError, match=r"keyword argument 'key' of sorted\(\)"):
        payloads.dumps_call(sorted, ([],), {"key": lock}, serializer)
    ok = payloads.dumps_call(divmod, (7, 2), {}, serializer)
    fn, args, kwargs = payloads.loads_call(ok, serializer)
    assert fn(*args, **kwargs) == (3, 1)


def test_unpicklable_result_becomes_an_error_result():
    status, payload = wire.pack_result(threading.Lock())
    assert status is Status.UNPICKLABLE_RESULT
    ok, exc = wire.unpack_result(status, payload)
    assert not ok and isinstance(exc, SerializationError)
    assert "the task's return value" in str(exc) and "_thread.lock" in str(exc)
    assert isinstance(exc.__cause__, RemoteTraceback)


def test_bad_payloads_give_serialization_errors():
    with pytest.raises(SerializationError, match=r"cannot unpickle task payload"):
        payloads.loads_call(b"not a pickle")
    with pytest.raises(SerializationError, match=r"not a .function, args, kwargs. triple"):
        payloads.loads_call(pickle.dumps((1, 2, 3)))
    ok, exc = wire.unpack_result(Status.OK, b"\x80\x05truncated")
    assert not ok and isinstance(exc, SerializationError)
    with pytest.raises(ConfigError, match=r"serializer"):
        payloads.dumps(1, "json")
    with pytest.raises(ConfigError, match=r"serializer"):
        payloads.loads(b"", "json")


# -- remote exceptions --------------------------------------------------------------------------


def _raise_in_worker(exc: BaseException) -> bytes:
    """What a worker does: run, catch, pack."""

    def task_body():
        raise exc

    try:
        task_body()
    except BaseException as caught:  # a worker packs everything
        return payloads.pack_exception(caught)
    raise AssertionError("unreachable")


class CustomError(Exception):
    """Module-level so both sides can import it: travels as itself."""


class TwoArgError(Exception):
    """Its __init__ rejects its own args on unpickling: travels as RemoteError."""

    def __init__(self, a, b):
        super().__init__(a)
        self.b = b


class HoldsALock(Exception):
    """Cannot be pickled at all: travels as RemoteError."""

    def __init__(self, msg):
        super().__init__(msg)
        self.lock = threading.Lock()


@pytest.mark.parametrize(
    "exc", [ValueError("bad value"), KeyError("k"), CustomError("custom", 3), ZeroDivisionError()]
)
def test_remote_exception_keeps_type_message_and_traceback(exc):
    back = payloads.unpack_exception(_raise_in_worker(exc))
    assert type(back) is type(exc) and back.args == exc.args and str(back) == str(exc)
    cause = back.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "Traceback (most recent call last)" in cause.text
    assert "in task_body" in cause.text and type(exc).__name__ in cause.text
    # printing the caller's error shows the worker's traceback as the direct cause
    shown = "".join(traceback.format_exception(back))
    assert "in task_body" in shown and "direct cause" in shown


@pytest.mark.parametrize(
    ("exc", "type_name"),
    [
        (TwoArgError("x", "y"), f"{__name__}.TwoArgError"),
        (HoldsALock("locked"), f"{__name__}.HoldsALock"),
    ],
)
def test_exception_that_cannot_travel_becomes_remote_error(exc, type_name):
    back = payloads.unpack_exception(_raise_in_worker(exc))
    assert isinstance(back, RemoteError)
    assert back.type_name == type_name and back.message == str(exc)
    assert str(back) == f"{type_name}: {exc}"
    assert "in task_body" in back.traceback_text
    assert isinstance(back.__cause__, RemoteTraceback)
    assert back.__cause__.text == back.traceback_text
    again = pickle.loads(pickle.dumps(back))
    assert (again.type_name, again.message, again.traceback_text) == (
        back.type_name,
        back.message,
        back.traceback_text,
    )


def test_exception_whose_class_is_unknown_to_the_caller_becomes_remote_error():
    payload = msgpack.packb(
        ["workeronly.Boom", "boom", "Traceback ...\nworkeronly.Boom: boom\n", b"\x80\x05junk"]
    )
    back = payloads.unpack_exception(payload)
    assert isinstance(back, RemoteError) and str(back) == "workeronly.Boom: boom"
    assert back.__cause__.text.endswith("workeronly.Boom: boom\n")


def test_chained_exceptions_keep_the_whole_chain_in_the_traceback_text():
    def task_body():
        try:
            {}["missing"]
        except KeyError as inner:
            raise RuntimeError("outer") from inner

    try:
        task_body()
    except RuntimeError as exc:
        back = payloads.unpack_exception(payloads.pack_exception(exc))
    assert type(back) is RuntimeError and str(back) == "outer"
    assert "KeyError: 'missing'" in back.__cause__.text
    assert "direct cause" in back.__cause__.text


def test_huge_messages_and_tracebacks_are_truncated():
    back = payloads.unpack_exception(_raise_in_worker(HoldsALock("x" * 1_000_000)))
    assert isinstance(back, RemoteError)
    assert len(back.message) < 20_000 and back.message.endswith("(truncated)")
    assert len(back.traceback_text) < 200_000


@given(data=st.binary(max_size=64))
def test_unpack_exception_never_raises(data):
    back = payloads.unpack_exception(data)
    assert isinstance(back, BaseException)


# --- the plain-pickle fast path of the cloudpickle serializer ---------------------------------


def _module_level_double(x):
    return 2 * x


def test_cloudpickle_serializer_uses_plain_pickle_for_references():
    payload = payloads.dumps_call(_module_level_double, (3,), {}, "cloudpickle")
    assert payload == pickle.dumps((_module_level_double, (3,), {}), protocol=5)
    fn, args, kwargs = payloads.loads_call(payload, "cloudpickle")
    assert fn(*args, **kwargs) == 6


def test_cloudpickle_serializer_falls_back_for_lambdas_and_main():
    payload = payloads.dumps_call(lambda x: x + 1, (1,), {}, "cloudpickle")  # plain pickle raises
    fn, args, _ = payloads.loads_call(payload)
    assert fn(*args) == 2

    def in_main(x):
        return x * 10

    in_main.__module__ = "__main__"
    in_main.__qualname__ = "in_main"
    payload = payloads.dumps_call(in_main, (2,), {}, "cloudpickle")
    with pytest.raises(pickle.PicklingError):
        pickle.dumps(in_main)  # so plain pickle could not have made the payload
    fn, args, _ = payloads.loads_call(payload)
    assert fn(*args) == 20


def test_cloudpickle_serializer_honours_register_pickle_by_value():
    import sys

    import cloudpickle

    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    try:
        payload = payloads.dumps_call(_module_level_double, (3,), {}, "cloudpickle")
    finally:
        cloudpickle.unregister_pickle_by_value(module)
    assert payload != pickle.dumps((_module_level_double, (3,), {}), protocol=5)
    fn, args, _ = payloads.loads_call(payload)
    assert fn(*args) == 6
