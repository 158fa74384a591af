"""Task payloads: pickling calls, values and exceptions, with errors that name the culprit.

The wire protocol (:mod:`tuner.wire`) carries payloads as opaque bytes; this module makes and
reads them.  It is apart from ``wire`` because it answers a different question (what is in a
payload, not how a message is framed) and because only it ever unpickles.

Payloads are pickles and unpickling runs code: call :func:`loads`, :func:`loads_call` and
:func:`unpack_exception` only on data from an authenticated peer (a local worker, loopback or
ipc, or a CURVE-authenticated remote worker).

A call payload is ``pickle((fn, args, kwargs))``.  When many calls share one function
(``WorkerPool.map``), the function is pickled once (:func:`pack_function`) and each payload
carries those bytes in place of the function: ``pickle((fn_bytes, args, kwargs))``.  A worker
unpickles the function bytes once and keeps them in a small cache (:class:`FunctionCache`),
so ``map(lambda x: ..., items)`` pays cloudpickle once per map, not once per item.
"""

from __future__ import annotations

import pickle
import reprlib
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import cloudpickle
import msgpack

from .errors import ConfigError, RemoteError, RemoteTraceback, SerializationError

__all__ = [
    "PICKLE_PROTOCOL",
    "SERIALIZERS",
    "FunctionCache",
    "PackedFunction",
    "dumps",
    "dumps_call",
    "dumps_packed_block",
    "dumps_packed_call",
    "loads",
    "loads_call",
    "loads_task",
    "pack_exception",
    "pack_function",
    "pack_outcomes",
    "unpack_exception",
]

SERIALIZERS: Final = ("cloudpickle", "pickle")
"""Payload serializers: cloudpickle (lambdas, closures) or the standard pickle (faster)."""

PICKLE_PROTOCOL: Final = 5
"""Pickle protocol for payloads (out-of-band buffers capable; Python >= 3.8 on both ends)."""

FUNCTION_CACHE_SIZE: Final = 64
"""Packed functions a worker keeps unpickled (least recently used ones are dropped)."""

_MAX_MESSAGE_TEXT_CHARS: Final = 10_000  # of an exception's str() in an error payload
_MAX_TRACEBACK_CHARS: Final = 100_000  # of a formatted traceback (the tail is kept)
_UNPACK_ERRORS: Final = (
    ValueError,
    TypeError,
    OverflowError,
    RecursionError,
    BufferError,
    msgpack.UnpackException,
)

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60


def _describe(obj: object) -> str:
    kind = type(obj)
    name = _qualname(kind)
    qual = getattr(obj, "__qualname__", None)
    if isinstance(qual, str) and (callable(obj) or isinstance(obj, type)):
        module = getattr(obj, "__module__", None)
        return f"{module}.{qual}" if isinstance(module, str) else qual  # functions, classes
    try:
        text = _short.repr(obj)
    except Exception:
        text = "<repr failed>"
    return f"{text} (type {name})"


def _qualname(kind: type) -> str:
    module = getattr(kind, "__module__", None) or "?"
    qual = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", "?")
    return qual if module == "builtins" else f"{module}.{qual}"


def _check_serializer(serializer: str) -> None:
    if serializer not in SERIALIZERS:
        raise ConfigError(
            f"serializer={serializer!r} is not one of {', '.join(map(repr, SERIALIZERS))}",
            knob="serializer",
            value=serializer,
            valid=", ".join(SERIALIZERS),
        )


# Modules registered with cloudpickle.register_pickle_by_value (empty unless someone did).
_BY_VALUE_MODULES: Final[Any] = getattr(
    getattr(cloudpickle, "cloudpickle", None), "_PICKLE_BY_VALUE_MODULES", None
)


def _raw_dumps(obj: object, serializer: str, main_refs: int = 0) -> bytes:
    # ``main_refs``: occurrences of ``__main__`` already inside ``obj`` as packed function
    # bytes (pickle copies bytes verbatim), which do not disqualify the fast path.
    if serializer == "cloudpickle":
        # Fast path: plain pickle (3-4x faster than a CloudPickler) whenever its output is
        # what cloudpickle would send too, i.e. everything pickles by reference to importable
        # modules.  Lambdas, closures and local classes make plain pickle raise; objects of
        # ``__main__`` (which cloudpickle sends by value) name that module in the output; a
        # module registered for pickling by value disables the fast path.  Any of these falls
        # back to cloudpickle.
        if not _BY_VALUE_MODULES:
            try:
                data = pickle.dumps(obj, protocol=PICKLE_PROTOCOL)
            except Exception:
                pass
            else:
                if data.count(b"__main__") == main_refs:
                    return data
        return cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL)
    return pickle.dumps(obj, protocol=PICKLE_PROTOCOL)


