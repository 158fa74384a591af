"""Numba MD5 (RFC 1321) for single keys and for batches of keys (private).

Why our own MD5?  Ketama-compatible rings (libketama, uhashring) hash every key
with MD5 and keep the first four digest bytes.  ``hashlib.md5`` per key costs
about a microsecond of interpreter overhead; this module runs the compression
function over a whole batch inside one numba call.

Two layouts of the same arithmetic:

* ``_md5_one`` hashes one key, block after block (used for single keys);
* ``_md5_words_spans`` hashes a batch ``_W`` keys at a time, one key per *lane*:
  the 64 steps run inside a loop over lanes with no control flow, which LLVM
  turns into SIMD code (AVX2/AVX-512 where the CPU has it).  MD5 is a serial
  chain of dependent steps, so one key at a time leaves the core idle: the
  lanes are about 4x faster here (about 35 ns per short key against 140 ns).

Values live in ``uint64`` variables that always hold a 32-bit quantity
(numba promotes ``uint32`` arithmetic to 64 bits anyway; the narrower
formulation measured slower), and every step masks with ``_M32`` where carries
or rotations could leak past bit 31.  The 64 steps are written out, generated
from RFC 1321's tables: ``K[i] = floor(abs(sin(i + 1)) * 2**32)``, the
per-round shift amounts and message-word orders.
"""

from __future__ import annotations

import numpy as np

from ._config import jit
from ._xxh64 import _read32 as _w  # little-endian 32-bit word at any alignment

__all__ = [
    "_md5_block",
    "_md5_compress",
    "_md5_digests_packed",
    "_md5_one",
    "_md5_u32_bytes",
    "_md5_u32_packed",
    "_md5_words_spans",
]

_W = 16  # keys hashed side by side (SIMD lanes); 8 did not vectorise here, 32 was no faster

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_B80 = np.uint8(0x80)
_U8 = np.uint64(8)
_FF = np.uint64(0xFF)

# Initial state (RFC 1321, section 3.3), as little-endian words.
_A0 = np.uint64(0x67452301)
_B0 = np.uint64(0xEFCDAB89)
_C0 = np.uint64(0x98BADCFE)
_D0 = np.uint64(0x10325476)

_R4 = np.uint64(4)
_R5 = np.uint64(5)
_R6 = np.uint64(6)
_R7 = np.uint64(7)
_R9 = np.uint64(9)
_R10 = np.uint64(10)
_R11 = np.uint64(11)
_R12 = np.uint64(12)
_R14 = np.uint64(14)
_R15 = np.uint64(15)
_R16 = np.uint64(16)
_R17 = np.uint64(17)
_R20 = np.uint64(20)
_R21 = np.uint64(21)
_R22 = np.uint64(22)
_R23 = np.uint64(23)

