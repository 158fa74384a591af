"""The worker pool's knobs: one frozen, validated record, with the search space declared once.

``tuner.pool.WorkerPool`` builds one of these from its keyword arguments.

Why one record: the pool, its documentation and the auto-tuner must agree on every knob's
name, default and valid range.  Each field of :class:`PoolConfig` carries a :class:`Knob` in
its dataclass metadata; validation, error messages, :meth:`PoolConfig.knobs` and
:meth:`PoolConfig.search_space` all read that one declaration, so they cannot drift apart.

Example
-------
>>> cfg = PoolConfig(max_workers=2, balancer="round_robin")
>>> cfg.replace(batch_size=16).batch_size
16
>>> [k.name for k in PoolConfig.search_space()]
['max_workers', 'balancer', 'batch_size', 'prefetch', 'balance_factor']
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import numbers
import operator
import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, NoReturn

from . import payloads, wire
from .errors import ConfigError

__all__ = [
    "BALANCERS",
    "DEFAULT_MAX_WORKERS",
    "Endpoint",
    "Knob",
    "PoolConfig",
    "parse_endpoint",
]

BALANCERS: Final = (
    "random",
    "round_robin",
    "weighted_round_robin",
    "least_outstanding",
    "power_of_two",
    "consistent_hash",
    "bounded_load_hash",
    "pull",
)
"""Balancer names accepted by ``balancer``, declared here once.

The strategies themselves live in :mod:`tuner.pool.balancers`, whose registry maps each of
these names to its class and refuses to import if the two differ.  The names live here, not
there, so that validating a ``PoolConfig`` does not import numba.
"""


def _usable_cpus() -> int:
    # The CPUs this process may run on (affinity, containers), as Python 3.13's
    # os.process_cpu_count() reports; os.cpu_count() counts the whole machine.
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return counter() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


DEFAULT_MAX_WORKERS: Final = _usable_cpus()
"""Default ``max_workers``: the usable CPUs of this process, like ProcessPoolExecutor's."""

MAX_WORKERS_LIMIT: Final = 1024
_IPC_PATH_MAX_BYTES: Final = 107  # Linux sun_path is 108 bytes including the final NUL
_MAX_WEIGHT: Final = 1e6

KnobKind = Literal["int", "float", "choice", "weights", "endpoint", "path"]


