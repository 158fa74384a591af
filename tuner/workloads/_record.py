"""The :class:`Workload` record and :class:`WorkloadError` (kept apart so that every module of
the package can import them without importing each other)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tuner.errors import WorkloadError

__all__ = ["Workload", "WorkloadError"]

#: Type of a workload's input source: ``(seed, n) -> items`` (args tuples, or
#: ``(key, args)`` pairs when keyed).
Source = Callable[[int, "int | None"], Iterator[Any]]


@dataclass(frozen=True, slots=True)
class Workload:
    """What a trial runs: a task function and a deterministic stream of its inputs.

    Parameters
    ----------
    name : str
        Registry name (``"mixed"``) or, for a user workload, ``"module:function"``.
    description : str
        The documented shape of the tasks (sizes, waits, distributions), one line.
    stresses : str
        What the workload stresses in a pool and why it exists, one line.
    fn : callable
        The task function.  A module-level function of an importable module (never
        ``__main__``): workers import it by reference.
    source : callable
        ``source(seed, n)`` yields the items; use :meth:`inputs` or :meth:`calls`.
    keyed : bool
        Whether items are ``(key, args)`` pairs: the key is what ``WorkerPool.submit_keyed``
        routes by (the affinity workload); otherwise items are ``args`` tuples.
    trial_tasks : int or None
        Suggested tasks in one trial's measured window: about 1-3 s with two workers on the
        development machine (2 cores).  ``None`` for a user workload: calibrate it.
    warmup_tasks : int or None
        Suggested tasks run before the measured window (start-up, warm caches).
    """

    name: str
    description: str
    stresses: str
    fn: Callable[..., Any] = field(repr=False)
    source: Source = field(repr=False)
    keyed: bool = False
    trial_tasks: int | None = None
    warmup_tasks: int | None = None

    def inputs(self, seed: int = 0, n: int | None = None) -> Iterator[Any]:
        """The input items for ``seed``: ``args`` tuples, or ``(key, args)`` when :attr:`keyed`.

        Parameters
        ----------
        seed : int
            The same seed gives the same items (a JSON-lines file ignores it: its order is
            its own; a user generator gets it if it declares ``seed``).
        n : int, optional
            How many items.  ``None``: the whole stream, endless for the built-ins.  A user
            stream shorter than ``n`` is restarted from its beginning as often as needed.

        Raises
        ------
        WorkloadError
            While iterating, if a user generator raises or a file changed under us.
        """
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
            raise WorkloadError(f"n must be None or an integer >= 0, got {n!r}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise WorkloadError(f"seed must be an integer, got {seed!r}")
        return self.source(seed, n)

    def calls(
        self, seed: int = 0, n: int | None = None
    ) -> Iterator[tuple[Hashable | None, tuple[Any, ...]]]:
        """Like :meth:`inputs`, always as ``(key, args)``; the key is None when not keyed.

        One loop then serves every workload::

            for key, args in workload.calls(seed, n):
                if key is None:
                    pool.submit(workload.fn, *args)
                else:
                    pool.submit_keyed(key, workload.fn, *args)
        """
        items = self.inputs(seed, n)
        if self.keyed:
            return iter(items)
        return zip(itertools.repeat(None), items)

    @property
    def function_ref(self) -> str:
        """``"module:qualname"`` of :attr:`fn`, as it would be written on the command line."""
        module = getattr(self.fn, "__module__", "?")
        qual = getattr(self.fn, "__qualname__", type(self.fn).__qualname__)
        return f"{module}:{qual}"
