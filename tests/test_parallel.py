"""The package-wide ``parallel=`` policy (kernels._parallel): one reading everywhere."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from kernels import _parallel
from kernels._parallel import PARALLEL_MIN, run_maybe_parallel, use_parallel
from kernels.jump import jump_hash, jump_hash_keys
from kernels.rendezvous import Rendezvous
from kernels.ring import HashRing


def test_use_parallel_reads_false_none_true_the_same_way():
    assert use_parallel(False, 10**9) is False
    assert use_parallel(True, 0) is True
    assert use_parallel(None, PARALLEL_MIN - 1) is False
    assert use_parallel(None, PARALLEL_MIN) is True
    assert use_parallel(None, 99, min_n=100) is False
    assert use_parallel(None, 100, min_n=100) is True


def test_forked_after_openmp_always_runs_serially(monkeypatch):
    monkeypatch.setattr(_parallel, "_FORKED_AFTER_OMP", True)
    assert use_parallel(True, 10**9) is False
    assert use_parallel(None, 10**9) is False


def test_run_maybe_parallel_picks_the_kernel():
    calls = []
    run_maybe_parallel(lambda x: calls.append(("serial", x)), lambda x: calls.append(("par", x)),
                       False, 1)  # fmt: skip
    assert calls == [("serial", 1)]


@pytest.mark.parametrize(
    "fn",
    [
        jump_hash,
        jump_hash_keys,
        HashRing.lookup,
        HashRing.lookup_names,
        HashRing.lookup_hashes,
        Rendezvous.lookup,
        Rendezvous.lookup_hashes,
    ],
)
def test_every_parallel_argument_defaults_to_serial(fn):
    assert inspect.signature(fn).parameters["parallel"].default is False


def test_ring_auto_parallel_agrees_with_serial():
    ring = HashRing([f"n{i}" for i in range(20)])
    hashes = np.random.default_rng(3).integers(0, 2**64, PARALLEL_MIN + 5, dtype=np.uint64)
    serial = ring.lookup_hashes(hashes)
    assert np.array_equal(ring.lookup_hashes(hashes, parallel=None), serial)
    keys = [f"k{i}" for i in range(PARALLEL_MIN + 5)]
    assert np.array_equal(ring.lookup(keys, parallel=None), ring.lookup(keys))
