"""Shared argument checks (kernels._validate): one rule and one message per kind of argument."""

from __future__ import annotations

import numpy as np
import pytest

from kernels._validate import check_hashes, check_names, check_weights, key_bytes
from kernels.maglev import MaglevTable
from kernels.rendezvous import Rendezvous
from kernels.ring import HashRing

PLACEMENTS = [HashRing, MaglevTable, Rendezvous]


@pytest.mark.parametrize("cls", PLACEMENTS)
@pytest.mark.parametrize(
    ("weights", "exc", "message"),
    [
        ([1, 0], ValueError, "weights[1] must be a finite number > 0, got 0"),
        ([float("nan"), 1], ValueError, "weights[0] must be a finite number > 0, got nan"),
        ([1, "2"], TypeError, "weights[1] must be a positive number, not str"),
        ([True, 1], TypeError, "weights[0] must be a positive number, not bool"),
        (3, TypeError, "weights must be a sequence of numbers, not int"),
    ],
)
def test_node_weights_are_judged_alike_everywhere(cls, weights, exc, message):
    with pytest.raises(exc) as info:
        cls(["a", "b"], weights)
    assert str(info.value) == message


@pytest.mark.parametrize("cls", PLACEMENTS)
def test_node_names_are_judged_alike_everywhere(cls):
    with pytest.raises(ValueError, match=r"must be unique: 'a' appears more than once"):
        cls(["a", "b", "a"])
    with pytest.raises(TypeError, match=r"\[1\] must be a str node name, not int"):
        cls(["a", 1])
    with pytest.raises(ValueError, match=r"\[1\] cannot be encoded as UTF-8"):
        cls(["a", "\udc80"])
    with pytest.raises(ValueError, match="must not be empty"):
        cls([])


def test_empty_name_only_where_asked():
    assert check_names(["", "a"]) == ("", "a")
    with pytest.raises(ValueError, match=r"nodes\[0\] must be a non-empty node name"):
        check_names(["", "a"], nonempty=True)


def test_weights_modes():
    assert check_weights(None, 2) == (1.0, 1.0)
    assert check_weights(np.array([2, 3]), 2, integer=True) == (2, 3)
    assert check_weights([2.0], 1, integer=True) == (2,)
    with pytest.raises(ValueError, match=r"weights\[0\] must be a whole number in X, got 1\.5"):
        check_weights([1.5], 1, integer=True, why=" in X")
    with pytest.raises(ValueError, match=r"\[1, 2\*\*53\]"):
        check_weights([2**53 + 1], 1, integer=True)
    with pytest.raises(ValueError, match="weights has 1 entries but peers has 2"):
        check_weights([1], 2, of="peers")


def test_hashes_conversions():
    u32 = np.array([1, 2], dtype=np.uint32)
    assert check_hashes(u32).dtype == np.uint64
    assert check_hashes(u32, keep_width=True) is u32  # no copy
    i16 = np.array([[1, 2], [3, 4]], dtype=np.int16)
    flat = check_hashes(i16, flatten=True, keep_width=True)
    assert flat.dtype == np.uint16 and flat.tolist() == [1, 2, 3, 4]
    assert check_hashes([1, 2**64 - 1], sequences=True).tolist() == [1, 2**64 - 1]
    with pytest.raises(ValueError, match="must be 1-D"):
        check_hashes(i16)
    with pytest.raises(TypeError, match="numpy integer array, not list"):
        check_hashes([1, 2])
    with pytest.raises(TypeError, match="integer dtype, not bool"):
        check_hashes(np.array([True]))
    with pytest.raises(ValueError, match="non-negative, got -1"):
        check_hashes(np.array([3, -1]))
    with pytest.raises(ValueError, match=r"< 2\*\*32 here, got 4294967296"):
        check_hashes(np.array([2**32], dtype=np.uint64), bits=32, why=" here")
    with pytest.raises(ValueError, match=r"< 2\*\*32, got 18446744073709551615"):
        check_hashes([2**32, 2**64 - 1], bits=32, sequences=True)


def test_key_bytes():
    assert key_bytes("é") == "é".encode()
    assert key_bytes(memoryview(b"ab")) == b"ab"
    assert key_bytes(bytearray(b"ab")) == b"ab"
    with pytest.raises(TypeError, match="key is an integer: use f"):
        key_bytes(3, int_hint="use f")
    with pytest.raises(TypeError, match="key must be str or bytes, not int"):
        key_bytes(3)