# K[i] = floor(abs(sin(i + 1)) * 2**32)
_K00 = np.uint64(0xD76AA478)
_K01 = np.uint64(0xE8C7B756)
_K02 = np.uint64(0x242070DB)
_K03 = np.uint64(0xC1BDCEEE)
_K04 = np.uint64(0xF57C0FAF)
_K05 = np.uint64(0x4787C62A)
_K06 = np.uint64(0xA8304613)
_K07 = np.uint64(0xFD469501)
_K08 = np.uint64(0x698098D8)
_K09 = np.uint64(0x8B44F7AF)
_K10 = np.uint64(0xFFFF5BB1)
_K11 = np.uint64(0x895CD7BE)
_K12 = np.uint64(0x6B901122)
_K13 = np.uint64(0xFD987193)
_K14 = np.uint64(0xA679438E)
_K15 = np.uint64(0x49B40821)
_K16 = np.uint64(0xF61E2562)
_K17 = np.uint64(0xC040B340)
_K18 = np.uint64(0x265E5A51)
_K19 = np.uint64(0xE9B6C7AA)
_K20 = np.uint64(0xD62F105D)
_K21 = np.uint64(0x02441453)
_K22 = np.uint64(0xD8A1E681)
_K23 = np.uint64(0xE7D3FBC8)
_K24 = np.uint64(0x21E1CDE6)
_K25 = np.uint64(0xC33707D6)
_K26 = np.uint64(0xF4D50D87)
_K27 = np.uint64(0x455A14ED)
_K28 = np.uint64(0xA9E3E905)
_K29 = np.uint64(0xFCEFA3F8)
_K30 = np.uint64(0x676F02D9)
_K31 = np.uint64(0x8D2A4C8A)
_K32 = np.uint64(0xFFFA3942)
_K33 = np.uint64(0x8771F681)
_K34 = np.uint64(0x6D9D6122)
_K35 = np.uint64(0xFDE5380C)
_K36 = np.uint64(0xA4BEEA44)
_K37 = np.uint64(0x4BDECFA9)
_K38 = np.uint64(0xF6BB4B60)
_K39 = np.uint64(0xBEBFBC70)
_K40 = np.uint64(0x289B7EC6)
_K41 = np.uint64(0xEAA127FA)
_K42 = np.uint64(0xD4EF3085)
_K43 = np.uint64(0x04881D05)
_K44 = np.uint64(0xD9D4D039)
_K45 = np.uint64(0xE6DB99E5)
_K46 = np.uint64(0x1FA27CF8)
_K47 = np.uint64(0xC4AC5665)
_K48 = np.uint64(0xF4292244)
_K49 = np.uint64(0x432AFF97)
_K50 = np.uint64(0xAB9423A7)
_K51 = np.uint64(0xFC93A039)
_K52 = np.uint64(0x655B59C3)
_K53 = np.uint64(0x8F0CCC92)
_K54 = np.uint64(0xFFEFF47D)
_K55 = np.uint64(0x85845DD1)
_K56 = np.uint64(0x6FA87E4F)
_K57 = np.uint64(0xFE2CE6E0)
_K58 = np.uint64(0xA3014314)
_K59 = np.uint64(0x4E0811A1)
_K60 = np.uint64(0xF7537E82)
_K61 = np.uint64(0xBD3AF235)
_K62 = np.uint64(0x2AD7D2BB)
_K63 = np.uint64(0xEB86D391)


@jit
def _rot_add(t, b, s):
    t = t & _M32
    return (b + (((t << s) | (t >> (_S32 - s))) & _M32)) & _M32


@jit
def _ff(a, b, c, d, x, k, s):
    return _rot_add(a + ((b & c) | (~b & d)) + k + x, b, s)


@jit
def _gg(a, b, c, d, x, k, s):
    return _rot_add(a + ((b & d) | (c & ~d)) + k + x, b, s)


@jit
def _hh(a, b, c, d, x, k, s):
    return _rot_add(a + (b ^ c ^ d) + k + x, b, s)


@jit
def _ii(a, b, c, d, x, k, s):
    return _rot_add(a + (c ^ (b | ~d)) + k + x, b, s)


# The two helpers below are inlined by numba itself (``inline="always"``): left as
# calls, LLVM kept them out of line and short keys hashed about 15% slower.


@jit(inline="always")
def _tail_word(data, q, r):
    """The padded last word of a message: its final ``r`` (0-3) bytes at ``data[q:]``,
    little-endian, then the 0x80 marker byte, then zeros (a uint64 holding 32 bits)."""
    v = np.uint64(0x80) << (_U8 * np.uint64(r))
    for j in range(r):
        v |= np.uint64(data[q + j]) << (_U8 * np.uint64(j))
    return v


@jit(inline="always")
def _copy_words(x, lane, data, p, nwords):
    """Lane ``lane`` of ``x``: words ``0 .. nwords - 1`` = the LE words at ``data[p:]``."""
    for w in range(nwords):
        x[w * _W + lane] = np.uint32(_w(data, p + 4 * w))