@dataclass(frozen=True, slots=True)
class Knob:
    """Declaration of one pool knob: what it is, its default, what is valid, what is searched.

    Parameters
    ----------
    name : str
        The field and keyword name.
    kind : {"int", "float", "choice", "weights", "endpoint", "path"}
        How values are validated: a number in ``[low, high]``, one of ``choices``, a tuple of
        positive weights, a ZeroMQ endpoint string, or a filesystem path.
    default : object
        Value when not given.
    doc : str
        One line for the docs and for error messages.
    unit : str
        Unit of the value ("s", "bytes", "tasks"), empty if none.
    low, high : int or float, optional
        Inclusive valid range of a number.
    choices : tuple of str
        Valid values of a "choice" knob.
    nullable : bool
        Whether ``None`` is valid (it means "not set", see ``doc``).
    searched : bool
        Whether the auto-tuner searches this knob (performance knobs only: knobs that change
        semantics, such as ``max_retries`` or ``serializer``, are the user's call).
    search_low, search_high : int or float, optional
        The range the tuner searches, inside ``[low, high]`` (defaults to it).
    log_scale : bool
        Whether the tuner should sample the range on a logarithmic scale.
    balancers : tuple of str
        The balancers for which this knob matters; empty means all.
    """

    name: str
    kind: KnobKind
    default: Any
    doc: str
    unit: str = ""
    low: int | float | None = None
    high: int | float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    searched: bool = False
    search_low: int | float | None = None
    search_high: int | float | None = None
    log_scale: bool = False
    balancers: tuple[str, ...] = ()

    @property
    def search_range(self) -> tuple[int | float, int | float] | None:
        """Inclusive ``(low, high)`` the tuner searches, or None for a non-numeric knob."""
        if self.kind not in ("int", "float"):
            return None
        low = self.low if self.search_low is None else self.search_low
        high = self.high if self.search_high is None else self.search_high
        return (low, high)  # type: ignore[return-value]  # numeric knobs declare both

    def valid_text(self) -> str:
        """The valid values as text, as error messages show them."""
        if self.kind in ("int", "float"):
            unit = f" {self.unit}" if self.unit else ""
            text = f"{self.low}..{self.high}{unit}"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "weights":
            text = f"a sequence of weights in (0, {_MAX_WEIGHT:g}]"
        elif self.kind == "endpoint":
            text = "'tcp://HOST:PORT' (PORT a number, 0 or *) or 'ipc://PATH'"
        else:
            text = "a non-empty path"
        return f"{text} or None" if self.nullable else text

    def validate(self, value: Any) -> Any:
        """Return ``value`` normalised (numpy integers to int, lists to tuples, ...).

        Raises
        ------
        ConfigError
            Naming the knob, the value and the valid values.
        """
        if value is None:
            if self.nullable:
                return None
            self._fail(value, "must not be None")
        check = getattr(self, f"_check_{self.kind}")
        return check(value)

    def _fail(self, value: Any, problem: str) -> NoReturn:
        raise ConfigError(
            f"{self.name} {problem} (got {value!r}; valid: {self.valid_text()})",
            knob=self.name,
            value=value,
            valid=self.valid_text(),
        )

    def _check_int(self, value: Any) -> int:
        if isinstance(value, bool):
            self._fail(value, "must be an integer, not a bool")
        try:
            number = operator.index(value)
        except TypeError:
            self._fail(value, "must be an integer")
        if number < self.low:  # type: ignore[operator]
            if self.low == 1:  # ProcessPoolExecutor's wording, so its callers' checks hold
                self._fail(value, "must be greater than 0")
            self._fail(value, f"must be at least {self.low}")
        if number > self.high:  # type: ignore[operator]
            self._fail(value, f"must be at most {self.high}")
        return number

    def _check_float(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            self._fail(value, "must be a number")
        number = float(value)
        if not math.isfinite(number) or not self.low <= number <= self.high:  # type: ignore[operator]
            self._fail(value, "is out of range")
        return number

    def _check_choice(self, value: Any) -> str:
        if type(value) is not str:
            self._fail(value, "must be a string")
        if value not in self.choices:
            close = difflib.get_close_matches(value, self.choices, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "unknown value"
            self._fail(value, f"is not valid: {hint}")
        return value

    def _check_weights(self, value: Any) -> tuple[float, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
            self._fail(value, "must be a tuple or list of numbers")
        if not 1 <= len(value) <= MAX_WORKERS_LIMIT:
            self._fail(value, f"must have 1..{MAX_WORKERS_LIMIT} entries")
        weights = []
        for w in value:
            if isinstance(w, bool) or not isinstance(w, numbers.Real):
                self._fail(value, "must hold numbers only")
            number = float(w)
            if not (math.isfinite(number) and 0.0 < number <= _MAX_WEIGHT):
                self._fail(value, f"has weight {w!r} outside (0, {_MAX_WEIGHT:g}]")
            weights.append(number)
        return tuple(weights)

    def _check_endpoint(self, value: Any) -> str:
        if type(value) is not str:
            self._fail(value, "must be a string")
        try:
            parse_endpoint(value)
        except ValueError as exc:
            self._fail(value, f"is not a valid endpoint: {exc}")
        return value

    def _check_path(self, value: Any) -> str:
        try:
            path = os.fspath(value)
        except TypeError:
            self._fail(value, "must be a path")
        if type(path) is not str or not path or "\0" in path:
            self._fail(value, "must be a non-empty text path")
        return path


# ---------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed ``bind`` endpoint.

    Attributes
    ----------
    scheme : {"tcp", "ipc"}
    host : str
        TCP host as written (``"*"``, an address, a name; IPv6 without brackets); "" for ipc.
    port : int or None
        TCP port, or None for ``*`` (0 also asks the OS for a free port); None for ipc.
    path : str
        ipc path ("" for tcp); ``"*"`` lets ZeroMQ pick one.
    loopback : bool
        True for ipc and for TCP on 127.0.0.0/8, ::1 or "localhost": reachable only from this
        machine, so no CURVE keys are required.  Host names and ``*`` count as non-loopback.
    """

    scheme: Literal["tcp", "ipc"]
    host: str
    port: int | None
    path: str
    loopback: bool


_HOST_LABEL: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def parse_endpoint(text: str) -> Endpoint:
    """Parse and check a ZeroMQ bind endpoint: ``tcp://HOST:PORT`` or ``ipc://PATH``.

    Pure syntax: nothing is resolved or bound.  HOST is ``*``, an IPv4 address, a bracketed
    IPv6 address or a host/interface name; PORT is 0..65535 or ``*`` (0 and ``*`` let the OS
    choose).  PATH is ``*`` or at most 107 UTF-8 bytes (the Unix socket path limit).

    Raises
    ------
    ValueError
        With the reason (``PoolConfig`` turns it into a ConfigError naming ``bind``).
    """
    if type(text) is not str:
        raise ValueError("an endpoint is a string")
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ValueError("missing '://'")
    if scheme == "ipc":
        if not rest:
            raise ValueError("empty ipc path")
        if "\0" in rest:
            raise ValueError("NUL in ipc path")
        if len(rest.encode("utf-8", "surrogateescape")) > _IPC_PATH_MAX_BYTES:
            raise ValueError(f"ipc path longer than {_IPC_PATH_MAX_BYTES} bytes")
        return Endpoint("ipc", "", None, rest, True)
    if scheme != "tcp":
        raise ValueError(f"scheme {scheme!r} not supported (tcp or ipc)")
    host, colon, port_text = rest.rpartition(":")
    if not colon or not host:
        raise ValueError("tcp endpoint needs HOST:PORT")
    if port_text == "*":
        port = None
    elif port_text.isascii() and port_text.isdigit() and int(port_text) <= 65535:
        port = int(port_text)
    else:
        raise ValueError(f"port {port_text!r} is not 0..65535 or *")
    if host == "*":
        return Endpoint("tcp", host, port, "", False)
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError("unclosed '[' in IPv6 host")
        host = host[1:-1]
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
        return Endpoint("tcp", host, port, "", address.is_loopback)
    if all(c.isdigit() or c == "." for c in host):
        try:
            address4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv4 address") from None
        return Endpoint("tcp", host, port, "", address4.is_loopback)
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError(f"{host!r} is not a host name (IPv6 needs [brackets])")
    return Endpoint("tcp", host, port, "", host.lower() == "localhost")


# ---------------------------------------------------------------------------------------------
# The configuration record
# ---------------------------------------------------------------------------------------------


def _knob(**spec: Any) -> Any:
    knob = Knob(**spec)
    return field(default=knob.default, metadata={"knob": knob})


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Every knob of the worker pool, validated on construction; immutable.

    Build with keywords (``PoolConfig(max_workers=4)``) or :meth:`from_kwargs` (which also
    suggests the closest name for a misspelt one), derive with :meth:`replace`, serialise with
    :meth:`to_dict`.  ``max_workers=None`` means the default, as in ProcessPoolExecutor.
    ``WorkerPool`` takes the same keywords.

    Raises
    ------
    ConfigError
        (a ``ValueError``) naming the knob, the value and the valid range;
        ``max_workers <= 0`` reads "max_workers must be greater than 0" as in the standard
        library.
    """

    max_workers: int = _knob(
        name="max_workers",
        kind="int",
        default=DEFAULT_MAX_WORKERS,
        doc="local worker processes started by the pool (default: usable CPUs)",
        unit="processes",
        low=1,
        high=MAX_WORKERS_LIMIT,
        searched=True,
        search_high=min(4 * DEFAULT_MAX_WORKERS, MAX_WORKERS_LIMIT),
    )
    balancer: str = _knob(
        name="balancer",
        kind="choice",
        default="power_of_two",
        doc="load-balancing strategy choosing the worker for each task",
        choices=BALANCERS,
        searched=True,
    )
    batch_size: int = _knob(
        name="batch_size",
        kind="int",
        default=1,
        doc=(
            "tasks coalesced into one TASKS message at least, when that many are queued; a "
            "deeper queue is split in fair shares up to each worker's credit (each task keeps "
            "its own future)"
        ),
        unit="tasks",
        low=1,
        high=wire.MAX_BATCH_TASKS,
        searched=True,
        search_high=1024,
        log_scale=True,
    )
    prefetch: int = _knob(
        name="prefetch",
        kind="int",
        default=256,
        doc=(
            "credit window: most tasks one worker may hold (running plus queued in it); the "
            "window in use adapts below it to about 2 ms of the worker's measured work"
        ),
        unit="tasks",
        low=1,
        high=wire.MAX_CREDIT,
        searched=True,
        search_high=1024,
        log_scale=True,
    )
    max_retries: int = _knob(
        name="max_retries",
        kind="int",
        default=2,
        doc="re-runs of a task whose worker died before the task fails with WorkerCrashed",
        unit="retries",
        low=0,
        high=100,
    )
    heartbeat_interval_s: float = _knob(
        name="heartbeat_interval_s",
        kind="float",
        default=wire.HEARTBEAT_INTERVAL_S,
        doc="seconds between heartbeats, both ways",
        unit="s",
        low=0.01,
        high=60.0,
    )
    heartbeat_liveness: int = _knob(
        name="heartbeat_liveness",
        kind="int",
        default=wire.HEARTBEAT_LIVENESS,
        doc="silent heartbeat intervals after which a peer is presumed dead",
        unit="intervals",
        low=1,
        high=wire.MAX_HEARTBEAT_LIVENESS,
    )
    queue_size: int = _knob(
        name="queue_size",
        kind="int",
        default=0,
        doc="most submitted tasks waiting for a worker before backpressure; 0 = unbounded",
        unit="tasks",
        low=0,
        high=2**31 - 1,
    )
    on_full: str = _knob(
        name="on_full",
        kind="choice",
        default="block",
        doc="what submit does when queue_size is reached: block, or raise an error",
        choices=("block", "raise"),
    )
    serializer: str = _knob(
        name="serializer",
        kind="choice",
        default="cloudpickle",
        doc="payload serializer: cloudpickle (lambdas, closures) or pickle (faster)",
        choices=payloads.SERIALIZERS,
    )
    worker_weights: tuple[float, ...] | None = _knob(
        name="worker_weights",
        kind="weights",
        default=None,
        doc="one weight per local worker for weighted_round_robin; None = all equal",
        nullable=True,
        balancers=("weighted_round_robin",),
    )
    balance_factor: float = _knob(
        name="balance_factor",
        kind="float",
        default=1.25,
        doc="bounded_load_hash capacity per worker: ceil(factor * tasks / workers)",
        low=1.0,
        high=100.0,
        searched=True,
        search_high=2.0,
        balancers=("bounded_load_hash",),
    )
    max_message_bytes: int = _knob(
        name="max_message_bytes",
        kind="int",
        default=wire.DEFAULT_MAX_MESSAGE_BYTES,
        doc="largest message (all frames) accepted or sent; larger ones are dropped",
        unit="bytes",
        low=wire.MIN_MESSAGE_BYTES,
        high=wire.MAX_MESSAGE_BYTES,
    )
    bind: str | None = _knob(
        name="bind",
        kind="endpoint",
        default=None,
        doc="endpoint remote workers connect to; None = a private ipc endpoint",
        nullable=True,
    )
    curve_keys_dir: str | None = _knob(
        name="curve_keys_dir",
        kind="path",
        default=None,
        doc="directory of CURVE keys; required when bind is not loopback",
        nullable=True,
    )
    _KNOBS: ClassVar[tuple[Knob, ...]]

    def __post_init__(self) -> None:
        if self.max_workers is None:  # ProcessPoolExecutor(max_workers=None) means default
            object.__setattr__(self, "max_workers", DEFAULT_MAX_WORKERS)
        for knob in self.knobs():
            object.__setattr__(self, knob.name, knob.validate(getattr(self, knob.name)))
        weights = self.worker_weights
        if weights is not None and len(weights) != self.max_workers:
            raise ConfigError(
                f"worker_weights has {len(weights)} entries but max_workers={self.max_workers}:"
                " give one weight per local worker",
                knob="worker_weights",
                value=weights,
                valid=f"{self.max_workers} weights",
            )
        if self.bind is not None and self.curve_keys_dir is None:
            endpoint = parse_endpoint(self.bind)
            if not endpoint.loopback:
                raise ConfigError(
                    f"bind={self.bind!r} accepts connections from other machines, which "
                    "requires CURVE authentication: set curve_keys_dir to a directory of "
                    "CURVE keys, or bind loopback (tcp://127.0.0.1:PORT) or ipc",
                    knob="bind",
                    value=self.bind,
                    valid="a loopback or ipc endpoint, or any endpoint with curve_keys_dir",
                )

    @classmethod
    def knobs(cls) -> tuple[Knob, ...]:
        """Every knob, in field order."""
        return cls._KNOBS

    @classmethod
    def knob(cls, name: str) -> Knob:
        """The knob called ``name``.

        Raises
        ------
        ConfigError
            No such knob (with the closest name as a suggestion).
        """
        for knob in cls._KNOBS:
            if knob.name == name:
                return knob
        raise _unknown(name)

    @classmethod
    def search_space(cls) -> tuple[Knob, ...]:
        """The knobs the auto-tuner searches, with their ``search_range`` / ``choices``."""
        return tuple(k for k in cls._KNOBS if k.searched)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> PoolConfig:
        """Build from keyword arguments, as ``WorkerPool(**kwargs)`` will.

        Raises
        ------
        ConfigError
            An unknown name (with a did-you-mean suggestion) or an invalid value.
        """
        names = {k.name for k in cls._KNOBS}
        for name in kwargs:
            if name not in names:
                raise _unknown(name)
        return cls(**kwargs)

    def replace(self, **changes: Any) -> PoolConfig:
        """A copy with ``changes`` applied and validated (unknown names are refused)."""
        return self.from_kwargs(**{**self._values(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Every knob's value, JSON-serialisable; ``from_kwargs(**d)`` gives an equal record."""
        values = self._values()
        if values["worker_weights"] is not None:
            values["worker_weights"] = list(values["worker_weights"])
        return values

    def _values(self) -> dict[str, Any]:
        return {k.name: getattr(self, k.name) for k in self._KNOBS}


PoolConfig._KNOBS = tuple(f.metadata["knob"] for f in dataclasses.fields(PoolConfig))


def _unknown(name: str) -> ConfigError:
    valid = [k.name for k in PoolConfig._KNOBS]
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid names: {', '.join(valid)}"
    return ConfigError(f"unknown pool option {name!r}{hint}", knob=name, valid=", ".join(valid))
