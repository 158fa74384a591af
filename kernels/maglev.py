"""Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
Balancer", NSDI 2016).

Why Maglev?  A lookup is one hash and one array read, ``table[hash % M]``, so
it is the fastest named-node placement here, and the table is built in
milliseconds.  Each backend owns an almost exactly equal share of the ``M``
table slots (weighted backends: a share proportional to their weight).  The
price is disruption: when a backend leaves, its keys move (as they must), and
a few other keys move too, because the other backends' turns in the filling
order shift (the paper accepts this; Envoy reports about twice a ring's
movement).  Pick it for stateless routing (load balancers, connection
spreading) where lookup speed and balance matter more than minimal movement.

Building the table
------------------
For backend ``i`` with name ``s`` (UTF-8)::

    offset_i = XXH64(s, seed=0) % M
    skip_i   = XXH64(s, seed=1) % (M - 1) + 1
    permutation_i[j] = (offset_i + j * skip_i) % M        j = 0, 1, ..., M - 1

``M`` is prime, so every permutation visits every slot once.  Backends take
turns; on its turn a backend walks its permutation to its next slot that is
still empty and claims it, until all ``M`` slots are taken.

Turn order is the backends sorted by name (their UTF-8 bytes), not the order
given: two processes that list the same backends differently build the same
table (as a mapping from slot to *name*).  ``table`` itself stores indices
into :attr:`MaglevTable.backends`, the order you gave.

Weights (the paper leaves the method open; this is the rule Envoy uses): in
round ``t = 1, 2, ...`` backend ``i``, having claimed ``k_i`` slots so far,
takes its turn only if ``t * w_i >= k_i * w_max``.  So every backend claims a
slot in round 1, the heaviest claims every round, and after ``T`` rounds a
backend holds ``floor(T * w_i / w_max) + 1`` slots: shares proportional to
weight, and never zero (``M`` must exceed the number of backends).

Looking up
----------
A key's slot is ``h % M`` with ``h`` its 64-bit hash (:func:`kernels.hashing.hash_keys`,
XXH64 with seed 0 of the UTF-8 bytes); its backend is ``table[slot]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._config import jit
from ._validate import check_hashes, check_int, check_names, check_weights, key_bytes
from .hashing import hash_keys, xxh64

__all__ = ["MAGLEV_DEFAULT_TABLE_SIZE", "MAGLEV_MAX_TABLE_SIZE", "MaglevTable"]

#: Envoy's default table size: prime, and over 100 slots per backend up to 655 backends.
MAGLEV_DEFAULT_TABLE_SIZE = 65537
#: The largest table size accepted (Envoy's cap; about 20 MB of int32 slots).
MAGLEV_MAX_TABLE_SIZE = 5_000_011

_ONE = np.uint64(1)


# --------------------------------------------------------------------------- kernels


@jit
def _maglev_populate(offsets, skips, weights, owner, m):
    """Fill a Maglev table.

    ``offsets``/``skips``: int64[n] in turn order; ``weights``: float64[n] > 0;
    ``owner``: int32[n], the value stored for each turn position (the
    caller's backend index); ``m``: prime table size > n.  Returns int32[m].

    The walk past taken slots tests a bitmap (``m / 8`` bytes: 625 kB for the
    largest table, so it stays in L2 cache) instead of the table itself;
    filling the last slots takes about ``m ln m`` probes in all, and with 5M
    slots that is 4-5x faster than probing the 20 MB table.
    """
    n = offsets.shape[0]
    table = np.empty(m, dtype=np.int32)
    taken = np.zeros((m + 63) // 64, dtype=np.uint64)
    pos = offsets.copy()  # each backend's current place in its permutation
    claims = np.zeros(n, dtype=np.int64)
    wmax = weights.max()
    filled = 0
    t = 0
    while True:
        t += 1
        for p in range(n):
            if np.float64(t) * weights[p] < np.float64(claims[p]) * wmax:
                continue
            c = pos[p]
            skip = skips[p]
            while taken[c >> 6] & (_ONE << np.uint64(c & 63)):
                c += skip
                if c >= m:
                    c -= m
            taken[c >> 6] |= _ONE << np.uint64(c & 63)
            table[c] = owner[p]
            c += skip
            if c >= m:
                c -= m
            pos[p] = c
            claims[p] += 1
            filled += 1
            if filled == m:
                return table


@jit
def _maglev_lookup(table, hashes, out):
    """``out[i] = table[hashes[i] % len(table)]``; hashes uint64[k], out int64[k]."""
    m = np.uint64(table.shape[0])
    for i in range(hashes.shape[0]):
        out[i] = table[hashes[i] % m]


def _is_prime(m: int) -> bool:
    if m < 2:
        return False
    if m % 2 == 0:
        return m == 2
    return all(m % d for d in range(3, math.isqrt(m) + 1, 2))


# --------------------------------------------------------------------------- public


class MaglevTable:
    """An immutable Maglev lookup table over named, optionally weighted backends.

    Parameters
    ----------
    backends : sequence of str
        Distinct backend names; their order fixes the indices that
        :meth:`lookup` returns (not the table's contents, see the module notes).
    weights : sequence of float, optional
        Finite positive weight per backend (default: all equal).  Shares of
        the table are proportional to weight.
    table_size : int
        Number of slots ``M``: a prime greater than the number of backends
        and at most 5,000,011.  Balance improves with ``M / len(backends)``:
        with ``M > 100 * N`` shares differ by about 1% at most.

    Raises
    ------
    TypeError, ValueError
        Empty, duplicate or non-str backends; bad weights; a ``table_size``
        that is not prime, too small or too large.

    Examples
    --------
    >>> t = MaglevTable(["a", "b", "c"])
    >>> t.get("user:42") in t.backends
    True
    >>> t2 = t.without_backend("b")          # a new table; t is unchanged
    >>> sorted(t2.backends)
    ['a', 'c']
    """

    __slots__ = ("_backends", "_index", "_table", "_table_size", "_weights")

    def __init__(
        self,
        backends: Sequence[str],
        weights: Sequence[float] | np.ndarray | None = None,
        table_size: int = MAGLEV_DEFAULT_TABLE_SIZE,
    ) -> None:
        names = check_names(backends, "backends")
        w = np.array(check_weights(weights, len(names), of="backends"), dtype=np.float64)
        m = check_int(table_size, "table_size")
        if m > MAGLEV_MAX_TABLE_SIZE:
            raise ValueError(f"table_size must be at most {MAGLEV_MAX_TABLE_SIZE}, got {m}")
        if m <= len(names):
            raise ValueError(
                f"table_size must exceed the number of backends ({len(names)}), got {m}"
            )
        if not _is_prime(m):
            raise ValueError(f"table_size must be prime, got {m}")
        self._backends = names
        self._weights = w
        self._weights.flags.writeable = False
        self._table_size = m
        self._index = {name: i for i, name in enumerate(names)}
        self._table = _build_table(names, w, m)
        self._table.flags.writeable = False

    # ------------------------------------------------------------------ views
    @property
    def backends(self) -> tuple[str, ...]:
        """Backend names in index order (the indices :meth:`lookup` returns)."""
        return self._backends

    nodes = backends

    @property
    def weights(self) -> np.ndarray:
        """float64[n] read-only weights, in index order."""
        return self._weights

    @property
    def table_size(self) -> int:
        """The prime number of slots ``M``."""
        return self._table_size

    @property
    def table(self) -> np.ndarray:
        """int32[M] read-only: the backend index owning each slot."""
        return self._table

    def shares(self) -> np.ndarray:
        """float64[n]: each backend's fraction of the table (its expected share of keys)."""
        counts = np.bincount(self._table, minlength=len(self._backends))
        return counts / self._table_size

    def __len__(self) -> int:
        return len(self._backends)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild on unpickling (milliseconds), so the arrays come back read-only.
        return (type(self), (self._backends, self._weights.tolist(), self._table_size))

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        shown = ", ".join(repr(b) for b in self._backends[:4])
        more = f", ... ({len(self._backends)} backends)" if len(self._backends) > 4 else ""
        return f"MaglevTable([{shown}{more}], table_size={self._table_size})"

    # ---------------------------------------------------------------- lookups
    def get(self, key: str | bytes) -> str:
        """The backend name for one str/bytes key (str hashed as UTF-8)."""
        h = xxh64(key_bytes(key))
        return self._backends[self._table[h % self._table_size]]

    def lookup(self, keys: Any) -> np.ndarray:
        """Backend indices for a batch of keys.

        Parameters
        ----------
        keys : list of str/bytes, numpy ``U``/``S``/object array, or ``PackedKeys``
            Hashed with :func:`kernels.hashing.hash_keys` (XXH64, seed 0).

        Returns
        -------
        np.ndarray
            int64[len(keys)] indices into :attr:`backends`.
        """
        return self._lookup_u64(hash_keys(keys))

    def lookup_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Backend indices for precomputed 64-bit key hashes.

        Parameters
        ----------
        hashes : np.ndarray
            1-D array of non-negative integers (uint64 preferred), e.g. from
            :func:`kernels.hashing.hash_keys`.  Slot is ``hash % table_size``.

        Returns
        -------
        np.ndarray
            int64[len(hashes)] indices into :attr:`backends`.
        """
        return self._lookup_u64(check_hashes(hashes))

    def _lookup_u64(self, hashes: np.ndarray) -> np.ndarray:
        out = np.empty(hashes.shape[0], dtype=np.int64)
        _maglev_lookup(self._table, hashes, out)
        return out

    # ------------------------------------------------------------- membership
    def with_backend(self, name: str, weight: float = 1.0) -> MaglevTable:
        """A new table with backend ``name`` appended (existing indices unchanged)."""
        if name in self._index:
            raise ValueError(f"name {name!r} is already a backend")
        weights = [*self._weights.tolist(), weight]
        return MaglevTable([*self._backends, name], weights, self._table_size)

    def without_backend(self, name: str) -> MaglevTable:
        """A new table without backend ``name`` (later backends' indices shift down by one)."""
        if name not in self._index:
            raise ValueError(f"name {name!r} is not a backend")
        if len(self._backends) == 1:
            raise ValueError("cannot remove the last backend: backends must not be empty")
        i = self._index[name]
        names = self._backends[:i] + self._backends[i + 1 :]
        weights = np.delete(self._weights, i)
        return MaglevTable(names, weights, self._table_size)

    with_node = with_backend
    without_node = without_backend


def _permutation_params(name: str, table_size: int) -> tuple[int, int]:
    """``(offset, skip)`` of backend ``name`` for a table of ``table_size`` slots."""
    data = name.encode("utf-8")
    offset = xxh64(data, 0) % table_size
    skip = xxh64(data, 1) % (table_size - 1) + 1
    return offset, skip


def _build_table(names: tuple[str, ...], weights: np.ndarray, m: int) -> np.ndarray:
    encoded = [name.encode("utf-8") for name in names]
    order = sorted(range(len(names)), key=encoded.__getitem__)
    offsets = np.empty(len(names), dtype=np.int64)
    skips = np.empty(len(names), dtype=np.int64)
    for p, i in enumerate(order):
        offsets[p], skips[p] = _permutation_params(names[i], m)
    owner = np.array(order, dtype=np.int32)
    return _maglev_populate(offsets, skips, weights[owner], owner, np.int64(m))
