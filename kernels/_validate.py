"""Argument checks shared by the public wrappers: one rule, one message, everywhere.

The kernels come in two layers (``docs/kernels.md``): a public wrapper checks
and converts its arguments, a private ``@jit`` core assumes valid arrays.  The
checks that several wrappers make live here, so that, say, a weight list is
judged by the same rule in :class:`~kernels.ring.HashRing`,
:class:`~kernels.maglev.MaglevTable`, :class:`~kernels.rendezvous.Rendezvous`
and the load-aware selection policies (``PowerOfTwoChoices``, ``LeastLoaded``),
and a bad one is reported the same way.

Every check takes ``what``, the argument's name as the caller knows it
(``"nodes"``, ``"weights[3]"``, ``"hashes"``), and raises ``TypeError`` for a
value of the wrong kind or ``ValueError`` for one of the right kind out of
range, with ``what`` at the start of the message.

The rules:

* integers (:func:`check_int`, :func:`check_count`): ``int`` or numpy integer,
  never ``bool``; reals (:func:`check_real`, :func:`is_real`) likewise add
  ``float`` and numpy floats;
* one key (:func:`key_bytes`): ``str`` (hashed as UTF-8) or bytes-like;
* node names (:func:`check_names`): a non-empty sequence of distinct ``str``
  that encode as UTF-8 (``HashRing`` also refuses the empty string, with
  ``nonempty=True``; Maglev and rendezvous have always accepted it);
* node weights (:func:`check_weights`): one per node, each a finite real
  ``> 0``, or, in the integer mode of the ketama rings, a whole number in
  ``[1, 2**53]``;
* hash arrays (:func:`check_hashes`): an integer dtype (not bool), no negative
  value, below ``2**bits``; returned contiguous, as ``uint64`` unless the
  caller keeps the width;
* numeric 1-D arrays (:func:`as_1d_numbers`): what the selection policies take.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "MAX_INT_WEIGHT",
    "MAX_PEERS",
    "as_1d_numbers",
    "check_count",
    "check_hashes",
    "check_int",
    "check_name",
    "check_names",
    "check_real",
    "check_weight",
    "check_weights",
    "is_int",
    "is_real",
    "key_bytes",
]

#: Largest integer weight (exact in float64; libketama sums weights in 64 bits).
MAX_INT_WEIGHT = 1 << 53
#: Most entries a 1-D numeric argument may have: ``next_below`` draws below 2**32.
MAX_PEERS = (1 << 32) - 1

_INTS = (int, np.integer)
_REALS = (int, float, np.integer, np.floating)
_BOOLS = (bool, np.bool_)
_U64_LIMIT = 1 << 64


# ----------------------------------------------------------------------------- numbers


def is_int(x: object) -> bool:
    """``x`` is a Python or numpy integer, and not a bool."""
    return isinstance(x, _INTS) and not isinstance(x, _BOOLS)


def is_real(x: object) -> bool:
    """``x`` is a Python or numpy integer or float, and not a bool."""
    return isinstance(x, _REALS) and not isinstance(x, _BOOLS)


def check_int(x: object, what: str) -> int:
    """``int(x)``, or ``TypeError("<what> must be an int, not <type>")``."""
    if not is_int(x):
        raise TypeError(f"{what} must be an int, not {type(x).__name__}")
    return int(x)


def check_count(x: object, what: str = "k") -> int:
    """An int ``>= 0`` (a number of picks, draws, steps)."""
    k = check_int(x, what)
    if k < 0:
        raise ValueError(f"{what} must be >= 0, got {k}")
    return k


def check_real(x: object, what: str) -> float:
    """``float(x)``, or ``TypeError("<what> must be a real number, not <type>")``."""
    if not is_real(x):
        raise TypeError(f"{what} must be a real number, not {type(x).__name__}")
    return float(x)


# ----------------------------------------------------------------------------- keys and names


def key_bytes(key: object, what: str = "key", *, int_hint: str = "") -> bytes:
    """The bytes a key is hashed as: UTF-8 for ``str``, the bytes of a bytes-like key.

    ``int_hint`` completes the message for an integer key (say, which function
    takes precomputed hashes).
    """
    if type(key) is bytes:
        return key
    if isinstance(key, str):
        try:
            return str.encode(key, "utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(
                f"{what} cannot be encoded as UTF-8 ({e.reason}: a lone surrogate?)"
            ) from None
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    if isinstance(key, memoryview):
        return key.tobytes()
    if int_hint and isinstance(key, _INTS):
        raise TypeError(f"{what} is an integer: {int_hint}")
    raise TypeError(f"{what} must be str or bytes, not {type(key).__name__}")


def check_name(name: object, what: str, *, nonempty: bool = False) -> str:
    """One node name: a ``str`` that encodes as UTF-8 (and is not ``""`` with ``nonempty``)."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str node name, not {type(name).__name__}")
    if nonempty and not name:
        raise ValueError(f"{what} must be a non-empty node name")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} cannot be encoded as UTF-8 (a lone surrogate?)") from None
    return str(name)


