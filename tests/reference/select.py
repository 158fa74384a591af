"""Plain-Python twins of ``kernels.select`` (and of the splitmix64 stream they draw from).

Written from the published descriptions (nginx's smooth weighted round-robin,
Vose's alias method, power of two choices, reservoir sampling), not from the
kernels: hypothesis checks the two agree draw for draw.
"""

from __future__ import annotations

import math

MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1


class SplitMix64:
    """splitmix64 (Steele, Lea & Flood 2014) with Lemire's bounded draw, as in ``kernels._rng``."""

    def __init__(self, seed: int) -> None:
        self.state = seed % (1 << 64)

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def next_below(self, n: int) -> int:
        while True:
            m = (self.next_u64() & MASK32) * n
            low = m & MASK32
            if low >= n or low >= ((1 << 32) - n) % n:
                return m >> 32

    def next_double(self) -> float:
        return (self.next_u64() >> 11) * (1.0 / 9007199254740992.0)


# -- smooth weighted round-robin ----------------------------------------------------------------


def swrr_step(current: list[int], weights: list[int]) -> int:
    """One nginx step: every peer gains its weight; the largest (first on ties) pays the total."""
    total = 0
    best = None
    for i, w in enumerate(weights):
        current[i] += w
        total += w
        if best is None or current[i] > current[best]:
            best = i
    current[best] -= total
    return best


def swrr_sequence(weights: list[int], k: int, current: list[int] | None = None) -> list[int]:
    cur = [0] * len(weights) if current is None else current
    return [swrr_step(cur, weights) for _ in range(k)]


def swrr_reweight(current: list[int], new_weights: list[int]) -> list[int]:
    """The documented ``set_weights`` rule: zero the drained peers, re-centre the others on 0."""
    if len(current) != len(new_weights):
        return [0] * len(new_weights)
    cur = [c if w > 0 else 0 for c, w in zip(current, new_weights, strict=True)]
    positive = [i for i, w in enumerate(new_weights) if w > 0]
    q, r = divmod(sum(cur), len(positive))
    for rank, i in enumerate(positive):
        cur[i] -= q + (1 if rank < r else 0)
    return cur


# -- alias method --------------------------------------------------------------------------------


def vose_build(weights: list[float]) -> tuple[list[float], list[int]]:
    """Vose (1991): scaled weights, two stacks filled in index order, pair small with large."""
    n = len(weights)
    total = 0.0
    best = 0
    for i, w in enumerate(weights):
        total += w
        if w > weights[best]:
            best = i
    scale = n / total
    p = [w * scale for w in weights]
    prob = [0.0] * n
    alias = list(range(n))
    small = [i for i in range(n) if p[i] < 1.0]
    large = [i for i in range(n) if p[i] >= 1.0]
    while small and large:
        s = small.pop()
        g = large[-1]
        prob[s] = p[s]
        alias[s] = g
        p[g] = (p[g] + p[s]) - 1.0
        if p[g] < 1.0:
            large.pop()
            small.append(g)
    for g in large:
        prob[g] = 1.0
    for s in small:
        if weights[s] > 0.0:
            prob[s] = 1.0
        else:
            prob[s] = 0.0
            alias[s] = best
    return prob, alias


def alias_sample(prob: list[float], alias: list[int], rng: SplitMix64) -> int:
    i = rng.next_below(len(prob))
    return i if rng.next_double() < prob[i] else alias[i]


def alias_mass(prob: list[float], alias: list[int]) -> list[float]:
    """The distribution a table encodes: each column is worth 1/n, split between i and alias[i]."""
    n = len(prob)
    mass = [0.0] * n
    for i in range(n):
        mass[i] += prob[i] / n
        mass[alias[i]] += (1.0 - prob[i]) / n
    return mass


# -- load-aware choices ----------------------------------------------------------------------------


def _key(loads, weights, i):
    return loads[i] if weights is None else loads[i] / weights[i]


def p2c_choose(loads, rng: SplitMix64, weights=None) -> int:
    """Two distinct uniform draws; the smaller key wins, the first drawn on ties; NaN -> -2."""
    n = len(loads)
    if n <= 1:
        return n - 1
    i = rng.next_below(n)
    j = rng.next_below(n - 1)
    if j >= i:
        j += 1
    a, b = _key(loads, weights, i), _key(loads, weights, j)
    if math.isnan(a) or math.isnan(b):
        return -2
    return j if b < a else i


def least_loaded(loads, rng: SplitMix64, weights=None) -> int:
    """Reservoir sampling over the minima: the m-th tie replaces the pick with probability 1/m."""
    n = len(loads)
    if n == 0:
        return -1
    best = _key(loads, weights, 0)
    if math.isnan(best):
        return -2
    pick, ties = 0, 1
    for i in range(1, n):
        x = _key(loads, weights, i)
        if math.isnan(x):
            return -2
        if x < best:
            best, pick, ties = x, i, 1
        elif x == best:
            ties += 1
            if rng.next_below(ties) == 0:
                pick = i
    return pick


def assign(choose, loads: list, k: int, rng: SplitMix64, cost=1, weights=None) -> list[int]:
    """Sequential assignment with ``choose`` (``p2c_choose`` or ``least_loaded``), in place."""
    out = []
    for _ in range(k):
        c = choose(loads, rng, weights)
        out.append(c)
        loads[c] += cost
    return out