@jit
def _md5_compress(
    a0, b0, c0, d0, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15
):
    """MD5's compression function: state ``(a0, b0, c0, d0)`` and message words ``x0..x15``."""
    a = a0
    b = b0
    c = c0
    d = d0
    a = _ff(a, b, c, d, x0, _K00, _R7)
    d = _ff(d, a, b, c, x1, _K01, _R12)
    c = _ff(c, d, a, b, x2, _K02, _R17)
    b = _ff(b, c, d, a, x3, _K03, _R22)
    a = _ff(a, b, c, d, x4, _K04, _R7)
    d = _ff(d, a, b, c, x5, _K05, _R12)
    c = _ff(c, d, a, b, x6, _K06, _R17)
    b = _ff(b, c, d, a, x7, _K07, _R22)
    a = _ff(a, b, c, d, x8, _K08, _R7)
    d = _ff(d, a, b, c, x9, _K09, _R12)
    c = _ff(c, d, a, b, x10, _K10, _R17)
    b = _ff(b, c, d, a, x11, _K11, _R22)
    a = _ff(a, b, c, d, x12, _K12, _R7)
    d = _ff(d, a, b, c, x13, _K13, _R12)
    c = _ff(c, d, a, b, x14, _K14, _R17)
    b = _ff(b, c, d, a, x15, _K15, _R22)
    a = _gg(a, b, c, d, x1, _K16, _R5)
    d = _gg(d, a, b, c, x6, _K17, _R9)
    c = _gg(c, d, a, b, x11, _K18, _R14)
    b = _gg(b, c, d, a, x0, _K19, _R20)
    a = _gg(a, b, c, d, x5, _K20, _R5)
    d = _gg(d, a, b, c, x10, _K21, _R9)
    c = _gg(c, d, a, b, x15, _K22, _R14)
    b = _gg(b, c, d, a, x4, _K23, _R20)
    a = _gg(a, b, c, d, x9, _K24, _R5)
    d = _gg(d, a, b, c, x14, _K25, _R9)
    c = _gg(c, d, a, b, x3, _K26, _R14)
    b = _gg(b, c, d, a, x8, _K27, _R20)
    a = _gg(a, b, c, d, x13, _K28, _R5)
    d = _gg(d, a, b, c, x2, _K29, _R9)
    c = _gg(c, d, a, b, x7, _K30, _R14)
    b = _gg(b, c, d, a, x12, _K31, _R20)
    a = _hh(a, b, c, d, x5, _K32, _R4)
    d = _hh(d, a, b, c, x8, _K33, _R11)
    c = _hh(c, d, a, b, x11, _K34, _R16)
    b = _hh(b, c, d, a, x14, _K35, _R23)
    a = _hh(a, b, c, d, x1, _K36, _R4)
    d = _hh(d, a, b, c, x4, _K37, _R11)
    c = _hh(c, d, a, b, x7, _K38, _R16)
    b = _hh(b, c, d, a, x10, _K39, _R23)
    a = _hh(a, b, c, d, x13, _K40, _R4)
    d = _hh(d, a, b, c, x0, _K41, _R11)
    c = _hh(c, d, a, b, x3, _K42, _R16)
    b = _hh(b, c, d, a, x6, _K43, _R23)
    a = _hh(a, b, c, d, x9, _K44, _R4)
    d = _hh(d, a, b, c, x12, _K45, _R11)
    c = _hh(c, d, a, b, x15, _K46, _R16)
    b = _hh(b, c, d, a, x2, _K47, _R23)
    a = _ii(a, b, c, d, x0, _K48, _R6)
    d = _ii(d, a, b, c, x7, _K49, _R10)
    c = _ii(c, d, a, b, x14, _K50, _R15)
    b = _ii(b, c, d, a, x5, _K51, _R21)
    a = _ii(a, b, c, d, x12, _K52, _R6)
    d = _ii(d, a, b, c, x3, _K53, _R10)
    c = _ii(c, d, a, b, x10, _K54, _R15)
    b = _ii(b, c, d, a, x1, _K55, _R21)
    a = _ii(a, b, c, d, x8, _K56, _R6)
    d = _ii(d, a, b, c, x15, _K57, _R10)
    c = _ii(c, d, a, b, x6, _K58, _R15)
    b = _ii(b, c, d, a, x13, _K59, _R21)
    a = _ii(a, b, c, d, x4, _K60, _R6)
    d = _ii(d, a, b, c, x11, _K61, _R10)
    c = _ii(c, d, a, b, x2, _K62, _R15)
    b = _ii(b, c, d, a, x9, _K63, _R21)
    return (a0 + a) & _M32, (b0 + b) & _M32, (c0 + c) & _M32, (d0 + d) & _M32


