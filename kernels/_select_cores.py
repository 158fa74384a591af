"""Numba cores of the selection policies (private): the ``@jit`` layer of :mod:`kernels.select`.

Each function takes plain arrays and, for the random policies, a ``uint64[1]``
generator state from :func:`kernels._rng.make_state`, and may be called from a
numba caller's own compiled loop.  They assume valid input: the public classes
in :mod:`kernels.select` check it.

* smooth weighted round-robin (nginx): :func:`_swrr_next`, :func:`_swrr_take`,
  :func:`_swrr_skip`;
* Vose's alias method: :func:`_alias_build`, :func:`_alias_sample`,
  :func:`_alias_sample_many`;
* power of two choices: :func:`_p2c_pair`, :func:`_p2c_choose`,
  :func:`_p2c_choose_weighted`, :func:`_p2c_assign`, :func:`_p2c_assign_weighted`;
* least loaded: :func:`_least_loaded`, :func:`_least_loaded_weighted`,
  :func:`_least_loaded_assign`, :func:`_least_loaded_assign_weighted`.

The load cores return an index ``>= 0``, or ``-1`` for empty loads and ``-2``
when a NaN load was read; the ``*_assign`` loops return 0 or that code.  Each
load policy is written once, in its ``*_weighted`` form, whose ``weights`` may
be ``None`` (numba then compiles the unweighted comparison); the unweighted
names and the four ``*_assign`` loops are thin entry points over those and
over one assignment loop, :func:`_assign_loop`.
"""

from __future__ import annotations

import numpy as np

from ._config import jit
from ._rng import next_below, next_double

__all__ = [
    "_alias_build",
    "_alias_sample",
    "_alias_sample_many",
    "_least_loaded",
    "_least_loaded_assign",
    "_least_loaded_assign_weighted",
    "_least_loaded_weighted",
    "_p2c_assign",
    "_p2c_assign_weighted",
    "_p2c_choose",
    "_p2c_choose_weighted",
    "_p2c_pair",
    "_swrr_next",
    "_swrr_skip",
    "_swrr_take",
]


@jit
def _swrr_next(current, weights):
    """One nginx smooth-WRR step on ``current`` (int64[n], in place); returns the pick.

    For each peer ``current += weight`` and ``total += weight``; the peer with
    the largest ``current`` wins (the first one on ties) and gives back
    ``total``.  ``weights`` is int64[n], non-negative, not all zero.
    """
    best = 0
    best_value = current[0] + weights[0]
    current[0] = best_value
    total = weights[0]
    for i in range(1, current.shape[0]):
        w = weights[i]
        c = current[i] + w
        current[i] = c
        total += w
        if c > best_value:
            best = i
            best_value = c
    current[best] = best_value - total
    return best


@jit
def _swrr_take(current, weights, out):
    """Fill ``out`` (int64[k]) with the next ``k`` smooth-WRR picks, advancing ``current``."""
    for t in range(out.shape[0]):
        out[t] = _swrr_next(current, weights)


@jit
def _swrr_skip(current, weights, k):
    """Advance ``current`` by ``k`` picks without recording them."""
    for _ in range(k):
        _swrr_next(current, weights)


