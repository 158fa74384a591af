"""Hash functions for keys: a 64-bit integer mixer, XXH64, key packing and ketama (MD5) hashes.

Which hash for what
-------------------
* :func:`mix64` -- integers (ids, already-hashed values).  The splitmix64 output
  function (Stafford's "Mix13" variant of MurmurHash3's ``fmix64``; Steele, Lea &
  Flood 2014) applied to ``x XOR key(seed)``, where ``key(seed)`` is itself the first
  splitmix64 output for state ``seed``.  A bijection on 64-bit integers for each seed,
  about a nanosecond per element in a batch.
* :func:`xxh64` / :func:`hash_keys` -- str and bytes keys.  XXH64 (Yann Collet's
  xxHash, 64-bit variant, spec 0.1.1), bit-exact with the reference implementation
  and the ``xxhash`` PyPI package; ``str`` is hashed as its UTF-8 encoding.
* :func:`ketama_hash` / :func:`ketama_hash_keys` / :func:`md5_digests` -- the MD5-based
  key hash of libketama and uhashring (little-endian uint32 of ``md5(key)[0:4]``), for
  rings that must place keys exactly where those libraries do.  MD5 runs in numba over
  the whole batch, never ``hashlib`` per key.

None of these is a keyed PRF: do not rely on them against adversarial keys.

Batches of keys
---------------
A batch of str/bytes keys is *packed*: one ``uint8`` buffer holding every key's bytes
back to back plus ``int64`` offsets (:class:`PackedKeys`).  A list of str costs two
C-level calls, ``"\0".join(keys).encode()``, then one branch-free numba pass that drops
the separators; :func:`hash_keys` skips even that pass and hashes each key straight
out of the NUL-joined buffer.  When a key itself contains NUL (the NUL count tells),
both fall back to packing by key lengths.  NumPy ``'U'`` arrays are transcoded from
UCS-4 to UTF-8 in numba and ``'S'`` arrays are copied without their NUL padding (numpy's
own semantics: trailing NULs are not part of the value).  Pack once with
:func:`pack_keys` when the same keys are hashed repeatedly.  ``PackedKeys.data`` may be
a read-only array (a view of the encoded bytes).

Numba cores for other kernels
-----------------------------
These private ``@jit`` functions may be called from other modules' ``@jit`` code.  They
assume valid input (validate at the Python boundary); ``data`` is a uint8 array (or
``bytes``), offsets/starts/stops are int64, seeds uint64.

``_xxh64_one(data, start, stop, seed) -> uint64``
    XXH64 of ``data[start:stop]``.
``_xxh64_packed(data, offsets, seed) -> uint64[n]``
    XXH64 of each packed key (``offsets``: int64[n + 1]); ``_xxh64_spans(data, starts,
    stops, seed)`` for keys given as spans.
``_xxh64_nul(buf, n, seed) -> (uint64[n], ok)``
    XXH64 of ``n`` keys joined by NUL bytes, without packing (``ok`` False when a key
    held a NUL); what :func:`hash_keys` and ``HashRing.lookup`` use for a list of str.
``_fmix64(x) -> uint64``
    MurmurHash3's ``fmix64`` finaliser (bijective; maps 0 to 0).
``_mix64_seeded(x, seed) -> uint64``
    Exactly what :func:`mix64` applies element-wise.  In loops with a fixed seed,
    hoist ``key = _mix64_seed_key(seed)`` and call ``_mix64_with_key(x, key)``.
``_md5_u32_packed(data, offsets) -> uint32[n]``
    Ketama hash of each packed key (16 keys at a time in SIMD lanes);
    ``_md5_digests_packed(data, offsets) -> uint8[n, 16]`` gives full digests and
    ``_md5_words_spans(data, starts, stops, nwords) -> uint32[n * nwords]`` the state
    words of keys given as spans.
``_md5_one(data, start, stop, scratch) -> (a, b, c, d)``
    MD5 state words of one key (``scratch``: a caller-owned uint8[128]).

And for per-request Python callers, ``_xxh64_scalar(b: bytes, seed: int)``,
``_md5_scalar(b: bytes)`` and ``_mix64_scalar(x: int, seed: int)`` call the compiled
single-key kernels with the least overhead numba allows (no dispatcher type lookup,
no GIL release); they do no validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._config import jit
from ._md5 import (
    _md5_digests_packed,
    _md5_one,
    _md5_u32_bytes,
    _md5_u32_packed,
    _md5_words_spans,
)
from ._validate import check_int, is_int, key_bytes
from ._xxh64 import (
    _fmix64,
    _mix64_array,
    _mix64_seed_key,
    _mix64_seeded,
    _mix64_with_key,
    _xxh64_one,
    _xxh64_packed,
    _xxh64_spans,
)

__all__ = [
    "PackedKeys",
    "hash_keys",
    "ketama_hash",
    "ketama_hash_keys",
    "md5_digests",
    "mix64",
    "pack_keys",
    "xxh64",
]

# Re-exported numba cores (see the module docstring).
_CORES = (
    _fmix64,
    _mix64_seed_key,
    _mix64_seeded,
    _mix64_with_key,
    _xxh64_one,
    _xxh64_packed,
    _md5_u32_packed,
    _md5_digests_packed,
    _md5_one,
    _md5_words_spans,
    _xxh64_spans,
)

_MASK64 = (1 << 64) - 1


class PackedKeys(NamedTuple):
    """A batch of byte-string keys packed into one buffer.

    Key ``i`` is ``data[offsets[i]:offsets[i + 1]]``; ``str`` keys are stored UTF-8
    encoded.  Being a tuple, ``len()`` of a ``PackedKeys`` is 2: use :attr:`n_keys`.

    Attributes
    ----------
    data : np.ndarray
        ``uint8``, shape ``(total_bytes,)``.
    offsets : np.ndarray
        ``int64``, shape ``(n + 1,)``, non-decreasing, ``offsets[0] == 0`` when built by
        :func:`pack_keys` (any start ``>= 0`` is accepted).
    """

    data: np.ndarray
    offsets: np.ndarray

    @property
    def n_keys(self) -> int:
        """Number of keys in the batch."""
        return int(self.offsets.shape[0]) - 1

    def key(self, i: int) -> bytes:
        """Key ``i`` as ``bytes`` (for inspection; not a fast path)."""
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes()


# ----------------------------------------------------------------------------- numba packing


@jit
def _split_nul(buf, n):
    """Pack ``n`` keys joined by single NUL bytes in ``buf`` (uint8): drop the separators.

    Returns ``(data, offsets, ok)``; ``ok`` is False when ``buf`` does not hold exactly
    ``n - 1`` NULs (some key contained a NUL itself: the caller falls back).  The NULs
    are counted first (a vectorised pass), so the copy loop needs no bounds clamp; the
    copy is branch-free -- it stores every byte and advances the write position by
    ``byte != 0`` and the key counter by ``byte == 0`` -- because a data-dependent
    branch per key would mispredict about once a key.  Both measured about 30% faster
    than a clamped or branchy loop.
    """
    total = buf.shape[0]
    count = 0
    for j in range(total):
        count += np.int64(buf[j] == 0)
    if count != n - 1:
        return np.empty(0, dtype=np.uint8), np.zeros(n + 1, dtype=np.int64), False
    data = np.empty(total + 1, dtype=np.uint8)  # +1: a trailing NUL is stored, then dropped
    offsets = np.zeros(n + 1, dtype=np.int64)
    w = 0
    k = 1
    for j in range(total):
        c = buf[j]
        z = np.int64(c == 0)
        data[w] = c
        w += 1 - z
        offsets[k] = w
        k += z
    offsets[n] = w
    return data[:w], offsets, True


@jit
def _xxh64_nul(buf, n, seed):
    """XXH64 of each of ``n`` keys joined by single NUL bytes, without packing them first.

    ``buf`` is ``"\0".join(keys).encode()`` as uint8.  Returns ``(hashes uint64[n],
    ok)``; ``ok`` is False when the NUL count is not ``n - 1`` (a key contained a NUL:
    the caller falls back to packing by lengths).  Each key is hashed in place as soon
    as its NUL is seen, while it is in L1, which saves the packing copy and the offsets
    array (about a third of a str batch's cost).  One pass over every byte with a
    single test each measured 15-20% faster than scanning key by key for the next NUL.
    """
    out = np.empty(n, dtype=np.uint64)
    k = 0
    start = 0
    for i in range(buf.shape[0]):
        if buf[i] == 0:
            if k >= n - 1:
                return out, False
            out[k] = _xxh64_one(buf, start, i, seed)
            k += 1
            start = i + 1
    if k != n - 1:
        return out, False
    out[k] = _xxh64_one(buf, start, buf.shape[0], seed)
    return out, True


@jit
def _utf8_len(c):
    if c < 0x80:
        return 1
    if c < 0x800:
        return 2
    if c < 0x10000:
        if 0xD800 <= c <= 0xDFFF:
            return -1
        return 3
    if c <= 0x10FFFF:
        return 4
    return -1


@jit
def _utf8_from_codepoints(cps, starts, stops):
    """UTF-8 encode key ``i`` = code points ``cps[starts[i]:stops[i]]`` (uint32).

    Returns ``(data, offsets, bad)``; ``bad`` is the index of the first key holding a
    surrogate or a value past U+10FFFF (nothing is written then), else -1.
    """
    n = starts.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    total = 0
    for i in range(n):
        for j in range(starts[i], stops[i]):
            m = _utf8_len(np.int64(cps[j]))
            if m < 0:
                return np.empty(0, dtype=np.uint8), offsets, i
            total += m
        offsets[i + 1] = total
    data = np.empty(total, dtype=np.uint8)
    w = 0
    for i in range(n):
        for j in range(starts[i], stops[i]):
            c = np.int64(cps[j])
            if c < 0x80:
                data[w] = c
                w += 1
            elif c < 0x800:
                data[w] = 0xC0 | (c >> 6)
                data[w + 1] = 0x80 | (c & 0x3F)
                w += 2
            elif c < 0x10000:
                data[w] = 0xE0 | (c >> 12)
                data[w + 1] = 0x80 | ((c >> 6) & 0x3F)
                data[w + 2] = 0x80 | (c & 0x3F)
                w += 3
            else:
                data[w] = 0xF0 | (c >> 18)
                data[w + 1] = 0x80 | ((c >> 12) & 0x3F)
                data[w + 2] = 0x80 | ((c >> 6) & 0x3F)
                data[w + 3] = 0x80 | (c & 0x3F)
                w += 4
    return data, offsets, -1


@jit
def _rows_stripped(mat):
    """Start and stop (exclusive, trailing zeros stripped) of each row of a 2-D array, flat."""
    n, width = mat.shape
    starts = np.empty(n, dtype=np.int64)
    stops = np.empty(n, dtype=np.int64)
    for i in range(n):
        m = width
        while m > 0 and mat[i, m - 1] == 0:
            m -= 1
        starts[i] = i * width
        stops[i] = i * width + m
    return starts, stops


@jit
def _gather(flat, starts, stops):
    """Concatenate ``flat[starts[i]:stops[i]]`` into ``(data, offsets)``."""
    n = starts.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + (stops[i] - starts[i])
    data = np.empty(offsets[n], dtype=np.uint8)
    for i in range(n):
        o = offsets[i]
        s = starts[i]
        for j in range(stops[i] - s):
            data[o + j] = flat[s + j]
    return data, offsets


# Single-key kernels called from Python per request: nogil=False because releasing and
# re-acquiring the GIL costs about 30 ns, more than the work it would let run in parallel.


@jit(nogil=False)
def _xxh64_bytes(b, seed):
    return _xxh64_one(b, 0, len(b), seed)


@jit(nogil=False)
def _mix64_one(x, seed):
    return _mix64_seeded(x, seed)


# ----------------------------------------------------------------------------- packing


def _unicode_error(keys: Sequence[Any], exc: UnicodeError, name: str) -> ValueError:
    for i, k in enumerate(keys):
        if isinstance(k, str):
            try:
                k.encode("utf-8")
            except UnicodeEncodeError as e:
                return ValueError(
                    f"{name}[{i}] cannot be encoded as UTF-8 ({e.reason}: a lone surrogate?)"
                )
    return ValueError(f"{name}: a key cannot be encoded as UTF-8 ({exc})")


def _pack_slow(keys: Sequence[Any], name: str) -> PackedKeys:
    """Per-key packing for mixed str/bytes lists and for keys containing NUL."""
    parts: list[bytes] = []
    for i, k in enumerate(keys):
        if isinstance(k, str):
            try:
                parts.append(k.encode("utf-8"))
            except UnicodeEncodeError as e:
                raise ValueError(
                    f"{name}[{i}] cannot be encoded as UTF-8 ({e.reason}: a lone surrogate?)"
                ) from None
        elif isinstance(k, (bytes, bytearray)):
            parts.append(bytes(k))
        elif isinstance(k, memoryview):
            parts.append(k.tobytes())
        else:
            hint = "; hash integers with mix64" if isinstance(k, (int, np.integer)) else ""
            raise TypeError(f"{name}[{i}] is {type(k).__name__}: keys must be str or bytes{hint}")
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return PackedKeys(np.frombuffer(b"".join(parts), dtype=np.uint8).copy(), offsets)


class _Batch(NamedTuple):
    """A key batch in one of two forms, both over a read-only uint8 ``data`` buffer
    (read-only always, so each kernel compiles once rather than once per writability).

    * packed: ``offsets`` (int64[n + 1]) is set;
    * NUL-joined: ``offsets`` is None and ``data`` holds the ``n`` keys separated by
      single NULs.  That is only correct if no key contains a NUL, which the kernels
      discover while scanning; then :func:`_fallback` packs ``keys`` by their lengths.
    """

    data: np.ndarray
    offsets: np.ndarray | None
    n: int
    keys: Sequence[Any] | None
    name: str


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


def _packed_batch(data: np.ndarray, offsets: np.ndarray, name: str) -> _Batch:
    return _Batch(_readonly(data), offsets, offsets.shape[0] - 1, None, name)


def _fallback(b: _Batch) -> tuple[np.ndarray, np.ndarray]:
    """Pack a NUL-joined batch whose keys turned out to contain NUL, by key lengths."""
    keys, n, name = b.keys, b.n, b.name
    assert keys is not None
    if isinstance(keys[0], str):
        # Measure keys in code points; transcode to UTF-8 in numba if not ASCII.
        char_lens = np.fromiter(map(len, keys), dtype=np.int64, count=n)
        bounds = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(char_lens, out=bounds[1:])
        flat = "".join(keys)
        if flat.isascii():
            return _readonly(np.frombuffer(flat.encode("ascii"), dtype=np.uint8)), bounds
        cps = _readonly(np.frombuffer(flat.encode("utf-32-le"), dtype=np.uint32))
        data, offsets, bad = _utf8_from_codepoints(cps, bounds[:-1], bounds[1:])
        if bad >= 0:  # unreachable: the UTF-8 encode before already rejected surrogates
            raise ValueError(f"{name}[{bad}] cannot be encoded as UTF-8")
        return _readonly(data), offsets
    # Binary keys containing NUL: lengths from len(), checked against the joined size
    # (len() of a memoryview counts items, not bytes: the slow path handles those).
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = b"".join(keys)
    if offsets[n] != len(flat):
        data, offsets = _pack_slow(keys, name)
        return _readonly(data), offsets
    return _readonly(np.frombuffer(flat, dtype=np.uint8)), offsets


def _packed(b: _Batch) -> tuple[np.ndarray, np.ndarray]:
    """The batch as ``(data, offsets)`` (read-only data, int64 offsets)."""
    if b.offsets is not None:
        return b.data, b.offsets
    data, offsets, ok = _split_nul(b.data, b.n)
    if ok:
        return _readonly(data), offsets
    return _fallback(b)


def _sequence_batch(keys: Sequence[Any], name: str) -> _Batch:
    n = len(keys)
    if n == 0:
        return _packed_batch(np.zeros(0, np.uint8), np.zeros(1, np.int64), name)
    try:
        joined = "\0".join(keys)
    except TypeError:
        pass
    else:
        try:
            buf = joined.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _unicode_error(keys, e, name) from None
        return _Batch(_readonly(np.frombuffer(buf, dtype=np.uint8)), None, n, keys, name)
    try:
        bbuf = b"\0".join(keys)
    except TypeError:  # mixed str/bytes, or something else: per key, with clear errors
        data, offsets = _pack_slow(keys, name)
        return _packed_batch(data, offsets, name)
    return _Batch(_readonly(np.frombuffer(bbuf, dtype=np.uint8)), None, n, keys, name)


def _array_batch(keys: np.ndarray, name: str) -> _Batch:
    if keys.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {keys.shape}")
    kind = keys.dtype.kind
    n = keys.shape[0]
    if kind in "US":
        unit = 4 if kind == "U" else 1
        width = keys.dtype.itemsize // unit
        if n == 0 or width == 0:
            return _packed_batch(np.zeros(0, np.uint8), np.zeros(n + 1, np.int64), name)
        if kind == "U":
            # Native byte order, C order: then the buffer is n rows of `width` code points.
            arr = np.ascontiguousarray(keys, dtype=np.dtype(f"=U{width}"))
            mat = _readonly(arr.view(np.uint32).reshape(n, width))
            starts, stops = _rows_stripped(mat)
            data, offsets, bad = _utf8_from_codepoints(mat.reshape(-1), starts, stops)
            if bad >= 0:
                raise ValueError(
                    f"{name}[{bad}] cannot be encoded as UTF-8 "
                    "(a surrogate or a value past U+10FFFF)"
                )
            return _packed_batch(data, offsets, name)
        mat = _readonly(np.ascontiguousarray(keys).view(np.uint8).reshape(n, width))
        starts, stops = _rows_stripped(mat)
        data, offsets = _gather(mat.reshape(-1), starts, stops)
        return _packed_batch(data, offsets, name)
    if kind == "O":
        return _sequence_batch(keys.tolist(), name)
    if kind in "iub":
        raise TypeError(
            f"{name} is an array of {keys.dtype}: hash integers with mix64, not hash_keys"
        )
    raise TypeError(f"{name} must hold str or bytes (dtype 'U', 'S' or object), not {keys.dtype}")


def _check_packed(pk: PackedKeys, name: str) -> _Batch:
    data, offsets = pk
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 1:
        raise TypeError(f"{name}.data must be a 1-D uint8 array")
    if not isinstance(offsets, np.ndarray) or offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        raise TypeError(f"{name}.offsets must be a 1-D integer array")
    if offsets.shape[0] < 1:
        raise ValueError(f"{name}.offsets must have n + 1 >= 1 entries")
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if not offsets.flags.writeable:
        offsets = offsets.copy()
    if offsets[0] < 0 or offsets[-1] > data.shape[0] or np.any(offsets[1:] < offsets[:-1]):
        raise ValueError(f"{name}.offsets must be non-decreasing and within [0, len({name}.data)]")
    return _packed_batch(np.ascontiguousarray(data), offsets, name)


def _batch(keys: Any, name: str) -> _Batch:
    """Any accepted form of a key batch -> a :class:`_Batch` (see :func:`pack_keys`)."""
    if isinstance(keys, PackedKeys):
        return _check_packed(keys, name)
    if isinstance(keys, np.ndarray):
        return _array_batch(keys, name)
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        raise TypeError(
            f"{name} must be a sequence of keys, not a single {type(keys).__name__} "
            "(hash one key with xxh64 or ketama_hash)"
        )
    if isinstance(keys, (int, np.integer)):
        raise TypeError(f"{name} is an integer: hash integers with mix64")
    if not isinstance(keys, (list, tuple)):
        try:
            keys = list(keys)
        except TypeError:
            raise TypeError(
                f"{name} must be a sequence of str or bytes, not {type(keys).__name__}"
            ) from None
    return _sequence_batch(keys, name)


def pack_keys(keys: Any) -> PackedKeys:
    """Pack a batch of str/bytes keys into one buffer plus offsets.

    Parameters
    ----------
    keys : sequence of str or bytes, np.ndarray or PackedKeys
        A list/tuple/iterable of ``str`` (encoded UTF-8) and/or bytes-like keys (mixed is
        allowed, though slower), a 1-D NumPy array of dtype ``'U'``, ``'S'`` (trailing NUL
        padding is not part of a value, as in numpy) or object, or a ``PackedKeys``
        (validated and returned).

    Returns
    -------
    PackedKeys
        ``data`` uint8 ``(total_bytes,)``, ``offsets`` int64 ``(n + 1,)``.

    Raises
    ------
    TypeError
        A key that is neither str nor bytes (the message names its index and type), or
        integer input (use :func:`mix64`).
    ValueError
        A str key that cannot be encoded as UTF-8 (lone surrogates).

    Examples
    --------
    >>> pk = pack_keys(["a", "bc", "é"])
    >>> pk.offsets.tolist(), pk.data.tobytes()
    ([0, 1, 3, 5], b'abc\\xc3\\xa9')
    """
    return PackedKeys(*_packed(_batch(keys, "keys")))


# ----------------------------------------------------------------------------- scalar fast calls


class _Entry:
    """Call a numba kernel for one fixed signature with minimal per-call overhead.

    The first call compiles (or loads from the on-disk cache) through the dispatcher
    with ``example_args``; afterwards :attr:`fn` is the compiled wrapper for that
    signature, called directly without the dispatcher's type resolution (about 175 ns
    instead of 450 ns per call here).  Callers must pass exactly the types of
    ``example_args``; Python ints are accepted for integer parameters (numba raises
    ``OverflowError`` if one does not fit).  Hot callers write
    ``(e.fn or e.resolve())(*args)`` to skip this object's own ``__call__``.
    """

    __slots__ = ("_dispatcher", "_example", "fn")

    def __init__(self, dispatcher: Any, example_args: tuple[Any, ...]) -> None:
        self._dispatcher = dispatcher
        self._example = example_args
        self.fn: Any = None

    def __call__(self, *args: Any) -> Any:
        return (self.fn or self.resolve())(*args)

    def resolve(self) -> Any:
        from numba import typeof

        d = self._dispatcher
        d(*self._example)
        sig = tuple(typeof(a) for a in self._example)
        fn = d
        for s, cres in d.overloads.items():
            if tuple(s) == sig:
                fn = getattr(cres, "entry_point", None) or d
                break
        self.fn = fn
        return fn


#: ``_xxh64_scalar(b: bytes, seed: int in [0, 2**64)) -> int``
_xxh64_scalar = _Entry(_xxh64_bytes, (b"", np.uint64(0)))
#: ``_md5_scalar(b: bytes) -> int``: the ketama hash.
_md5_scalar = _Entry(_md5_u32_bytes, (b"",))
#: ``_mix64_scalar(x: int, seed: int), both in [0, 2**64) -> int``
_mix64_scalar = _Entry(_mix64_one, (np.uint64(0), np.uint64(0)))


def _as_u64(value: Any, name: str) -> int:
    return check_int(value, name) & _MASK64


def _as_key_bytes(data: Any, name: str) -> bytes:
    return key_bytes(data, name, int_hint="hash integers with mix64")


# ----------------------------------------------------------------------------- public API


def mix64(x: Any, seed: int = 0) -> Any:
    """Mix 64-bit integers into well-spread 64-bit hashes.

    ``h = m(x ^ m(seed + 0x9E3779B97F4A7C15))`` where ``m`` is splitmix64's output
    function (Stafford's Mix13: two xorshift-multiply rounds and a final xorshift).  For a
    fixed seed it is a bijection, so distinct integers never collide; distinct seeds give
    unrelated-looking functions (each seed XORs a different pseudo-random 64-bit key in
    before the avalanche).  Use it for integer keys; use :func:`hash_keys` for strings.

    Parameters
    ----------
    x : int or np.ndarray
        A Python/NumPy integer (negative values are taken mod 2**64) or an array of any
        integer dtype and shape (signed values are reinterpreted mod 2**64).
    seed : int
        Any integer, taken mod 2**64.

    Returns
    -------
    int or np.ndarray
        An int in ``[0, 2**64)`` for scalar input, else ``uint64`` with the shape of ``x``.

    Examples
    --------
    >>> mix64(0) == mix64(0, seed=0)
    True
    >>> mix64(np.arange(3)).dtype
    dtype('uint64')
    """
    if type(x) is int and type(seed) is int and 0 <= x <= _MASK64 and 0 <= seed <= _MASK64:
        return (_mix64_scalar.fn or _mix64_scalar.resolve())(x, seed)
    s = _as_u64(seed, "seed")
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "iu":
            raise TypeError(f"x must be an integer array (mix64), not dtype {x.dtype}")
        flat = np.ascontiguousarray(x, dtype=np.uint64).reshape(-1)
        return _mix64_array(flat, np.uint64(s)).reshape(x.shape)
    if not is_int(x):
        raise TypeError(f"x must be an int or an integer array, not {type(x).__name__}")
    return _mix64_scalar(int(x) & _MASK64, s)


def xxh64(data: str | bytes | bytearray | memoryview, seed: int = 0) -> int:
    """XXH64 of one key, bit-exact with the reference xxHash (and the ``xxhash`` package).

    Parameters
    ----------
    data : str or bytes-like
        ``str`` is hashed as its UTF-8 encoding.
    seed : int
        Taken mod 2**64.

    Returns
    -------
    int
        In ``[0, 2**64)``.

    Examples
    --------
    >>> hex(xxh64(b""))
    '0xef46db3751d8e999'
    """
    if type(data) is not str:
        b = _as_key_bytes(data, "data")
    else:
        try:
            b = data.encode("utf-8")
        except UnicodeEncodeError:
            b = _as_key_bytes(data, "data")  # raises the ValueError naming `data`
    if type(seed) is not int or not 0 <= seed <= _MASK64:
        seed = _as_u64(seed, "seed")
    return (_xxh64_scalar.fn or _xxh64_scalar.resolve())(b, seed)


def hash_keys(keys: Any, seed: int = 0) -> np.ndarray:
    """XXH64 of every key in a batch (``str`` as UTF-8), computed in one numba call.

    Parameters
    ----------
    keys : sequence of str or bytes, np.ndarray ('U', 'S' or object) or PackedKeys
        See :func:`pack_keys`.
    seed : int
        Taken mod 2**64.

    Returns
    -------
    np.ndarray
        ``uint64``, shape ``(n,)``: ``out[i] == xxh64(keys[i], seed)``.
    """
    s = np.uint64(_as_u64(seed, "seed"))
    b = _batch(keys, "keys")
    if b.offsets is None:
        out, ok = _xxh64_nul(b.data, b.n, s)
        if ok:
            return out
    data, offsets = _packed(b)
    return _xxh64_packed(data, offsets, s)


def ketama_hash(key: str | bytes | bytearray | memoryview) -> int:
    """The ketama key hash: little-endian uint32 of ``md5(key)[0:4]`` (``str`` as UTF-8).

    This is where libketama and uhashring place a key on their rings.

    Examples
    --------
    >>> ketama_hash("") == int.from_bytes(bytes.fromhex("d41d8cd9"), "little")
    True
    """
    if type(key) is not str:
        b = _as_key_bytes(key, "key")
    else:
        try:
            b = key.encode("utf-8")
        except UnicodeEncodeError:
            b = _as_key_bytes(key, "key")  # raises the ValueError naming `key`
    return (_md5_scalar.fn or _md5_scalar.resolve())(b)


def ketama_hash_keys(keys: Any) -> np.ndarray:
    """Ketama key hashes of a batch (MD5 in numba), ``uint32`` shape ``(n,)``.

    ``keys`` is accepted as for :func:`hash_keys`.
    """
    data, offsets = _packed(_batch(keys, "keys"))
    return _md5_u32_packed(data, offsets)


def md5_digests(keys: Any) -> np.ndarray:
    """Full MD5 digest of each key: ``uint8`` shape ``(n, 16)``, row ``i`` = ``md5(key i)``.

    Used to build ketama points (4 little-endian uint32 per digest of ``"<node>-<i>"``).
    ``keys`` is accepted as for :func:`hash_keys`.
    """
    data, offsets = _packed(_batch(keys, "keys"))
    return _md5_digests_packed(data, offsets)