@jit
def _md5_block(a0, b0, c0, d0, buf, p):
    """Compress the 64-byte block ``buf[p:p+64]`` into state ``(a0, b0, c0, d0)``."""
    return _md5_compress(
        a0,
        b0,
        c0,
        d0,
        _w(buf, p),
        _w(buf, p + 4),
        _w(buf, p + 8),
        _w(buf, p + 12),
        _w(buf, p + 16),
        _w(buf, p + 20),
        _w(buf, p + 24),
        _w(buf, p + 28),
        _w(buf, p + 32),
        _w(buf, p + 36),
        _w(buf, p + 40),
        _w(buf, p + 44),
        _w(buf, p + 48),
        _w(buf, p + 52),
        _w(buf, p + 56),
        _w(buf, p + 60),
    )


@jit
def _pw(buf, length, q):
    """Word at byte ``q`` (< 56) of the one-block padded message of ``buf[:length]``."""
    if q + 4 <= length:
        return _w(buf, q)
    if q > length:
        return np.uint64(0)
    return _tail_word(buf, q, length - q)


@jit(nogil=False)
def _md5_u32_bytes(buf):
    """Ketama hash of a whole ``bytes`` object, without allocating for keys < 56 bytes.

    The single-key path called from Python per request: ``nogil=False`` saves the
    GIL release/re-acquire (about 30 ns), worth more than parallelism on 100 ns of work.
    """
    n = len(buf)
    if n >= 56:
        scratch = np.empty(128, dtype=np.uint8)
        a, _b, _c, _d = _md5_one(buf, 0, n, scratch)
        return a
    a, _b, _c, _d = _md5_compress(
        _A0,
        _B0,
        _C0,
        _D0,
        _pw(buf, n, 0),
        _pw(buf, n, 4),
        _pw(buf, n, 8),
        _pw(buf, n, 12),
        _pw(buf, n, 16),
        _pw(buf, n, 20),
        _pw(buf, n, 24),
        _pw(buf, n, 28),
        _pw(buf, n, 32),
        _pw(buf, n, 36),
        _pw(buf, n, 40),
        _pw(buf, n, 44),
        _pw(buf, n, 48),
        _pw(buf, n, 52),
        np.uint64(n) * _U8,
        np.uint64(0),
    )
    return a


@jit
def _md5_one(data, start, stop, scratch):
    """MD5 state words ``(a, b, c, d)`` of ``data[start:stop]`` (uint8 array or bytes).

    ``scratch`` is a caller-owned uint8[128] work buffer for the padded tail.  The
    digest is ``a, b, c, d``, each written little-endian.
    """
    a = _A0
    b = _B0
    c = _C0
    d = _D0
    p = np.int64(start)
    stop = np.int64(stop)
    while stop - p >= 64:
        a, b, c, d = _md5_block(a, b, c, d, data, p)
        p += 64
    rem = stop - p
    for j in range(rem):
        scratch[j] = data[p + j]
    scratch[rem] = _B80
    end = 64 if rem < 56 else 128
    for j in range(rem + 1, end - 8):
        scratch[j] = 0
    bits = np.uint64(stop - np.int64(start)) * _U8
    for j in range(8):
        scratch[end - 8 + j] = np.uint8((bits >> (_U8 * np.uint64(j))) & _FF)
    a, b, c, d = _md5_block(a, b, c, d, scratch, 0)
    if end == 128:
        a, b, c, d = _md5_block(a, b, c, d, scratch, 64)
    return a, b, c, d