def dumps(obj: object, serializer: str = "cloudpickle", *, what: str = "object") -> bytes:
    """Pickle ``obj`` with the pool's serializer; a failure names ``what`` and the object.

    Parameters
    ----------
    obj : object
        What to pickle.
    serializer : {"cloudpickle", "pickle"}
        cloudpickle pickles lambdas, closures and interactively defined functions by value;
        pickle is faster but pickles functions by reference only.
    what : str
        How to name ``obj`` in the error message (``"the result of task 7"``).

    Raises
    ------
    SerializationError
        Pickling failed, for whatever reason (the original error is the ``__cause__``).
    ConfigError
        ``serializer`` is not one of :data:`SERIALIZERS`.
    """
    _check_serializer(serializer)
    try:
        return _raw_dumps(obj, serializer)
    except Exception as exc:
        raise SerializationError(
            f"cannot pickle {what}: {_describe(obj)} with {serializer}: {type(exc).__name__}: {exc}"
        ) from exc


def loads(data: bytes, serializer: str = "cloudpickle", *, what: str = "payload") -> Any:
    """Unpickle a payload from an authenticated peer (unpickling runs code: never otherwise).

    ``serializer`` is checked for symmetry with :func:`dumps`; both are read by
    ``pickle.loads`` (cloudpickle output is ordinary pickle data).

    Raises
    ------
    SerializationError
        Unpickling failed, e.g. the class or function lives in a module the receiver cannot
        import (the original error is the ``__cause__``).
    """
    _check_serializer(serializer)
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise SerializationError(
            f"cannot unpickle {what} ({len(data)} bytes): {type(exc).__name__}: {exc}"
        ) from exc


def dumps_call(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    serializer: str = "cloudpickle",
) -> bytes:
    """Pickle one call ``fn(*args, **kwargs)`` as a task payload; used at ``submit``.

    On failure, each part is pickled on its own to name the culprit, so the future fails at
    ``submit`` with e.g. "cannot pickle argument 1 of submit(...) <_thread.lock ...>".

    Raises
    ------
    SerializationError
        Naming the function, the positional argument (by index) or the keyword argument.
    """
    _check_serializer(serializer)
    try:
        return _raw_dumps((fn, args, kwargs), serializer)
    except Exception as whole:
        fn_name = getattr(fn, "__qualname__", None) or _describe(fn)
        parts: list[tuple[str, object]] = [("the function", fn)]
        parts += [(f"argument {i} of {fn_name}()", a) for i, a in enumerate(args)]
        parts += [(f"keyword argument {k!r} of {fn_name}()", v) for k, v in kwargs.items()]
        for what, part in parts:
            dumps(part, serializer, what=what)  # raises, naming this part
        raise SerializationError(
            f"cannot pickle the call {fn_name}(...) with {serializer}: "
            f"{type(whole).__name__}: {whole}"
        ) from whole


@dataclass(frozen=True, slots=True)
class PackedFunction:
    """A function pickled once, to be sent with many calls (see :func:`pack_function`).

    Attributes
    ----------
    data : bytes
        The function's pickle.
    name : str
        Its qualified name, for error messages.
    serializer : str
        The serializer that made ``data``.
    fn : callable
        The function itself (to name a culprit argument when a call does not pickle).
    main_refs : int
        Occurrences of ``__main__`` in ``data`` (see :func:`_raw_dumps`).
    """

    data: bytes
    name: str
    serializer: str
    fn: Callable[..., Any] = field(repr=False, compare=False)
    main_refs: int = 0