def check_names(names: object, what: str = "nodes", *, nonempty: bool = False) -> tuple[str, ...]:
    """A non-empty tuple of distinct names (:func:`check_name`); entry ``i`` is ``what[i]``."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise TypeError(f"{what} must be a sequence of str names, not {type(names).__name__}")
    out = tuple(names)
    if not out:
        raise ValueError(f"{what} must not be empty")
    out = tuple(check_name(name, f"{what}[{i}]", nonempty=nonempty) for i, name in enumerate(out))
    if len(set(out)) != len(out):
        seen: set[str] = set()
        dup = next(x for x in out if x in seen or seen.add(x))
        raise ValueError(f"{what} must be unique: {dup!r} appears more than once")
    return out


# ----------------------------------------------------------------------------- weights


def check_weight(w: object, what: str, *, integer: bool = False, why: str = "") -> float | int:
    """One weight: a finite real ``> 0`` as a float, or with ``integer`` a whole number in
    ``[1, 2**53]`` as an int (``why`` says why whole numbers, in the message)."""
    if not is_real(w):
        raise TypeError(f"{what} must be a positive number, not {type(w).__name__}")
    if not integer:
        f = float(w)
        if not (math.isfinite(f) and f > 0.0):
            raise ValueError(f"{what} must be a finite number > 0, got {w!r}")
        return f
    if isinstance(w, (float, np.floating)) and (not math.isfinite(w) or w != int(w)):
        raise ValueError(f"{what} must be a whole number{why}, got {w!r}")
    iw = int(w)
    if not 1 <= iw <= MAX_INT_WEIGHT:
        raise ValueError(f"{what} must be an integer in [1, 2**53], got {w!r}")
    return iw


def check_weights(
    weights: object,
    n: int | None,
    what: str = "weights",
    *,
    of: str = "nodes",
    integer: bool = False,
    why: str = "",
) -> tuple[Any, ...]:
    """One weight per node, each checked by :func:`check_weight` (entries named ``what[i]``).

    ``None`` gives ``n`` weights of 1.  ``n`` is the number of nodes (``of``
    names them in the length message); ``n=None`` accepts any non-empty length.
    """
    if weights is None and n is not None:
        values: list[Any] = [1] * n
    else:
        if isinstance(weights, (str, bytes)) or not isinstance(weights, Iterable):
            raise TypeError(f"{what} must be a sequence of numbers, not {type(weights).__name__}")
        values = weights.tolist() if isinstance(weights, np.ndarray) else list(weights)
        if n is None:
            if not values:
                raise ValueError(f"{what} must not be empty")
        elif len(values) != n:
            raise ValueError(f"{what} has {len(values)} entries but {of} has {n}")
    return tuple(
        check_weight(w, f"{what}[{i}]", integer=integer, why=why) for i, w in enumerate(values)
    )


# ----------------------------------------------------------------------------- arrays


def check_hashes(
    hashes: object,
    what: str = "hashes",
    *,
    bits: int = 64,
    why: str = "",
    flatten: bool = False,
    sequences: bool = False,
    keep_width: bool = False,
) -> np.ndarray:
    """Precomputed hashes (or integer keys) as a contiguous 1-D unsigned array.

    Parameters
    ----------
    hashes : np.ndarray, or with ``sequences`` any array-like of ints
        Integer dtype (not bool), no negative value, every value ``< 2**bits``.
    what : str
        The argument's name, for messages.
    bits : int
        Width of the hash space (64, or 32 for the ketama rings); ``why``
        completes the message for a value beyond it.
    flatten : bool
        Accept any shape and return it flattened (the caller reshapes the
        result); otherwise the array must be 1-D.
    sequences : bool
        Also accept lists and object arrays of ints (including Python ints up
        to ``2**64 - 1``, which numpy cannot hold in one signed array).
    keep_width : bool
        Return unsigned arrays as they are (signed ones viewed as the unsigned
        type of the same width) instead of converting to ``uint64``: no copy.

    Returns
    -------
    np.ndarray
        ``uint64[m]`` (or ``uint8/16/32/64[m]`` with ``keep_width``), C-contiguous.
    """
    if isinstance(hashes, np.ndarray):
        a = hashes
    elif not sequences:
        raise TypeError(f"{what} must be a numpy integer array, not {type(hashes).__name__}")
    elif isinstance(hashes, (str, bytes)):
        raise TypeError(f"{what} must be an array of integers, not {type(hashes).__name__}")
    elif isinstance(hashes, _INTS):
        raise TypeError(f"{what} must be an array of integers (wrap one hash in a list)")
    else:
        try:
            a = np.asarray(hashes)
            if a.dtype.kind not in "iu":
                # Mixed Python ints (some >= 2**63) become float64: check them one by one.
                a = np.array(hashes, dtype=object)
        except (OverflowError, ValueError, TypeError) as exc:
            raise TypeError(f"{what} must be an array of integers ({exc})") from None
        if a.size == 0:
            return np.zeros(0, dtype=np.uint64)
    if sequences and a.dtype.kind == "O":
        return _object_hashes(a, what, bits, why)
    kind = a.dtype.kind
    if kind not in "iu":
        raise TypeError(f"{what} must have an integer dtype, not {a.dtype}")
    if flatten:
        a = np.ascontiguousarray(a).reshape(-1)
    elif a.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {a.shape}")
    if kind == "i" and a.size and a.min() < 0:
        raise ValueError(f"{what} must be non-negative, got {int(a.min())}")
    if bits < 64 and a.dtype.itemsize * 8 > bits and a.size and int(a.max()) >> bits:
        raise ValueError(f"{what} must be < 2**{bits}{why}, got {int(a.max())}")
    if not keep_width:
        return np.ascontiguousarray(a, dtype=np.uint64)
    a = np.ascontiguousarray(a)
    return a.view(np.dtype(f"u{a.dtype.itemsize}")) if kind == "i" else a


def _object_hashes(a: np.ndarray, what: str, bits: int, why: str) -> np.ndarray:
    vals = a.ravel().tolist()
    for i, v in enumerate(vals):
        if not is_int(v):
            raise TypeError(f"{what}[{i}] is {type(v).__name__}: hashes must be integers")
        if not 0 <= int(v) < _U64_LIMIT:
            raise ValueError(f"{what}[{i}] = {v} is outside [0, 2**64)")
    out = np.array(vals, dtype=np.uint64)
    if bits < 64 and out.size and int(out.max()) >> bits:
        raise ValueError(f"{what} must be < 2**{bits}{why}, got {int(out.max())}")
    return out


def as_1d_numbers(values: object, what: str) -> np.ndarray:
    """A non-empty 1-D numpy array of integers or floats (not bools), at most 2**32 - 1 long."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of numbers, not {type(values).__name__}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(f"{what} must be a 1-D sequence of numbers") from exc
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got {arr.ndim} dimensions")
    if arr.shape[0] == 0:
        raise ValueError(f"{what} must not be empty")
    if arr.shape[0] > MAX_PEERS:
        raise ValueError(f"{what} has {arr.shape[0]} entries; at most 2**32 - 1 are supported")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"{what} must hold real numbers, not {arr.dtype}")
    return arr
