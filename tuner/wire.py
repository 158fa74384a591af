"""Wire protocol of the worker pool: message types, their encoding and validation. No sockets.

The broker (``tuner.pool.broker``) and the workers (``tuner.pool.worker``) speak it;
``docs/protocol.md`` describes the protocol as this module defines it.

Why a module of its own: the broker and the workers must agree on every constant and every
field, so both import them from here (the zguide's ``MDP.py`` habit), and the decoding of
untrusted bytes lives in one place that can be fuzzed without processes or sockets.

Shape of a message (what the transport sends as one ZeroMQ multipart message)::

    frame 0      msgpack array  [version, type, *fields]     (the header, at most 256 KiB)
    frame 1      TASKS / RESULTS only: every entry's payload, concatenated in entry order;
                 each header entry ends with its payload's length in bytes

The broker's ROUTER socket adds a routing-id frame in front on receipt and consumes it on
send; the transport strips and adds it, so :func:`encode` and :func:`decode` never see it.

Decoding never trusts the peer: :func:`decode` checks the frame count, the total size, the
header's shape, the protocol version, the message type, every field's type and range, and
that the payload lengths in the header add up to the payload frame's size, and reports any
violation as :class:`~tuner.errors.ProtocolError` with a short reason.  msgpack is unpacked
with length limits, so a tiny frame cannot make the receiver allocate gigabytes.

Payloads are opaque bytes here; :mod:`tuner.payloads` makes and reads them (pickled calls,
values, exceptions).  :func:`decode` never unpickles; :func:`unpack_result` does, so call it
only on frames from an authenticated peer (a local worker, loopback or ipc, or a
CURVE-authenticated remote worker).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeAlias

import msgpack

from .errors import ProtocolError, SerializationError
from .payloads import (
    _UNPACK_ERRORS,
    SERIALIZERS,
    dumps,
    loads,
    pack_exception,
    unpack_exception,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "FROM_BROKER",
    "FROM_WORKER",
    "HEARTBEAT_INTERVAL_S",
    "HEARTBEAT_LIVENESS",
    "MAX_ATTEMPT",
    "MAX_BATCH_TASKS",
    "MAX_CREDIT",
    "MAX_HEADER_BYTES",
    "MAX_HEARTBEAT_LIVENESS",
    "MAX_ID",
    "MAX_MESSAGE_BYTES",
    "MAX_TEXT_BYTES",
    "MIN_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "RECONNECT_INITIAL_S",
    "RECONNECT_MAX_S",
    "Disconnect",
    "Heartbeat",
    "Message",
    "MessageType",
    "Ready",
    "Result",
    "Results",
    "Status",
    "Task",
    "Tasks",
    "Welcome",
    "decode",
    "encode",
    "encode_tasks",
    "pack_result",
    "reconnect_delay_s",
    "unpack_result",
]

# ---------------------------------------------------------------------------------------------
# Protocol constants: broker and worker import these; units are in the names.
# ---------------------------------------------------------------------------------------------

PROTOCOL_VERSION: Final = 3
"""First element of every header; a peer speaking another version is refused."""

HEARTBEAT_INTERVAL_S: Final = 1.0
"""Default seconds between heartbeats (zguide Paranoid Pirate ``HEARTBEAT_INTERVAL``)."""

HEARTBEAT_LIVENESS: Final = 3
"""Default number of silent intervals after which a peer is presumed dead (zguide: 3-5)."""

MAX_HEARTBEAT_LIVENESS: Final = 100
"""Largest liveness a WELCOME may carry."""

RECONNECT_INITIAL_S: Final = 1.0
"""A worker's first reconnect delay after losing the broker (zguide ``INTERVAL_INIT``)."""

RECONNECT_MAX_S: Final = 32.0
"""The reconnect delay doubles up to this bound (zguide ``INTERVAL_MAX``)."""

MAX_BATCH_TASKS: Final = 4096
"""Most tasks in one TASKS message, and most results in one RESULTS message."""

