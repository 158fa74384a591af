"""Selection kernels for load balancers: which worker gets the next task?

Four policies, each in two layers (see ``docs/kernels.md``):

* :class:`SmoothWeightedRoundRobin` -- nginx's smooth weighted round-robin.
  Deterministic, exact shares over every period, and interleaved: weights
  ``{5, 1, 1}`` give ``a a b a c a a``, never ``a a a a a b c``.
* :class:`AliasTable` -- weighted random choice in O(1) per draw (Vose's alias
  method, 1991), built in O(n).  Use it when peers must not see a predictable
  order, or when many balancers share the same weights and must not herd.
* :class:`PowerOfTwoChoices` -- draw two distinct peers at random, send the
  task to the less loaded one (Mitzenmacher; Envoy ``LEAST_REQUEST``, HAProxy
  ``random(2)``).  Reads two loads per decision, not ``n``, and stays robust
  when the loads it sees are stale.
* :class:`LeastLoaded` -- scan all loads, pick a minimum, break ties uniformly
  at random (reservoir sampling, one pass).

The public classes here validate their input and own a seeded random stream;
the private ``@jit`` cores live in :mod:`kernels._select_cores`
(``_swrr_next``, ``_alias_sample``, ``_p2c_choose``, ``_least_loaded`` ...):
they take plain arrays plus a ``uint64[1]`` generator state from
:func:`kernels._rng.make_state`, so a numba caller can use them inside its own
compiled loop.  They assume valid input (the wrappers check it).

Randomness: every random policy draws from the splitmix64 stream of
``kernels._rng`` seeded by ``seed``; the same seed gives the same decisions
for the same loads.  ``seed=None`` seeds from the OS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._rng import make_state
from ._select_cores import (
    _alias_build,
    _alias_sample_many,
    _least_loaded,
    _least_loaded_assign,
    _least_loaded_assign_weighted,
    _least_loaded_weighted,
    _p2c_assign,
    _p2c_assign_weighted,
    _p2c_choose,
    _p2c_choose_weighted,
    _swrr_skip,
    _swrr_take,
)
from ._validate import as_1d_numbers, check_count, check_weights, is_real

__all__ = ["AliasTable", "LeastLoaded", "PowerOfTwoChoices", "SmoothWeightedRoundRobin"]

_SWRR_LIMIT = 1 << 62  # n * total must stay below this so int64 currents cannot overflow
_BUFFER = 64  # picks precomputed per numba call by the scalar entry points
_I64 = np.dtype(np.int64)
_F64 = np.dtype(np.float64)
_NDARRAY = np.ndarray

# ---------------------------------------------------------------------------------------------
# validation at the Python boundary


def _int_weights(weights: object, name: str = "weights") -> np.ndarray:
    """Integer weights (smooth WRR): 1-D, >= 0, not all zero, small enough not to overflow."""
    arr = as_1d_numbers(weights, name)
    if arr.dtype.kind == "f":
        raise TypeError(f"{name} must be integers (scale float weights first), not {arr.dtype}")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative")
    total = sum(arr.tolist())  # Python ints: no overflow while checking
    if total == 0:
        raise ValueError(f"{name} must not all be zero")
    if total * arr.shape[0] >= _SWRR_LIMIT:
        raise ValueError(f"{name} too large: n * sum(weights) must be below 2**62")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _alias_weights(weights: object, name: str = "weights") -> np.ndarray:
    """Alias-table weights: 1-D, finite, >= 0, with a positive sum the build can scale by."""
    arr = np.ascontiguousarray(as_1d_numbers(weights, name), dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if (arr < 0.0).any():
        raise ValueError(f"{name} must be non-negative")
    total = sum(arr.tolist())  # sequential, in the kernel's order, no numpy warning
    if not total > 0.0:
        raise ValueError(f"{name} must not all be zero")
    if not math.isfinite(total):
        raise ValueError(f"{name} sum overflows float64")
    if not math.isfinite(arr.shape[0] / total):
        raise ValueError(f"{name} are too small (n / sum(weights) overflows float64)")
    return arr


def _loads_arg(loads: object) -> np.ndarray:
    """Loads for a read-only decision: int64/float64 1-D arrays pass as they are."""
    if type(loads) is _NDARRAY and loads.ndim == 1:
        d = loads.dtype
        if d is _I64 or d is _F64:
            return loads
    if isinstance(loads, np.ndarray):
        if loads.ndim != 1:
            raise ValueError(f"loads must be 1-D, got {loads.ndim} dimensions")
        kind = loads.dtype.kind
        if kind == "b" or kind not in "iuf":
            raise TypeError(f"loads must have an integer or float dtype, not {loads.dtype}")
        return loads.astype(np.float64 if kind == "f" else np.int64)
    if isinstance(loads, (str, bytes)) or not isinstance(loads, Sequence):
        raise TypeError(f"loads must be a numpy array or a sequence, not {type(loads).__name__}")
    return _loads_arg(np.asarray(loads))


def _inplace_loads(loads: object) -> np.ndarray:
    """Loads updated in place by a batch assignment: a writeable int64/float64 1-D array."""
    if not isinstance(loads, np.ndarray):
        raise TypeError(
            f"loads must be a numpy int64 or float64 array (updated in place), "
            f"not {type(loads).__name__}"
        )
    if loads.ndim != 1:
        raise ValueError(f"loads must be 1-D, got {loads.ndim} dimensions")
    if loads.dtype != _I64 and loads.dtype != _F64:
        raise TypeError(f"loads must be int64 or float64 (updated in place), not {loads.dtype}")
    if not loads.flags.writeable:
        raise ValueError("loads must be writeable (it is updated in place)")
    if loads.shape[0] == 0:
        raise ValueError("loads must not be empty")
    return loads


def _cost_arg(cost: object, loads: np.ndarray):
    if not is_real(cost):
        raise TypeError(f"cost must be a number, not {type(cost).__name__}")
    if loads.dtype == _I64:
        if isinstance(cost, (float, np.floating)) and not float(cost).is_integer():
            raise TypeError("cost must be an integer when loads are int64")
        if not -(1 << 63) <= int(cost) < 1 << 63:
            raise ValueError("cost must fit in int64")
        return np.int64(int(cost))
    cost = float(cost)
    if not math.isfinite(cost):
        raise ValueError("cost must be finite")
    return np.float64(cost)


def _raise_code(code: int) -> None:
    if code == -1:
        raise ValueError("loads must not be empty")
    raise ValueError("loads must not contain NaN")


# ---------------------------------------------------------------------------------------------
# public classes


class SmoothWeightedRoundRobin:
    """nginx's smooth weighted round-robin over ``n`` peers with integer weights.

    Each step adds every peer's weight to its ``current`` counter, picks the
    largest counter (the lowest index on ties) and subtracts the total weight
    from the winner.  From the zero state, every run of ``sum(weights)`` picks
    chooses each peer exactly ``weight`` times and returns to the zero state;
    within it, peer ``i`` is never ahead of its share: after any ``t`` picks it
    has at most ``ceil(t * w_i / W)`` of them.  Weights ``{5, 1, 1}`` give
    ``a a b a c a a``.  No randomness is involved.

    Parameters
    ----------
    weights : sequence of int
        Non-negative integer weights, not all zero.  Zero-weight peers are
        never picked (a way to drain a peer without renumbering).
    start : int
        Skip this many picks first: balancers sharing the same weights can
        start at different phases so they do not all hit peer 0 together.

    Notes
    -----
    ``next()`` precomputes 64 picks per numba call and hands them out from a
    Python list, because the sequence is deterministic: the observable state
    (``current``) is replayed exactly when asked for, so buffering never
    changes a result.  Not thread-safe: give each thread its own instance.

    Examples
    --------
    >>> wrr = SmoothWeightedRoundRobin([5, 1, 1])
    >>> [wrr.next() for _ in range(7)]
    [0, 0, 1, 0, 2, 0, 0]
    """

    __slots__ = ("_base", "_buf", "_buflen", "_end", "_pos", "_weights")

    def __init__(self, weights: Sequence[int] | np.ndarray, *, start: int = 0) -> None:
        self._weights = _int_weights(weights)
        self._base = np.zeros(self._weights.shape[0], dtype=np.int64)
        self._end = self._base
        self._buf: list[int] = []
        self._buflen = 0
        self._pos = 0
        start = check_count(start, "start")
        if start:
            skip = start % int(self._weights.sum())  # the sequence has period sum(weights)
            if skip:
                _swrr_skip(self._base, self._weights, skip)

    def _sync(self) -> np.ndarray:
        """Drop the pick buffer, materialising the state after the picks handed out."""
        if self._buflen:
            pos = self._pos
            if pos == self._buflen:
                self._base = self._end
            elif pos:
                _swrr_skip(self._base, self._weights, pos)
            self._buf = []
            self._buflen = 0
            self._pos = 0
        return self._base

    def next(self) -> int:
        """The next peer index (amortised: one numba call per 64 picks)."""
        pos = self._pos
        if pos < self._buflen:
            self._pos = pos + 1
            return self._buf[pos]
        base = self._sync()
        end = base.copy()
        picks = np.empty(_BUFFER, dtype=np.int64)
        _swrr_take(end, self._weights, picks)
        self._end = end
        self._buf = picks.tolist()
        self._buflen = _BUFFER
        self._pos = 1
        return self._buf[0]

    __next__ = next

    def __iter__(self) -> SmoothWeightedRoundRobin:
        return self

    def take(self, k: int) -> np.ndarray:
        """The next ``k`` picks as int64[k] (one numba loop; the same stream as ``next()``)."""
        k = check_count(k)
        out = np.empty(k, dtype=np.int64)
        _swrr_take(self._sync(), self._weights, out)
        return out

    def set_weights(self, weights: Sequence[int] | np.ndarray) -> None:
        """Change the weights, keeping the interleaving state where it makes sense.

        Same number of peers: counters are kept, zero-weight peers' counters
        are set to 0, then the counters of positive-weight peers are shifted
        (evenly, integer division, remainder to the lowest indices) so they sum
        to zero again, the invariant of the algorithm.  With sum zero, the
        pre-pick counters of positive peers sum to the total weight, so a
        zero-weight peer can never win.  A different number of peers resets
        every counter to zero (peer indices no longer mean the same peers).
        """
        new = _int_weights(weights)
        cur = self._sync()
        if new.shape[0] != cur.shape[0]:
            self._weights = new
            self._base = self._end = np.zeros(new.shape[0], dtype=np.int64)
            return
        cur = cur.copy()
        positive = new > 0
        cur[~positive] = 0
        excess = int(cur.sum())
        m = int(positive.sum())
        q, r = divmod(excess, m)
        idx = np.flatnonzero(positive)
        cur[idx] -= q
        cur[idx[:r]] -= 1
        self._weights = new
        self._base = self._end = cur

    def reset(self) -> None:
        """Return to the zero state (the sequence starts over)."""
        self._sync()
        self._base = self._end = np.zeros(self._weights.shape[0], dtype=np.int64)

    @property
    def weights(self) -> np.ndarray:
        """A copy of the weights, int64[n]."""
        return self._weights.copy()

    @property
    def current(self) -> np.ndarray:
        """A copy of the counters, int64[n], after the picks handed out so far."""
        return self._sync().copy()

    @property
    def n(self) -> int:
        """Number of peers."""
        return int(self._weights.shape[0])

    def __repr__(self) -> str:
        return f"SmoothWeightedRoundRobin(weights={self._weights.tolist()})"


class AliasTable:
    """Weighted random choice in O(1) per draw: Vose's alias method.

    The table splits ``n`` equally likely columns so each holds at most two
    outcomes: a draw picks a column uniformly, then keeps it with probability
    ``prob[i]`` or takes ``alias[i]``.  Two random numbers and two array reads
    per draw, whatever the weights; building is O(n).

    Parameters
    ----------
    weights : sequence of float
        Finite, non-negative weights, not all zero.  Zero-weight entries are
        never drawn.
    seed : int or None
        Seed of the splitmix64 stream; ``None`` seeds from the OS.

    Notes
    -----
    The draws form one stream: any mix of ``sample()`` and ``sample_many(k)``
    calls yields the same sequence for the same seed (``sample()`` hands out
    draws precomputed 64 at a time, which is why it is cheap from Python).
    Not thread-safe: give each thread its own instance.

    Examples
    --------
    >>> table = AliasTable([0.5, 0.0, 1.5], seed=7)
    >>> draws = table.sample_many(100_000)
    >>> bool((draws != 1).all())
    True
    """

    __slots__ = ("_alias", "_buf", "_buflen", "_pos", "_prob", "_state", "_weights")

    def __init__(self, weights: Sequence[float] | np.ndarray, seed: int | None = None) -> None:
        self._weights = _alias_weights(weights)
        n = self._weights.shape[0]
        self._prob = np.empty(n, dtype=np.float64)
        self._alias = np.empty(n, dtype=np.int64)
        _alias_build(self._weights, self._prob, self._alias)
        self._state = make_state(seed)
        self._buf: list[int] = []
        self._buflen = 0
        self._pos = 0

    def sample(self) -> int:
        """One weighted draw (an index in ``[0, n)``)."""
        pos = self._pos
        if pos < self._buflen:
            self._pos = pos + 1
            return self._buf[pos]
        out = np.empty(_BUFFER, dtype=np.int64)
        _alias_sample_many(self._prob, self._alias, self._state, out)
        self._buf = out.tolist()
        self._buflen = _BUFFER
        self._pos = 1
        return self._buf[0]

    def sample_many(self, k: int) -> np.ndarray:
        """``k`` weighted draws as int64[k] (numba loop), continuing the same stream."""
        k = check_count(k)
        out = np.empty(k, dtype=np.int64)
        left = self._buflen - self._pos
        if left:
            m = min(left, k)
            out[:m] = self._buf[self._pos : self._pos + m]
            self._pos += m
        else:
            m = 0
        if k > m:
            _alias_sample_many(self._prob, self._alias, self._state, out[m:])
        return out

    @property
    def n(self) -> int:
        """Number of outcomes."""
        return int(self._weights.shape[0])

    @property
    def weights(self) -> np.ndarray:
        """A copy of the weights, float64[n]."""
        return self._weights.copy()

    @property
    def prob(self) -> np.ndarray:
        """A copy of the keep-probabilities, float64[n] (for numba callers of ``_alias_sample``)."""
        return self._prob.copy()

    @property
    def alias(self) -> np.ndarray:
        """A copy of the aliases, int64[n]."""
        return self._alias.copy()

    def __repr__(self) -> str:
        return f"AliasTable(n={self.n})"


class _LoadPolicy:
    """Shared state of the load-aware policies: a seeded stream and optional weights.

    Not thread-safe (the generator state is updated in place without a lock):
    give each thread its own instance, seeded differently.
    """

    __slots__ = ("_state", "_weights")

    def __init__(
        self, seed: int | None = None, weights: Sequence[float] | np.ndarray | None = None
    ) -> None:
        self._state = make_state(seed)
        self._weights: np.ndarray | None = None
        if weights is not None:
            self.set_weights(weights)

    def set_weights(self, weights: Sequence[float] | np.ndarray | None) -> None:
        """Compare ``load / weight`` instead of ``load`` (weights finite, > 0); ``None`` clears."""
        if weights is None:
            self._weights = None
        else:
            self._weights = np.array(check_weights(weights, None, of="peers"), dtype=np.float64)

    @property
    def weights(self) -> np.ndarray | None:
        """A copy of the weights (float64[n]) or ``None``."""
        return None if self._weights is None else self._weights.copy()

    @property
    def rng_state(self) -> np.ndarray:
        """The generator state, uint64[1] (live: numba callers may pass it to the cores)."""
        return self._state

    def _check_len(self, loads: np.ndarray) -> None:
        if loads.shape[0] != self._weights.shape[0]:
            raise ValueError(
                f"loads has {loads.shape[0]} entries but weights has {self._weights.shape[0]}"
            )

    def _assign(self, loads, k, cost, plain, weighted) -> np.ndarray:
        loads = _inplace_loads(loads)
        k = check_count(k)
        cost = _cost_arg(cost, loads)
        out = np.empty(k, dtype=np.int64)
        if self._weights is None:
            code = plain(loads, self._state, cost, out)
        else:
            self._check_len(loads)
            code = weighted(loads, self._weights, self._state, cost, out)
        if code:
            _raise_code(code)
        return out


def _choose_method(plain: Any, weighted: Any, doc: str) -> Callable[..., int]:
    """The ``choose`` method of a load policy over its numba cores ``plain(loads, state)``
    and ``weighted(loads, weights, state)``.

    Built per class, with the cores in the closure rather than looked up on
    ``self``: ``choose`` is a per-request call and the look-up would cost 8%.
    """

    def choose(self: _LoadPolicy, loads: np.ndarray | Sequence[float]) -> int:
        if (
            type(loads) is not _NDARRAY
            or loads.ndim != 1
            or (loads.dtype is not _I64 and loads.dtype is not _F64)
        ):
            loads = _loads_arg(loads)  # the slow path: convert or raise
        if self._weights is None:
            c = plain(loads, self._state)
        else:
            self._check_len(loads)
            c = weighted(loads, self._weights, self._state)
        if c < 0:
            _raise_code(c)
        return c

    choose.__doc__ = doc
    return choose


class PowerOfTwoChoices(_LoadPolicy):
    """Power of two choices: the less loaded of two distinct random peers.

    With ``n`` tasks thrown at ``n`` peers one at a time, uniform random
    choice leaves the busiest peer with about ``ln n / ln ln n`` tasks; two
    choices bring that to ``ln ln n / ln 2 + O(1)`` (Azar, Broder, Karlin &
    Upfal; Mitzenmacher), while reading only two loads per decision.

    Parameters
    ----------
    seed : int or None
        Seed of the splitmix64 stream; ``None`` seeds from the OS.
    weights : sequence of float or None
        Optional capacities (finite, > 0): compare ``load / weight``.

    Notes
    -----
    Ties go to the first peer drawn, as in Envoy's ``LEAST_REQUEST`` (a
    strict ``<`` keeps the earlier candidate); since the draw order is
    random, a tie is a fair coin.  With one peer the answer is 0 and no
    random number is drawn.  With two peers, a decision reads both loads but
    in random order, so the busier one is still never chosen unless tied.
    Only the two loads read are checked for NaN.

    Examples
    --------
    >>> p2c = PowerOfTwoChoices(seed=1)
    >>> p2c.choose(np.array([3, 0], dtype=np.int64))
    1
    """

    __slots__ = ()

    choose = _choose_method(
        _p2c_choose,
        _p2c_choose_weighted,
        """Index of the chosen peer for one task; ``loads`` is not modified.

        ``loads`` : int64 or float64[n] (other numeric arrays and sequences are
        converted, at a cost).
        """,
    )

    def assign(self, loads: np.ndarray, k: int, cost: float = 1) -> np.ndarray:
        """Assign ``k`` tasks in turn, adding ``cost`` to each chosen load in place.

        Returns the chosen peers, int64[k].  ``loads`` must be a writeable
        int64 or float64 1-D array; this is how to simulate a balancer.
        """
        return self._assign(loads, k, cost, _p2c_assign, _p2c_assign_weighted)

    def __repr__(self) -> str:
        return f"PowerOfTwoChoices(weighted={self._weights is not None})"


class LeastLoaded(_LoadPolicy):
    """Least-loaded peer, ties broken uniformly at random (one pass, reservoir sampling).

    O(n) per decision: best when ``n`` is small and loads are fresh.  With
    stale loads (many balancers, delayed reports) every balancer sends to the
    same minimum: prefer :class:`PowerOfTwoChoices` then.

    Parameters
    ----------
    seed : int or None
        Seed of the splitmix64 stream; ``None`` seeds from the OS.
    weights : sequence of float or None
        Optional capacities (finite, > 0): minimise ``load / weight``.

    Examples
    --------
    >>> LeastLoaded(seed=3).choose(np.array([2, 0, 5], dtype=np.int64))
    1
    """

    __slots__ = ()

    choose = _choose_method(
        _least_loaded,
        _least_loaded_weighted,
        """Index of a least-loaded peer (uniform among ties); ``loads`` is not modified.""",
    )

    def assign(self, loads: np.ndarray, k: int, cost: float = 1) -> np.ndarray:
        """Assign ``k`` tasks in turn to a least-loaded peer, adding ``cost`` in place."""
        return self._assign(loads, k, cost, _least_loaded_assign, _least_loaded_assign_weighted)

    def __repr__(self) -> str:
        return f"LeastLoaded(weighted={self._weights is not None})"
