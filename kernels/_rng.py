"""A small, seedable random number generator usable inside numba kernels.

Why not ``np.random`` inside ``@njit``?  Numba's generator is one hidden
per-thread global: two balancers in one process would share (and perturb)
each other's streams, and results would depend on call order elsewhere.
Here every consumer owns its state: a ``uint64[1]`` array holding a
splitmix64 counter (Steele, Lea & Flood 2014), advanced in place.

splitmix64 passes BigCrush, needs 8 bytes of state and a handful of
instructions per draw, which is all a load balancer needs.  Bounded draws use
Lemire's multiply-shift with rejection (unbiased).
"""

from __future__ import annotations

import numpy as np

from ._config import jit
from ._validate import is_int

__all__ = ["make_state", "next_below", "next_double", "next_u64"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_MASK32 = np.uint64(0xFFFFFFFF)


def make_state(seed: int | None = None) -> np.ndarray:
    """Return a fresh generator state (``uint64[1]``).

    ``seed=None`` draws the seed from the OS (``np.random.SeedSequence``),
    any int (reduced mod 2**64) gives a reproducible stream.
    """
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    elif not is_int(seed):
        raise TypeError(f"seed must be an int or None, not {type(seed).__name__}")
    return np.array([int(seed) % (1 << 64)], dtype=np.uint64)


@jit
def next_u64(state):
    """Advance ``state`` (uint64[1]) and return the next uint64."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def next_below(state, n):
    """Uniform integer in ``[0, n)`` for ``1 <= n < 2**32`` (Lemire, unbiased)."""
    bound = np.uint64(n)
    while True:
        x = next_u64(state) & _MASK32
        m = x * bound
        low = m & _MASK32
        if low >= bound:
            return np.int64(m >> _S32)
        threshold = ((_MASK32 + np.uint64(1)) - bound) % bound
        if low >= threshold:
            return np.int64(m >> _S32)


@jit
def next_double(state):
    """Uniform float in ``[0, 1)`` with 53 random bits."""
    return np.float64(next_u64(state) >> _S11) * (1.0 / 9007199254740992.0)