@jit
def _md5_lanes_block(x, st, so):
    """One compression per lane: ``x`` uint32[16 * _W] (word ``w`` of lane ``l`` at
    ``w * _W + l``), ``st`` uint32[4 * _W] chaining values in (a, b, c, d blocks of
    ``_W``), ``so`` the same out.

    The loop body is straight-line code over one lane, so LLVM vectorises across lanes.
    Writing the result to a second array matters: updating ``st`` in place measured 2x
    slower (the vectorised loop was not used).
    """
    for lane in range(_W):
        a0 = np.uint64(st[lane])
        b0 = np.uint64(st[_W + lane])
        c0 = np.uint64(st[2 * _W + lane])
        d0 = np.uint64(st[3 * _W + lane])
        a = a0
        b = b0
        c = c0
        d = d0
        a = _ff(a, b, c, d, np.uint64(x[0 * _W + lane]), _K00, _R7)
        d = _ff(d, a, b, c, np.uint64(x[1 * _W + lane]), _K01, _R12)
        c = _ff(c, d, a, b, np.uint64(x[2 * _W + lane]), _K02, _R17)
        b = _ff(b, c, d, a, np.uint64(x[3 * _W + lane]), _K03, _R22)
        a = _ff(a, b, c, d, np.uint64(x[4 * _W + lane]), _K04, _R7)
        d = _ff(d, a, b, c, np.uint64(x[5 * _W + lane]), _K05, _R12)
        c = _ff(c, d, a, b, np.uint64(x[6 * _W + lane]), _K06, _R17)
        b = _ff(b, c, d, a, np.uint64(x[7 * _W + lane]), _K07, _R22)
        a = _ff(a, b, c, d, np.uint64(x[8 * _W + lane]), _K08, _R7)
        d = _ff(d, a, b, c, np.uint64(x[9 * _W + lane]), _K09, _R12)
        c = _ff(c, d, a, b, np.uint64(x[10 * _W + lane]), _K10, _R17)
        b = _ff(b, c, d, a, np.uint64(x[11 * _W + lane]), _K11, _R22)
        a = _ff(a, b, c, d, np.uint64(x[12 * _W + lane]), _K12, _R7)
        d = _ff(d, a, b, c, np.uint64(x[13 * _W + lane]), _K13, _R12)
        c = _ff(c, d, a, b, np.uint64(x[14 * _W + lane]), _K14, _R17)
        b = _ff(b, c, d, a, np.uint64(x[15 * _W + lane]), _K15, _R22)
        a = _gg(a, b, c, d, np.uint64(x[1 * _W + lane]), _K16, _R5)
        d = _gg(d, a, b, c, np.uint64(x[6 * _W + lane]), _K17, _R9)
        c = _gg(c, d, a, b, np.uint64(x[11 * _W + lane]), _K18, _R14)
        b = _gg(b, c, d, a, np.uint64(x[0 * _W + lane]), _K19, _R20)
        a = _gg(a, b, c, d, np.uint64(x[5 * _W + lane]), _K20, _R5)
        d = _gg(d, a, b, c, np.uint64(x[10 * _W + lane]), _K21, _R9)
        c = _gg(c, d, a, b, np.uint64(x[15 * _W + lane]), _K22, _R14)
        b = _gg(b, c, d, a, np.uint64(x[4 * _W + lane]), _K23, _R20)
        a = _gg(a, b, c, d, np.uint64(x[9 * _W + lane]), _K24, _R5)
        d = _gg(d, a, b, c, np.uint64(x[14 * _W + lane]), _K25, _R9)
        c = _gg(c, d, a, b, np.uint64(x[3 * _W + lane]), _K26, _R14)
        b = _gg(b, c, d, a, np.uint64(x[8 * _W + lane]), _K27, _R20)
        a = _gg(a, b, c, d, np.uint64(x[13 * _W + lane]), _K28, _R5)
        d = _gg(d, a, b, c, np.uint64(x[2 * _W + lane]), _K29, _R9)
        c = _gg(c, d, a, b, np.uint64(x[7 * _W + lane]), _K30, _R14)
        b = _gg(b, c, d, a, np.uint64(x[12 * _W + lane]), _K31, _R20)
        a = _hh(a, b, c, d, np.uint64(x[5 * _W + lane]), _K32, _R4)
        d = _hh(d, a, b, c, np.uint64(x[8 * _W + lane]), _K33, _R11)
        c = _hh(c, d, a, b, np.uint64(x[11 * _W + lane]), _K34, _R16)
        b = _hh(b, c, d, a, np.uint64(x[14 * _W + lane]), _K35, _R23)
        a = _hh(a, b, c, d, np.uint64(x[1 * _W + lane]), _K36, _R4)
        d = _hh(d, a, b, c, np.uint64(x[4 * _W + lane]), _K37, _R11)
        c = _hh(c, d, a, b, np.uint64(x[7 * _W + lane]), _K38, _R16)
        b = _hh(b, c, d, a, np.uint64(x[10 * _W + lane]), _K39, _R23)
        a = _hh(a, b, c, d, np.uint64(x[13 * _W + lane]), _K40, _R4)
        d = _hh(d, a, b, c, np.uint64(x[0 * _W + lane]), _K41, _R11)
        c = _hh(c, d, a, b, np.uint64(x[3 * _W + lane]), _K42, _R16)
        b = _hh(b, c, d, a, np.uint64(x[6 * _W + lane]), _K43, _R23)
        a = _hh(a, b, c, d, np.uint64(x[9 * _W + lane]), _K44, _R4)
        d = _hh(d, a, b, c, np.uint64(x[12 * _W + lane]), _K45, _R11)
        c = _hh(c, d, a, b, np.uint64(x[15 * _W + lane]), _K46, _R16)
        b = _hh(b, c, d, a, np.uint64(x[2 * _W + lane]), _K47, _R23)
        a = _ii(a, b, c, d, np.uint64(x[0 * _W + lane]), _K48, _R6)
        d = _ii(d, a, b, c, np.uint64(x[7 * _W + lane]), _K49, _R10)
        c = _ii(c, d, a, b, np.uint64(x[14 * _W + lane]), _K50, _R15)
        b = _ii(b, c, d, a, np.uint64(x[5 * _W + lane]), _K51, _R21)
        a = _ii(a, b, c, d, np.uint64(x[12 * _W + lane]), _K52, _R6)
        d = _ii(d, a, b, c, np.uint64(x[3 * _W + lane]), _K53, _R10)
        c = _ii(c, d, a, b, np.uint64(x[10 * _W + lane]), _K54, _R15)
        b = _ii(b, c, d, a, np.uint64(x[1 * _W + lane]), _K55, _R21)
        a = _ii(a, b, c, d, np.uint64(x[8 * _W + lane]), _K56, _R6)
        d = _ii(d, a, b, c, np.uint64(x[15 * _W + lane]), _K57, _R10)
        c = _ii(c, d, a, b, np.uint64(x[6 * _W + lane]), _K58, _R15)
        b = _ii(b, c, d, a, np.uint64(x[13 * _W + lane]), _K59, _R21)
        a = _ii(a, b, c, d, np.uint64(x[4 * _W + lane]), _K60, _R6)
        d = _ii(d, a, b, c, np.uint64(x[11 * _W + lane]), _K61, _R10)
        c = _ii(c, d, a, b, np.uint64(x[2 * _W + lane]), _K62, _R15)
        b = _ii(b, c, d, a, np.uint64(x[9 * _W + lane]), _K63, _R21)
        so[lane] = np.uint32((a0 + a) & _M32)
        so[_W + lane] = np.uint32((b0 + b) & _M32)
        so[2 * _W + lane] = np.uint32((c0 + c) & _M32)
        so[3 * _W + lane] = np.uint32((d0 + d) & _M32)