MAX_CREDIT: Final = 4096
"""Largest prefetch window (tasks a worker may hold) a READY may ask for or a WELCOME grant."""

MAX_ATTEMPT: Final = 255
"""Largest attempt number: attempts count from 0, and ``max_retries`` is capped well below."""

MAX_ID: Final = 2**64 - 1
"""Task ids are unsigned 64-bit integers."""

MAX_HEADER_BYTES: Final = 256 * 1024
"""Largest header frame; a full RESULTS header of 4096 entries needs at most 109 KiB."""

MAX_TEXT_BYTES: Final = 1024
"""Largest UTF-8 length of a text field (host name, versions, disconnect reason)."""

MIN_MESSAGE_BYTES: Final = 2**20
"""Smallest allowed ``max_message_bytes`` (1 MiB): room for a full header and some payload."""

MAX_MESSAGE_BYTES: Final = 2**31
"""Largest allowed ``max_message_bytes`` (2 GiB)."""

DEFAULT_MAX_MESSAGE_BYTES: Final = 64 * 2**20
"""Default bound on one message, all frames together (64 MiB)."""

_MAX_PID: Final = 2**32 - 1
_MAX_BUSY_NS: Final = 2**64 - 1

# Every msgpack unpack in this module is bounded: no bin/ext/map in headers, short strings,
# arrays no longer than a full batch.  Declared lengths beyond these fail before allocation.
_HEADER_UNPACK: Final[dict[str, Any]] = {
    "raw": False,
    "use_list": True,
    "strict_map_key": True,
    "max_bin_len": 0,
    "max_ext_len": 0,
    "max_map_len": 0,
    "max_str_len": MAX_TEXT_BYTES,
    "max_array_len": MAX_BATCH_TASKS,
}


def reconnect_delay_s(failures: int) -> float:
    """Delay before a worker's next reconnect attempt: 1 s doubling per failure, at most 32 s.

    Parameters
    ----------
    failures : int
        Consecutive failed connections so far (0 before the first retry).

    Returns
    -------
    float
        Seconds to wait, ``min(RECONNECT_INITIAL_S * 2**failures, RECONNECT_MAX_S)``.
    """
    if failures < 0:
        raise ValueError(f"failures must be >= 0, got {failures}")
    if failures >= 16:  # 2**16 s is far beyond the cap: avoid huge powers
        return RECONNECT_MAX_S
    return min(RECONNECT_INITIAL_S * 2.0**failures, RECONNECT_MAX_S)


# ---------------------------------------------------------------------------------------------
# Message types
# ---------------------------------------------------------------------------------------------


class MessageType(enum.IntEnum):
    """Second element of every header."""

    READY = 1  # worker -> broker: hello, who I am, how many tasks I can hold
    WELCOME = 2  # broker -> worker: accepted, here are the pool's settings
    TASKS = 3  # broker -> worker: a batch of tasks
    RESULTS = 4  # worker -> broker: a batch of results
    HEARTBEAT = 5  # both ways: I am alive (any message also counts)
    DISCONNECT = 6  # both ways: I am leaving / you are refused, with a reason


class Status(enum.IntEnum):
    """Outcome of one task, in a RESULTS entry."""

    OK = 0  # payload: the pickled return value
    ERROR = 1  # payload: pack_exception() of what the task raised (or of a bad task payload)
    UNPICKLABLE_RESULT = 2  # payload: pack_exception() of the SerializationError for the value


FROM_WORKER: Final = frozenset(
    {MessageType.READY, MessageType.RESULTS, MessageType.HEARTBEAT, MessageType.DISCONNECT}
)
"""Types a broker accepts: pass as ``decode(..., accept=FROM_WORKER)``."""

FROM_BROKER: Final = frozenset(
    {MessageType.WELCOME, MessageType.TASKS, MessageType.HEARTBEAT, MessageType.DISCONNECT}
)
"""Types a worker accepts: pass as ``decode(..., accept=FROM_BROKER)``."""