@jit
def _alias_build(weights, prob, alias):
    """Vose's alias table for ``weights`` (float64[n], >= 0, positive sum), O(n).

    Fills ``prob`` (float64[n]) and ``alias`` (int64[n]) so that column ``i``
    keeps itself with probability ``prob[i]`` and otherwise yields
    ``alias[i]``.  Worklists are stacks filled in index order.
    """
    n = weights.shape[0]
    total = 0.0
    best = 0
    for i in range(n):
        total += weights[i]
        if weights[i] > weights[best]:
            best = i
    scale = n / total
    p = np.empty(n, dtype=np.float64)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        p[i] = weights[i] * scale
        alias[i] = i
        if p[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        g = large[nl - 1]
        prob[s] = p[s]
        alias[s] = g
        p[g] = (p[g] + p[s]) - 1.0  # Vose's ordering: the stabler of the two
        if p[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    # Whatever is left is 1 up to rounding.  A zero weight can only be left over if
    # rounding lost a whole unit of mass, which cannot happen below 2**32 entries;
    # guard anyway: a zero-weight column must never yield itself.
    for t in range(nl):
        prob[large[t]] = 1.0
    for t in range(ns):
        s = small[t]
        if weights[s] > 0.0:
            prob[s] = 1.0
        else:
            prob[s] = 0.0
            alias[s] = best


@jit
def _alias_sample(prob, alias, state):
    """One draw from the alias table: a uniform column, then a biased coin (2 RNG draws)."""
    i = next_below(state, prob.shape[0])
    if next_double(state) < prob[i]:
        return i
    return alias[i]


@jit
def _alias_sample_many(prob, alias, state, out):
    """Fill ``out`` (int64[k]) with ``k`` draws (the same stream as ``k`` single draws)."""
    for t in range(out.shape[0]):
        out[t] = _alias_sample(prob, alias, state)


@jit
def _p2c_pair(state, n):
    """Two distinct uniform indices in ``[0, n)``, ``n >= 2``: ``(first, second)``."""
    i = next_below(state, n)
    j = next_below(state, n - 1)
    if j >= i:
        j += 1
    return i, j


@jit
def _load_of(loads, weights, i):
    """The load a decision compares: ``loads[i]``, or ``loads[i] / weights[i]``.

    ``weights`` is float64[n] (> 0) or ``None``; numba compiles a separate
    version for ``None`` with the branch removed, so unweighted decisions
    compare the loads themselves (int64 stays int64) at no cost.
    """
    if weights is None:
        return loads[i]
    return loads[i] / weights[i]


@jit
def _p2c_choose_weighted(loads, weights, state):
    """Power of two choices on ``loads`` (int64 or float64[n]), by ``load / weight``.

    ``weights``: float64[n] (> 0), or ``None`` to compare the loads
    themselves.  Returns the less loaded of two distinct random peers; on a
    tie the first drawn wins (Envoy's strict ``<``), which is itself a fair
    coin because the draw order is random.  ``n == 1`` returns 0 without
    drawing; ``n == 0`` returns -1; a NaN among the two loads read returns -2.
    """
    n = loads.shape[0]
    if n <= 1:
        return n - 1
    i, j = _p2c_pair(state, n)
    a = _load_of(loads, weights, i)
    b = _load_of(loads, weights, j)
    if a != a or b != b:
        return -2
    if b < a:
        return j
    return i


@jit
def _p2c_choose(loads, state):
    """:func:`_p2c_choose_weighted` without weights."""
    return _p2c_choose_weighted(loads, None, state)


@jit
def _least_loaded_weighted(loads, weights, state):
    """Index of a minimum of ``load / weight``, uniform among all minima (one pass, reservoir).

    ``weights``: float64[n] (> 0), or ``None`` to compare the loads
    themselves.  The ``m``-th tie seen replaces the current pick with
    probability ``1/m``; one RNG draw per tie after the first, none without
    ties.  ``n == 0`` returns -1, a NaN load -2.
    """
    n = loads.shape[0]
    if n == 0:
        return -1
    best = _load_of(loads, weights, 0)
    if best != best:
        return -2
    pick = 0
    ties = 1
    for i in range(1, n):
        x = _load_of(loads, weights, i)
        if x < best:
            best = x
            pick = i
            ties = 1
        elif x == best:
            ties += 1
            if next_below(state, ties) == 0:
                pick = i
        elif x != x:
            return -2
    return pick


@jit
def _least_loaded(loads, state):
    """:func:`_least_loaded_weighted` without weights."""
    return _least_loaded_weighted(loads, None, state)


@jit
def _assign_loop(loads, weights, state, cost, out, least_loaded):
    """Assign ``len(out)`` tasks one after another, adding ``cost`` to each chosen load.

    Each decision is :func:`_least_loaded_weighted` if ``least_loaded``, else
    :func:`_p2c_choose_weighted` (``weights`` may be ``None``).  Returns 0,
    or -2 if a NaN load was read (``out`` is then partly filled).
    """
    for t in range(out.shape[0]):
        if least_loaded:
            c = _least_loaded_weighted(loads, weights, state)
        else:
            c = _p2c_choose_weighted(loads, weights, state)
        if c < 0:
            return c
        out[t] = c
        loads[c] += cost
    return 0


@jit
def _p2c_assign(loads, state, cost, out):
    """Assign ``len(out)`` tasks in turn by power of two choices (see :func:`_assign_loop`)."""
    return _assign_loop(loads, None, state, cost, out, False)


@jit
def _p2c_assign_weighted(loads, weights, state, cost, out):
    """Weighted :func:`_p2c_assign`."""
    return _assign_loop(loads, weights, state, cost, out, False)


@jit
def _least_loaded_assign(loads, state, cost, out):
    """Assign ``len(out)`` tasks in turn to the least loaded peer (O(n) each)."""
    return _assign_loop(loads, None, state, cost, out, True)


@jit
def _least_loaded_assign_weighted(loads, weights, state, cost, out):
    """Weighted :func:`_least_loaded_assign`."""
    return _assign_loop(loads, weights, state, cost, out, True)