@jit
def _fill_lane(x, lane, data, start, length, block, last):
    """Write message block ``block`` of the MD5-padded key ``data[start:start+length]``
    into lane ``lane`` of ``x``: data bytes, then 0x80, zeros, and in the ``last`` block
    the bit length in words 14 and 15."""
    base = block * 64
    rem = length - base  # data bytes left for this block (negative: none, marker was before)
    p = start + base
    if rem >= 64:
        _copy_words(x, lane, data, p, 16)
        return
    w = 0
    if rem >= 0:
        nfull = rem >> 2
        _copy_words(x, lane, data, p, nfull)
        x[nfull * _W + lane] = np.uint32(_tail_word(data, p + 4 * nfull, rem & 3))
        w = nfull + 1
    for z in range(w, 16):
        x[z * _W + lane] = 0
    if last:
        bits = np.uint64(length) * _U8
        x[14 * _W + lane] = np.uint32(bits & _M32)
        x[15 * _W + lane] = np.uint32(bits >> _S32)


@jit
def _fill_short(x, lane, data, start, length):
    """``_fill_lane`` for a key of fewer than 56 bytes (one block)."""
    nfull = length >> 2
    _copy_words(x, lane, data, start, nfull)
    x[nfull * _W + lane] = np.uint32(_tail_word(data, start + 4 * nfull, length & 3))
    for z in range(nfull + 1, 14):
        x[z * _W + lane] = 0
    x[14 * _W + lane] = np.uint32(length * 8)
    x[15 * _W + lane] = 0