def _uint(value: object, name: str, high: int, low: int = 0) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(f"{name} must be an integer in {low}..{high}")
    return value


def _text(value: object, name: str, *, nonempty: bool = False) -> str:
    if type(value) is not str:
        raise ProtocolError(f"{name} must be a string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ProtocolError(f"{name} is not valid UTF-8") from None
    if size > MAX_TEXT_BYTES or (nonempty and size == 0):
        raise ProtocolError(f"{name} must be {int(nonempty)}..{MAX_TEXT_BYTES} UTF-8 bytes")
    return value


def _payload(value: object, name: str) -> bytes:
    if type(value) is not bytes:
        raise ProtocolError(f"{name} must be bytes")
    return value


@dataclass(frozen=True, slots=True)
class Ready:
    """Worker -> broker, first message on every (re)connection.

    Parameters
    ----------
    pid : int
        Worker process id (0..2**32-1); with ``host`` it lets the supervisor match a local
        worker to the process it started, and it is reported in the pool's stats.
    host : str
        Worker host name (non-empty).
    worker_version : str
        ``tuner.__version__`` of the worker, for logs and stats.
    python_version : str
        ``platform.python_version()`` of the worker: pickles may not cross major versions.
    credit : int
        How many tasks the worker asks to hold at once (1..MAX_CREDIT); the broker grants
        ``min(credit, prefetch)`` in its WELCOME.
    """

    TYPE: ClassVar[MessageType] = MessageType.READY
    pid: int
    host: str
    worker_version: str
    python_version: str
    credit: int

    def __post_init__(self) -> None:
        _uint(self.pid, "pid", _MAX_PID)
        _text(self.host, "host", nonempty=True)
        _text(self.worker_version, "worker_version")
        _text(self.python_version, "python_version")
        _uint(self.credit, "credit", MAX_CREDIT, low=1)


@dataclass(frozen=True, slots=True)
class Welcome:
    """Broker -> worker, the answer to READY: accepted, and the settings the worker must use.

    Remote workers are started without the pool's configuration, so the broker sends the
    settings both sides must agree on.

    Parameters
    ----------
    credit : int
        Tasks the broker will let this worker hold at once (1..MAX_CREDIT).
    heartbeat_interval_s : float
        Seconds between heartbeats, finite, in [0.001, 3600].
    heartbeat_liveness : int
        Silent intervals after which the worker presumes the broker dead (1..100).
    max_message_bytes : int
        Bound on one message: the worker must not send a larger one (it turns an oversized
        result into an error result instead) and drops larger ones it receives.
    serializer : str
        One of :data:`SERIALIZERS`; the worker pickles results with it.
    """

    TYPE: ClassVar[MessageType] = MessageType.WELCOME
    credit: int
    heartbeat_interval_s: float
    heartbeat_liveness: int
    max_message_bytes: int
    serializer: str

    def __post_init__(self) -> None:
        _uint(self.credit, "credit", MAX_CREDIT, low=1)
        interval = self.heartbeat_interval_s
        if type(interval) is not float or not (
            math.isfinite(interval) and 0.001 <= interval <= 3600.0
        ):
            raise ProtocolError("heartbeat_interval_s must be a float in [0.001, 3600]")
        _uint(self.heartbeat_liveness, "heartbeat_liveness", MAX_HEARTBEAT_LIVENESS, low=1)
        _uint(self.max_message_bytes, "max_message_bytes", MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES)
        if self.serializer not in SERIALIZERS or type(self.serializer) is not str:
            raise ProtocolError(f"serializer must be one of {', '.join(SERIALIZERS)}")


@dataclass(frozen=True, slots=True)
class Task:
    """One task inside a TASKS message.

    Parameters
    ----------
    task_id : int
        Unique per pool, 0..2**64-1; results refer to it.
    attempt : int
        0 for the first dispatch, +1 per re-queue after a worker died (0..MAX_ATTEMPT); a result
        for an older attempt is still usable once (every future resolves exactly once).
    payload : bytes
        The pickled call (see :func:`dumps_call`); its length travels in the header, so one
        bad payload fails only its own task.
    """

    task_id: int
    attempt: int
    payload: bytes

    def __post_init__(self) -> None:
        # Inline fast path (this runs once per task on the hot path); _uint names the field.
        task_id, attempt = self.task_id, self.attempt
        if type(task_id) is not int or not 0 <= task_id <= MAX_ID:
            _uint(task_id, "task_id", MAX_ID)
        if type(attempt) is not int or not 0 <= attempt <= MAX_ATTEMPT:
            _uint(attempt, "attempt", MAX_ATTEMPT)
        if type(self.payload) is not bytes:
            _payload(self.payload, "task payload")


@dataclass(frozen=True, slots=True)
class Result:
    """One result inside a RESULTS message.

    Parameters
    ----------
    task_id, attempt : int
        Copied from the task.
    status : Status
        OK, ERROR or UNPICKLABLE_RESULT (a plain int 0..2 is converted).
    busy_ns : int
        Nanoseconds the worker spent running the task (unpickling, call, pickling), for the
        per-worker busy-time statistics.
    payload : bytes
        The pickled value (OK) or a :func:`pack_exception` payload (otherwise).
    """

    task_id: int
    attempt: int
    status: Status
    busy_ns: int
    payload: bytes

    def __post_init__(self) -> None:
        # Inline fast path (this runs once per result on the hot path); _uint names the field.
        task_id, attempt, status, busy_ns = self.task_id, self.attempt, self.status, self.busy_ns
        if type(task_id) is not int or not 0 <= task_id <= MAX_ID:
            _uint(task_id, "task_id", MAX_ID)
        if type(attempt) is not int or not 0 <= attempt <= MAX_ATTEMPT:
            _uint(attempt, "attempt", MAX_ATTEMPT)
        if type(status) is not Status:
            if type(status) is not int or not 0 <= status < len(_STATUSES):
                raise ProtocolError(f"status must be one of 0..{len(_STATUSES) - 1}")
            object.__setattr__(self, "status", _STATUSES[status])
        if type(busy_ns) is not int or not 0 <= busy_ns <= _MAX_BUSY_NS:
            _uint(busy_ns, "busy_ns", _MAX_BUSY_NS)
        if type(self.payload) is not bytes:
            _payload(self.payload, "result payload")


_STATUSES: Final = tuple(sorted(Status))  # index = wire value (0, 1, 2, ...)


def _batch(items: object, kind: type, name: str) -> tuple[Any, ...]:
    if not isinstance(items, (tuple, list)):
        raise ProtocolError(f"{name} must be a tuple")
    items = tuple(items)
    if not 1 <= len(items) <= MAX_BATCH_TASKS:
        raise ProtocolError(f"{name} must hold 1..{MAX_BATCH_TASKS} entries")
    seen = set()
    for item in items:
        if type(item) is not kind:
            raise ProtocolError(f"{name} entries must be {kind.__name__}")
        seen.add(item.task_id)
    if len(seen) != len(items):
        raise ProtocolError(f"duplicate task_id in {name}")
    return items


@dataclass(frozen=True, slots=True)
class Tasks:
    """Broker -> worker: 1..MAX_BATCH_TASKS tasks with distinct ids (a list is made a tuple)."""

    TYPE: ClassVar[MessageType] = MessageType.TASKS
    tasks: tuple[Task, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", _batch(self.tasks, Task, "tasks"))


@dataclass(frozen=True, slots=True)
class Results:
    """Worker -> broker: 1..MAX_BATCH_TASKS results with distinct ids; each returns one credit."""

    TYPE: ClassVar[MessageType] = MessageType.RESULTS
    results: tuple[Result, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", _batch(self.results, Result, "results"))


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Both ways: the sender is alive. Carries nothing; any other message counts as well."""

    TYPE: ClassVar[MessageType] = MessageType.HEARTBEAT


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Both ways: the sender leaves, or refuses the receiver; ``reason`` is for the log.

    A worker that receives it exits (local) or stops (remote); a broker that receives it
    re-queues what that worker held and forgets it.
    """

    TYPE: ClassVar[MessageType] = MessageType.DISCONNECT
    reason: str

    def __post_init__(self) -> None:
        _text(self.reason, "reason")


Message: TypeAlias = Ready | Welcome | Tasks | Results | Heartbeat | Disconnect

_HEARTBEAT_HEADER: Final = msgpack.packb([PROTOCOL_VERSION, int(MessageType.HEARTBEAT)])

# ---------------------------------------------------------------------------------------------
# Encoding and decoding
# ---------------------------------------------------------------------------------------------


def encode(msg: Message, *, max_message_bytes: int | None = None) -> list[bytes]:
    """Encode a message as the list of frames the transport sends as one multipart message.

    Parameters
    ----------
    msg : Message
        A message object; its fields were validated when it was built.
    max_message_bytes : int, optional
        If given, refuse a message whose frames total more bytes: a worker uses this to turn
        an oversized result into an error result instead of sending what the broker drops.

    Returns
    -------
    list of bytes
        ``[header]``, or ``[header, payloads]`` for TASKS and RESULTS (all payloads
        concatenated in one frame, their lengths in the header).

    Raises
    ------
    ProtocolError
        ``msg`` is not a message, or it exceeds ``max_message_bytes``.
    """
    kind = type(msg)
    if kind is Tasks:
        frames = encode_tasks([(t.task_id, t.attempt, t.payload) for t in msg.tasks])
    elif kind is Results:
        header = [
            PROTOCOL_VERSION,
            4,
            [[r.task_id, r.attempt, int(r.status), r.busy_ns, len(r.payload)] for r in msg.results],
        ]
        frames = [msgpack.packb(header), b"".join([r.payload for r in msg.results])]
    elif kind is Heartbeat:
        frames = [_HEARTBEAT_HEADER]
    elif kind is Ready:
        header = [
            PROTOCOL_VERSION,
            1,
            msg.pid,
            msg.host,
            msg.worker_version,
            msg.python_version,
            msg.credit,
        ]
        frames = [msgpack.packb(header)]
    elif kind is Welcome:
        header = [
            PROTOCOL_VERSION,
            2,
            msg.credit,
            msg.heartbeat_interval_s,
            msg.heartbeat_liveness,
            msg.max_message_bytes,
            msg.serializer,
        ]
        frames = [msgpack.packb(header)]
    elif kind is Disconnect:
        frames = [msgpack.packb([PROTOCOL_VERSION, 6, msg.reason])]
    else:
        raise ProtocolError(f"not a message: {kind.__name__}")
    if max_message_bytes is not None:
        total = sum(len(f) for f in frames)
        if total > max_message_bytes:
            raise ProtocolError(
                f"message of {total} bytes exceeds max_message_bytes={max_message_bytes}"
            )
    return frames


def encode_tasks(entries: Sequence[tuple[int, int, bytes]]) -> list[bytes]:
    """The frames of a TASKS message from ``(task_id, attempt, payload)`` triples.

    The broker's hot path: it encodes its own, already valid records without building a
    :class:`Task` per entry (``encode(Tasks(...))`` gives the same frames).
    """
    header = [PROTOCOL_VERSION, 3, [[i, a, len(p)] for i, a, p in entries]]
    return [msgpack.packb(header), b"".join([e[2] for e in entries])]


def decode(
    frames: Sequence[bytes],
    *,
    max_message_bytes: int,
    accept: Collection[MessageType] | None = None,
) -> Message:
    """Decode and validate one multipart message received from an untrusted peer.

    Parameters
    ----------
    frames : sequence of bytes-like
        The frames after the transport stripped the routing id: ``[header]`` or, for TASKS
        and RESULTS, ``[header, payloads]``.
        ``bytes`` frames are kept as they are; other buffers (``zmq.Frame``, memoryview) are
        copied into ``bytes``.
    max_message_bytes : int
        Bound on the total size of all frames (the pool's ``max_message_bytes``).
    accept : collection of MessageType, optional
        Types this side may receive (:data:`FROM_WORKER` in the broker, :data:`FROM_BROKER`
        in a worker); anything else is a protocol error.

    Returns
    -------
    Message
        A validated message object.

    Raises
    ------
    ProtocolError
        On any violation, with a short ``reason``; nothing else escapes for any input.
    """
    if not isinstance(frames, (list, tuple)):
        raise ProtocolError("frames must be a list")
    count = len(frames)
    if count == 0:
        raise ProtocolError("empty message")
    if count > 2:
        raise ProtocolError(f"too many frames ({count} > 2)")
    total = 0
    data: list[bytes] = []
    for frame in frames:
        if type(frame) is bytes:
            total += len(frame)
            data.append(frame)
            continue
        try:
            view = memoryview(frame)  # type: ignore[arg-type]
        except TypeError:
            raise ProtocolError("frame is not bytes-like") from None
        total += view.nbytes
        if total > max_message_bytes:
            break
        data.append(view.tobytes())
    if total > max_message_bytes:
        raise ProtocolError(f"message too large ({total} > {max_message_bytes} bytes)")
    if len(data[0]) > MAX_HEADER_BYTES:
        raise ProtocolError(f"header too large ({len(data[0])} > {MAX_HEADER_BYTES} bytes)")
    try:
        header = msgpack.unpackb(data[0], **_HEADER_UNPACK)
    except _UNPACK_ERRORS:
        raise ProtocolError("header is not valid bounded msgpack") from None
    if type(header) is not list or len(header) < 2:
        raise ProtocolError("header must be an array [version, type, ...]")
    version, code = header[0], header[1]
    if type(version) is not int:
        raise ProtocolError("unsupported protocol version (not an integer)")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {version}")
    if type(code) is not int or code not in _TYPE_VALUES:
        raise ProtocolError("unknown message type")
    mtype = MessageType(code)
    if accept is not None and mtype not in accept:
        raise ProtocolError(f"unexpected {mtype.name} from this peer")
    return _PARSERS[mtype](header, data, max_message_bytes)


_TYPE_VALUES: Final = frozenset(int(t) for t in MessageType)


def _fields(header: list[Any], data: list[bytes], n_fields: int, name: str) -> list[Any]:
    """Check a fixed-shape header without payloads; return its fields after version/type."""
    if len(header) != 2 + n_fields:
        raise ProtocolError(f"{name} header must have {2 + n_fields} elements")
    if len(data) != 1:
        raise ProtocolError(f"{name} carries no payload frames")
    return header[2:]


def _parse_ready(header: list[Any], data: list[bytes], _max: int) -> Message:
    pid, host, worker_version, python_version, credit = _fields(header, data, 5, "READY")
    return Ready(pid, host, worker_version, python_version, credit)


def _parse_welcome(header: list[Any], data: list[bytes], _max: int) -> Message:
    credit, interval, liveness, max_bytes, serializer = _fields(header, data, 5, "WELCOME")
    return Welcome(credit, interval, liveness, max_bytes, serializer)


def _entries(
    header: list[Any], data: list[bytes], width: int, name: str, max_message_bytes: int
) -> tuple[list[Any], list[bytes]]:
    """Check a TASKS/RESULTS header and cut the payload frame by the lengths it declares.

    Each entry is ``width`` elements, the last its payload's length; the lengths must be
    integers in ``0..max_message_bytes`` and add up exactly to the payload frame's size.
    Returns the entries and the payloads (bytes slices of the payload frame, in order).
    """
    if len(header) != 3:
        raise ProtocolError(f"{name} header must have 3 elements")
    entries = header[2]
    if type(entries) is not list or not entries:
        raise ProtocolError(f"{name} entries must be a non-empty array")
    if len(data) != 2:
        raise ProtocolError(f"{name} must have exactly one payload frame")
    blob = data[1]
    size = len(blob)
    last = width - 1
    offset = 0
    bounds: list[int] = []
    for entry in entries:
        if type(entry) is not list or len(entry) != width:
            raise ProtocolError(f"{name} entry must be an array of {width}")
        length = entry[last]
        if type(length) is not int or not 0 <= length <= max_message_bytes:
            raise ProtocolError(f"{name} payload length must be an integer in 0..max_message_bytes")
        offset += length
        if offset > size:
            raise ProtocolError(f"{name} payload lengths exceed the payload frame ({size} bytes)")
        bounds.append(offset)
    if offset != size:
        raise ProtocolError(
            f"{name} payload lengths add up to {offset} bytes, the payload frame has {size}"
        )
    if len(entries) == 1:
        return entries, [blob]  # the common case at chunksize 1: no slicing at all
    payloads: list[bytes] = []
    start = 0
    for end in bounds:
        payloads.append(blob[start:end])
        start = end
    return entries, payloads


def _parse_tasks(header: list[Any], data: list[bytes], max_message_bytes: int) -> Message:
    entries, payloads = _entries(header, data, 3, "TASKS", max_message_bytes)
    return Tasks(tuple(Task(e[0], e[1], p) for e, p in zip(entries, payloads, strict=True)))


def _parse_results(header: list[Any], data: list[bytes], max_message_bytes: int) -> Message:
    entries, payloads = _entries(header, data, 5, "RESULTS", max_message_bytes)
    return Results(
        tuple(Result(e[0], e[1], e[2], e[3], p) for e, p in zip(entries, payloads, strict=True))
    )


def _parse_heartbeat(header: list[Any], data: list[bytes], _max: int) -> Message:
    _fields(header, data, 0, "HEARTBEAT")
    return Heartbeat()


def _parse_disconnect(header: list[Any], data: list[bytes], _max: int) -> Message:
    (reason,) = _fields(header, data, 1, "DISCONNECT")
    return Disconnect(reason)


_PARSERS: Final[dict[MessageType, Callable[[list[Any], list[bytes], int], Message]]] = {
    MessageType.READY: _parse_ready,
    MessageType.WELCOME: _parse_welcome,
    MessageType.TASKS: _parse_tasks,
    MessageType.RESULTS: _parse_results,
    MessageType.HEARTBEAT: _parse_heartbeat,
    MessageType.DISCONNECT: _parse_disconnect,
}


# ---------------------------------------------------------------------------------------------
# Result entries: a task's value or exception as a RESULTS entry carries it
# ---------------------------------------------------------------------------------------------

def pack_result(value: object, serializer: str = "cloudpickle") -> tuple[Status, bytes]:
    """Pickle a task's return value in the worker: ``(OK, pickled)`` or, when the value does
    not pickle, ``(UNPICKLABLE_RESULT, pack_exception(SerializationError(...)))``."""
    try:
        return Status.OK, dumps(value, serializer, what="the task's return value")
    except SerializationError as exc:
        return Status.UNPICKLABLE_RESULT, pack_exception(exc, serializer)


def unpack_result(
    status: Status, payload: bytes, serializer: str = "cloudpickle"
) -> tuple[bool, Any]:
    """Turn a RESULTS entry into what the caller's future gets; never raises for bad payloads.

    Returns
    -------
    (True, value)
        Status OK and the value unpickled: ``future.set_result(value)``.
    (False, exception)
        Otherwise: ``future.set_exception(exception)`` (a value that fails to unpickle gives
        a :class:`~tuner.errors.SerializationError`).
    """
    if status == Status.OK:
        try:
            return True, loads(payload, serializer, what="the task's return value")
        except SerializationError as exc:
            return False, exc
    return False, unpack_exception(payload, serializer)
