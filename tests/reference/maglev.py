"""Plain-Python twin of ``kernels.maglev``: the paper's population loop, step by step.

Node hashes come from the ``xxhash`` package (the published XXH64), so this twin
shares no code with the kernels.
"""

from __future__ import annotations

import xxhash


def permutation_params(name: str, m: int) -> tuple[int, int]:
    """``(offset, skip)`` for backend ``name`` and table size ``m``."""
    data = name.encode("utf-8")
    offset = xxhash.xxh64_intdigest(data, seed=0) % m
    skip = xxhash.xxh64_intdigest(data, seed=1) % (m - 1) + 1
    return offset, skip


def populate(names: list[str], weights: list[float] | None, m: int) -> list[int]:
    """The Maglev table: ``table[slot]`` is an index into ``names``.

    Turn order is by name (UTF-8 bytes).  In round ``t`` a backend that has
    claimed ``k`` slots takes its turn iff ``t * w >= k * max(w)``; a turn
    claims the first still-empty slot of its permutation
    ``(offset + j * skip) % m``, ``j = 0, 1, ...``.
    """
    if weights is None:
        weights = [1.0] * len(names)
    weights = [float(w) for w in weights]
    wmax = max(weights)
    order = sorted(range(len(names)), key=lambda i: names[i].encode("utf-8"))
    params = {i: permutation_params(names[i], m) for i in order}
    next_j = dict.fromkeys(order, 0)
    claims = dict.fromkeys(order, 0)
    table = [-1] * m
    filled = 0
    t = 0
    while filled < m:
        t += 1
        for i in order:
            if filled == m:
                break
            if t * weights[i] < claims[i] * wmax:
                continue
            offset, skip = params[i]
            while True:
                slot = (offset + next_j[i] * skip) % m
                next_j[i] += 1
                if table[slot] == -1:
                    break
            table[slot] = i
            claims[i] += 1
            filled += 1
    return table


def lookup(table: list[int], key_hash: int) -> int:
    """Backend index for a 64-bit key hash."""
    return table[key_hash % len(table)]


def key_hash(key: str | bytes) -> int:
    """XXH64 (seed 0) of a key, str as UTF-8."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    return xxhash.xxh64_intdigest(key, seed=0)
