"""When a batch kernel runs on numba's thread pool: one policy for the whole package.

Every public batch entry point with a ``parallel`` argument
(:meth:`kernels.ring.HashRing.lookup` and ``lookup_hashes``,
:func:`kernels.jump.jump_hash` and ``jump_hash_keys``,
:meth:`kernels.rendezvous.Rendezvous.lookup` and ``lookup_hashes``) reads it
the same way, through :func:`use_parallel`:

``parallel=False`` (the default everywhere)
    One core.  Why off by default?  On an idle 2-core machine ``prange``
    halves the time of a 1M-key batch, but this package mostly runs inside
    worker processes whose neighbours keep the other cores busy, and there a
    parallel region is *slower* than one core (its threads wait for cores
    that are taken).  Ask for threads only when the cores are known to be idle.
``parallel=None``
    Automatic: parallel for a batch of at least :data:`PARALLEL_MIN` keys
    (65,536), below which starting the thread pool's work outweighs the gain.
    A kernel whose per-key work is much larger passes its own, lower threshold
    (``min_n``): rendezvous scores every node for every key and goes parallel
    from 16,384 keys.
``parallel=True``
    Parallel whatever the size.

Whatever was asked, two safety rules can turn a parallel request into a
serial run (never the other way round); results are identical either way:

1. **Fork after OpenMP.**  GNU OpenMP is not fork-safe: numba *terminates* a
   forked child that starts a parallel region when the parent had already
   started OpenMP threads ("fork() called from a process already using GNU
   OpenMP").  An ``os.register_at_fork`` hook, installed when this module is
   imported, notes in the child whether that is the case; such a child then
   runs every batch serially.  (Fork is ``multiprocessing``'s default start
   method on Linux before Python 3.14: the common case for worker pools.)
2. **Concurrent launches under workqueue.**  numba's ``workqueue`` threading
   layer (the fallback when neither TBB nor OpenMP is installed) aborts the
   process when two Python threads launch parallel regions at once;
   :func:`run_maybe_parallel` lets one launch through at a time under it and
   runs any other concurrent call serially instead of waiting.

The parallel cores themselves (``@jit_parallel`` functions with ``prange``
loops) live next to their serial twins in each kernel module; they split a
batch into :data:`PAR_CHUNKS` chunks, enough to balance two to a few dozen
threads while allocating per-chunk scratch only that many times.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["PARALLEL_MIN", "PAR_CHUNKS", "run_maybe_parallel", "use_parallel"]

#: ``parallel=None`` goes parallel from this many keys on (unless a kernel passes ``min_n``).
PARALLEL_MIN = 1 << 16

#: Chunks per parallel call: enough to balance two to a few dozen threads.  The
#: ``prange`` cores read it as a compile-time constant, and numba's on-disk cache
#: only notices edits to the core's own file: clear the caches after changing it.
PAR_CHUNKS = 64

_FORKED_AFTER_OMP = False
_WORKQUEUE_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    # Remember, in the child, whether the parent had started OpenMP threads
    # (rule 1 of the module docstring); if so, run serially here.
    global _FORKED_AFTER_OMP
    try:
        from numba.np.ufunc import parallel as _p

        started = bool(getattr(_p, "_is_initialized", True))
        layer = getattr(_p, "_threading_layer", None)
    except Exception:  # pragma: no cover - numba internals moved: be conservative
        started, layer = True, None
    if started and layer not in ("tbb", "workqueue"):
        _FORKED_AFTER_OMP = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def use_parallel(parallel: bool | None, n: int, min_n: int = PARALLEL_MIN) -> bool:
    """Decide whether a batch of ``n`` keys runs on the parallel kernel.

    ``False``/``True`` force it; ``None`` (automatic) means yes from ``min_n``
    keys on.  Either way a process forked from a parent that already ran
    OpenMP threads runs serially (numba would kill it).
    """
    if _FORKED_AFTER_OMP:
        return False
    if parallel is None:
        return n >= min_n
    return bool(parallel)


def run_maybe_parallel(
    serial: Callable[..., Any], par: Callable[..., Any], parallel_wanted: bool, *args: Any
) -> None:
    """Call ``par(*args)`` if wanted and safe, else ``serial(*args)``.

    Under numba's ``workqueue`` threading layer a call that finds another
    parallel call in flight runs serially instead of waiting (rule 2 of the
    module docstring).
    """
    if not parallel_wanted:
        serial(*args)
        return
    if _threading_layer_is_workqueue():
        if not _WORKQUEUE_LOCK.acquire(blocking=False):
            serial(*args)
            return
        try:
            par(*args)
        finally:
            _WORKQUEUE_LOCK.release()
        return
    par(*args)


def _threading_layer_is_workqueue() -> bool:
    try:
        from numba.np.ufunc import parallel as _p

        layer = getattr(_p, "_threading_layer", None)
    except Exception:  # pragma: no cover
        return True
    # Before the first parallel launch the layer is unknown: it may become workqueue.
    return layer is None or layer == "workqueue"
