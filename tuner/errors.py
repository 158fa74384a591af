"""The exceptions of ``tuner``: one root, with the builtin callers expect mixed in.

Every error ``tuner`` raises derives from :class:`TunerError`, so ``except TunerError``
catches all of ours and nothing else.  Where callers already catch a builtin for the same
condition, ours mixes it in (``ConfigError`` is a ``ValueError``, as the standard library's
executors raise ``ValueError`` for a bad ``max_workers``).
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

__all__ = [
    "AuthError",
    "BalancerError",
    "ConfigError",
    "MonitorError",
    "NotImplementedYet",
    "ProtocolError",
    "QueueFull",
    "RemoteError",
    "RemoteTraceback",
    "SearchError",
    "SerializationError",
    "TransportError",
    "TrialLogError",
    "TunerError",
    "WorkerCrashed",
    "WorkloadError",
]


class TunerError(Exception):
    """Root of every error raised by ``tuner``."""


class NotImplementedYet(TunerError, NotImplementedError):
    """A documented capability that has not been built yet."""


class ConfigError(TunerError, ValueError):
    """A configuration value is invalid: the message names the knob, the value and the range.

    Parameters
    ----------
    message : str
        Human-readable explanation, always naming the knob.
    knob : str, optional
        Name of the offending knob (or unknown option), for programs such as the tuner that
        react to the error without parsing the message.
    value : object, optional
        The rejected value.
    valid : str, optional
        The valid range or choices, as text.
    """

    def __init__(
        self, message: str, *, knob: str | None = None, value: Any = None, valid: str | None = None
    ) -> None:
        super().__init__(message)
        self.knob = knob
        self.value = value
        self.valid = valid


class BalancerError(TunerError, ValueError):
    """A balancer was driven against its contract: a bug in the caller (the broker).

    Raised for a worker added twice, a slot already taken, a task sent to a
    worker that is not live, and ``on_done`` for a worker with nothing
    outstanding (a count would go negative).  Bad configuration (an unknown
    balancer name or option, an invalid option value or weight) raises
    :class:`ConfigError` instead.
    """


class ProtocolError(TunerError):
    """A message violates the wire protocol (``tuner.wire``): malformed, oversized, wrong version.

    The receiver counts it, logs it once per peer and drops the message; it is never a reason
    for a broker or worker to stop.

    Parameters
    ----------
    reason : str
        Short, stable description of the violation (``"unsupported protocol version 2"``),
        suitable as a key for per-reason counters.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SerializationError(TunerError):
    """An object could not be pickled or unpickled; the message names the object that failed.

    Raised at ``submit`` for an unpicklable function or argument, so the failure reaches that
    one future at once instead of surfacing later in a background thread.
    """


class RemoteTraceback(TunerError):
    """Carrier of a worker's formatted traceback, attached as ``__cause__`` of a task's error.

    It is never raised by itself: printing the caller-side exception shows the worker's
    traceback first, then "The above exception was the direct cause of ...".

    Parameters
    ----------
    text : str
        The traceback as formatted in the worker (``traceback.format_exception``).
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class RemoteError(TunerError):
    """A task failed with an exception that could not travel back as itself.

    Stands in for an exception that could not be pickled in the worker or unpickled in the
    caller (for instance its class exists only in the worker), keeping what can be kept.

    Parameters
    ----------
    type_name : str
        Qualified name of the original exception's class (``"mymodule.MyError"``).
    message : str
        ``str()`` of the original exception.
    traceback_text : str
        The worker's formatted traceback.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str = "") -> None:
        super().__init__(type_name, message, traceback_text)
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


class TransportError(TunerError):
    """A ZeroMQ socket operation failed (bind, connect, send, receive).

    Raised by :mod:`tuner.transport`, which translates ``zmq.ZMQError`` at the boundary;
    the original error is the ``__cause__`` and its ``errno`` is kept.

    Parameters
    ----------
    message : str
        What was being done and why it failed.
    errno : int, optional
        The ZeroMQ / OS error number, when there is one.
    """

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class WorkerCrashed(TunerError, concurrent.futures.BrokenExecutor):
    """A task's worker died on every attempt: the task failed after ``max_retries`` re-runs.

    Only that task's future fails; the pool replaces the workers and keeps serving.  It is a
    ``BrokenExecutor`` because that is what code written for ProcessPoolExecutor catches.

    Parameters
    ----------
    task_id : int
        The pool's id of the task.
    function : str
        Qualified name of the task's function.
    attempts : int
        How many times the task was dispatched.
    """

    def __init__(self, task_id: int, function: str, attempts: int) -> None:
        super().__init__(
            f"task {task_id} ({function}) was running on a worker that died, "
            f"{attempts} time(s); giving up"
        )
        self.task_id = task_id
        self.function = function
        self.attempts = attempts

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.task_id, self.function, self.attempts))


class QueueFull(TunerError):
    """``submit`` found ``queue_size`` tasks unresolved and the pool has ``on_full="raise"``."""


class AuthError(TunerError):
    """CURVE security could not be set up: a key file is missing, unreadable or corrupt, keys
    would be overwritten, or a socket or authenticator was configured out of order.

    Raised by :mod:`tuner.security`, which translates ``zmq``, ``OSError`` and ``ValueError``
    failures at the boundary (the original error is the ``__cause__``).

    Parameters
    ----------
    message : str
        What failed, naming the file or directory involved.
    path : str, optional
        The key file or directory the error is about, for programs that react to it.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class WorkloadError(TunerError, ValueError):
    """A workload cannot be used: an unknown name, an unimportable ``module:function``,
    unreadable or malformed inputs, an empty input stream, a generator that raised.

    The message says what was wrong and what to do; a foreign cause (``ImportError``,
    ``OSError``, ``json.JSONDecodeError``, the generator's exception) is the ``__cause__``.
    """


class SearchError(TunerError, ValueError):
    """A search cannot proceed with what it was given: too few data points for a fit,
    non-positive measurements, a budget too small for one trial.  The message says what to do.
    """


class TrialLogError(SearchError):
    """A ``trials.jsonl`` file holds a corrupt line (not a torn last line, which is skipped).

    Parameters
    ----------
    message : str
        What is wrong, naming the file and line.
    path : str
        The log file.
    line : int
        1-based number of the offending line.
    """

    def __init__(self, message: str, *, path: str, line: int) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class MonitorError(TunerError):
    """Sampling failed for a reason other than a process going away (psutil or OS error).

    The psutil or ``OSError`` is the ``__cause__``.  A process of the tree exiting mid-sample
    is not an error: it is skipped and counted (``Sample.skipped``).
    """