@jit
def _md5_words_spans(data, starts, stops, nwords):
    """First ``nwords`` (1..4) MD5 state words of each key ``data[starts[i]:stops[i]]``.

    Returns uint32[n * nwords], key ``i``'s words at ``i * nwords``: word 0 is the
    ketama hash; the four words stored little-endian are the digest.

    Keys go through in chunks of ``_W``, one per lane.  A chunk runs as many rounds as
    its longest key has blocks; a lane whose key is done idles (its result is not
    used), which costs little because keys in a batch usually have similar lengths.
    """
    n = starts.shape[0]
    out = np.empty(n * nwords, dtype=np.uint32)
    x = np.zeros(16 * _W, dtype=np.uint32)
    st = np.zeros(4 * _W, dtype=np.uint32)
    so = np.zeros(4 * _W, dtype=np.uint32)
    nblocks = np.zeros(_W, dtype=np.int64)
    for c0 in range(0, n, _W):
        m = min(_W, n - c0)
        rounds = 1
        for lane in range(m):
            nb = (stops[c0 + lane] - starts[c0 + lane] + 8) // 64 + 1
            nblocks[lane] = nb
            rounds = max(rounds, nb)
        for lane in range(_W):
            st[lane] = np.uint32(_A0)
            st[_W + lane] = np.uint32(_B0)
            st[2 * _W + lane] = np.uint32(_C0)
            st[3 * _W + lane] = np.uint32(_D0)
        if rounds == 1:  # the common case: every key in the chunk is < 56 bytes
            for lane in range(m):
                k = c0 + lane
                _fill_short(x, lane, data, starts[k], stops[k] - starts[k])
            _md5_lanes_block(x, st, so)
            for lane in range(m):
                for j in range(nwords):
                    out[(c0 + lane) * nwords + j] = so[j * _W + lane]
            continue
        for blk in range(rounds):
            for lane in range(m):
                if blk < nblocks[lane]:
                    k = c0 + lane
                    last = blk == nblocks[lane] - 1
                    _fill_lane(x, lane, data, starts[k], stops[k] - starts[k], blk, last)
            _md5_lanes_block(x, st, so)
            for lane in range(m):
                if blk < nblocks[lane] - 1:  # more blocks to come: chain the state
                    for j in range(4):
                        st[j * _W + lane] = so[j * _W + lane]
                elif blk == nblocks[lane] - 1:
                    for j in range(nwords):
                        out[(c0 + lane) * nwords + j] = so[j * _W + lane]
    return out


@jit
def _md5_u32_packed(data, offsets):
    """Ketama key hashes of packed keys: little-endian uint32 of ``md5(key)[0:4]``.

    ``data``: uint8[total], ``offsets``: int64[n + 1]; returns uint32[n].
    """
    return _md5_words_spans(data, offsets[:-1], offsets[1:], 1)


@jit
def _md5_digests_packed(data, offsets):
    """Full MD5 digests of packed keys: uint8[n, 16], row ``i`` = ``md5(key i).digest()``.

    (The state words are stored in native byte order: numba targets little-endian CPUs.)
    """
    words = _md5_words_spans(data, offsets[:-1], offsets[1:], 4)
    return words.view(np.uint8).reshape((offsets.shape[0] - 1, 16))