def pack_function(fn: Callable[..., Any], serializer: str = "cloudpickle") -> PackedFunction:
    """Pickle ``fn`` once for :func:`dumps_packed_call`.

    Raises
    ------
    SerializationError
        ``fn`` does not pickle (the message names it).
    TypeError
        ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"{_describe(fn)} is not callable")
    data = dumps(fn, serializer, what="the function")
    name = getattr(fn, "__qualname__", None) or _describe(fn)
    return PackedFunction(data, str(name), serializer, fn, data.count(b"__main__"))


def dumps_packed_call(
    packed: PackedFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> bytes:
    """Pickle one call of a packed function: ``pickle((packed.data, args, kwargs))``.

    The function's bytes are copied into the payload, not pickled again: a call costs about
    what pickling its arguments costs.

    Raises
    ------
    SerializationError
        An argument does not pickle (the message names it by position or keyword).
    """
    serializer = packed.serializer
    try:
        return _raw_dumps((packed.data, args, kwargs), serializer, packed.main_refs)
    except Exception as exc:
        # Name the culprit the way submit() does: dumps_call raises, naming the argument.
        dumps_call(packed.fn, args, kwargs, serializer)
        raise SerializationError(
            f"cannot pickle a call of {packed.name}() with {serializer}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def dumps_packed_block(packed: PackedFunction, calls: list[tuple[Any, ...]]) -> bytes:
    """Pickle a block of calls of one packed function: ``pickle((packed.data, calls))``.

    A block is one task on the wire that stands for ``len(calls)`` map items, each with its
    own outcome (:func:`pack_outcomes`): pickling and framing are paid once per block.

    Raises
    ------
    SerializationError
        Some call's arguments do not pickle (the caller then pickles the calls one by one,
        so that only the culprit fails).
    """
    try:
        return _raw_dumps((packed.data, calls), packed.serializer, packed.main_refs)
    except Exception as exc:
        raise SerializationError(
            f"cannot pickle a block of {len(calls)} calls of {packed.name}(): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def pack_outcomes(outcomes: list[tuple[bool, Any]], serializer: str = "cloudpickle") -> bytes:
    """Pickle the outcomes of a block, in the worker: one ``(ok, value or exception)`` per call.

    Exceptions travel as :func:`pack_exception` payloads; a value that does not pickle
    becomes a :class:`~tuner.errors.SerializationError` for its own call only.
    """
    items: list[tuple[int, Any]] = [
        (0, value) if ok else (1, pack_exception(value, serializer)) for ok, value in outcomes
    ]
    try:
        return _raw_dumps(items, serializer)
    except Exception:
        pass
    fixed: list[tuple[int, Any]] = []
    for i, (code, value) in enumerate(items):
        if code == 0:
            try:
                _raw_dumps(value, serializer)
            except Exception as exc:
                error = SerializationError(
                    f"cannot pickle the return value of call {i} of the block: "
                    f"{_describe(value)}: {type(exc).__name__}: {exc}"
                )
                fixed.append((1, pack_exception(error, serializer)))
                continue
        fixed.append((code, value))
    return _raw_dumps(fixed, serializer)


class FunctionCache:
    """The worker's cache of unpickled packed functions, keyed by their bytes (LRU).

    Keyed by the pickle itself, not by a name, so two versions of a function (a closure over
    different values) never share an entry.
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = FUNCTION_CACHE_SIZE) -> None:
        self._entries: OrderedDict[bytes, Callable[..., Any]] = OrderedDict()
        self._size = size

    def get(self, data: bytes, serializer: str) -> Callable[..., Any]:
        entries = self._entries
        fn = entries.get(data)
        if fn is not None:
            entries.move_to_end(data)
            return fn
        fn = loads(data, serializer, what="packed function")
        if not callable(fn):
            raise SerializationError("packed function payload is not callable")
        entries[data] = fn
        if len(entries) > self._size:
            entries.popitem(last=False)
        return fn

    def __len__(self) -> int:
        return len(self._entries)


def loads_task(
    data: bytes, serializer: str = "cloudpickle", cache: FunctionCache | None = None
) -> tuple[Callable[..., Any], Any, dict[str, Any] | None]:
    """Unpickle a task payload and check its shape (in the worker).

    Three shapes: ``(fn, args, kwargs)`` from :func:`dumps_call`, ``(fn_bytes, args, kwargs)``
    from :func:`dumps_packed_call`, and ``(fn_bytes, [args, ...])`` from
    :func:`dumps_packed_block`.  Function bytes are unpickled through ``cache`` (a throwaway
    one when None).

    Returns
    -------
    (fn, args, kwargs) for one call, or (fn, list of args tuples, None) for a block.

    Raises
    ------
    SerializationError
        The payload does not unpickle, or has none of these shapes.
    """
    call = loads(data, serializer, what="task payload")
    if type(call) is not tuple or len(call) not in (2, 3):
        raise SerializationError("task payload is not a (function, args, kwargs) triple")
    fn = call[0]
    if len(call) == 2:
        calls = call[1]
        if (
            type(fn) is not bytes
            or type(calls) is not list
            or not all(type(args) is tuple for args in calls)
        ):
            raise SerializationError("task payload is not a (function, [args, ...]) block")
        fn = (cache if cache is not None else FunctionCache(1)).get(fn, serializer)
        return fn, calls, None
    if type(call[1]) is not tuple or type(call[2]) is not dict:
        raise SerializationError("task payload is not a (function, args, kwargs) triple")
    if type(fn) is bytes:
        fn = (cache if cache is not None else FunctionCache(1)).get(fn, serializer)
        return fn, call[1], call[2]
    if not callable(fn):
        raise SerializationError("task payload is not a (function, args, kwargs) triple")
    return call


def loads_call(
    data: bytes, serializer: str = "cloudpickle", cache: FunctionCache | None = None
) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
    """Like :func:`loads_task` for one call; a block payload is refused.

    Raises
    ------
    SerializationError
        The payload does not unpickle, or is not ``(callable or bytes, tuple, dict)``.
    """
    fn, args, kwargs = loads_task(data, serializer, cache)
    if kwargs is None:
        raise SerializationError("task payload is not a (function, args, kwargs) triple")
    return fn, args, kwargs


def _format_traceback(exc: BaseException) -> str:
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        text = f"<traceback of {type(exc).__name__} could not be formatted>\n"
    if len(text) > _MAX_TRACEBACK_CHARS:
        text = "...(traceback truncated)...\n" + text[-_MAX_TRACEBACK_CHARS:]
    return text


def pack_exception(exc: BaseException, serializer: str = "cloudpickle") -> bytes:
    """Package an exception raised in a worker, with its traceback, as a result payload.

    The payload is a msgpack array ``[type_name, message, traceback_text, pickled]`` where
    ``pickled`` is the exception pickled alone, or nil if it would not survive a pickle round
    trip (unpicklable attributes, an ``__init__`` that rejects its own ``args``).  Type name,
    message and traceback travel as plain text so the caller always gets them, even when the
    exception's class cannot be imported there.

    Returns
    -------
    bytes
        Payload for a RESULTS entry with status ERROR or UNPICKLABLE_RESULT.
    """
    _check_serializer(serializer)
    type_name = _qualname(type(exc))
    try:
        message = str(exc)
    except Exception:
        message = "<str() of the exception failed>"
    if len(message) > _MAX_MESSAGE_TEXT_CHARS:
        message = message[:_MAX_MESSAGE_TEXT_CHARS] + "...(truncated)"
    tb_text = _format_traceback(exc)
    pickled: bytes | None
    try:
        pickled = _raw_dumps(exc, serializer)
        if type(pickle.loads(pickled)) is not type(exc):  # must survive the round trip
            pickled = None
    except Exception:
        pickled = None
    return msgpack.packb([_safe_text(type_name), _safe_text(message), _safe_text(tb_text), pickled])


def _safe_text(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def unpack_exception(data: bytes, serializer: str = "cloudpickle") -> BaseException:
    """Rebuild, in the caller, the exception packed by :func:`pack_exception`; never raises.

    Returns
    -------
    BaseException
        The original exception when it unpickles, else a :class:`~tuner.errors.RemoteError`
        with its type name, message and traceback; either way ``__cause__`` is a
        :class:`~tuner.errors.RemoteTraceback` holding the worker's traceback text.  A
        malformed payload gives a :class:`~tuner.errors.SerializationError`.  Set the result
        on the task's future.
    """
    _check_serializer(serializer)
    try:
        fields = msgpack.unpackb(
            data,
            raw=False,
            max_str_len=len(data),
            max_bin_len=len(data),
            max_array_len=4,
            max_map_len=0,
            max_ext_len=0,
        )
    except _UNPACK_ERRORS as exc:
        return _chained(SerializationError("malformed error payload from worker"), exc)
    if (
        type(fields) is not list
        or len(fields) != 4
        or not all(type(f) is str for f in fields[:3])
        or not (fields[3] is None or type(fields[3]) is bytes)
    ):
        return SerializationError("malformed error payload from worker")
    type_name, message, tb_text, pickled = fields
    result: BaseException | None = None
    if pickled is not None:
        try:
            candidate = pickle.loads(pickled)
        except Exception:
            candidate = None
        if isinstance(candidate, BaseException):
            result = candidate
    if result is None:
        result = RemoteError(type_name, message, tb_text)
    result.__cause__ = RemoteTraceback(tb_text)
    return result


def _chained(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


