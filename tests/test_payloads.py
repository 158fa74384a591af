"""tuner.payloads: packed functions, blocks of calls and their per-call outcomes."""

from __future__ import annotations

import pickle
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner import payloads
from tuner.errors import RemoteTraceback, SerializationError
from tuner.pool._map import MapBlock, MapGroup, MapSlot


def double(x):
    return 2 * x


def fail_on_3(x):
    if x == 3:
        raise ValueError("three")
    return x


args_lists = st.lists(st.tuples(st.integers(-(2**40), 2**40)), min_size=1, max_size=30)


@given(args_lists)
def test_a_block_round_trips_and_runs_each_call(calls):
    packed = payloads.pack_function(double)
    data = payloads.dumps_packed_block(packed, calls)
    fn, got, kwargs = payloads.loads_task(data, "cloudpickle", payloads.FunctionCache())
    assert kwargs is None and got == calls
    assert [fn(*a) for a in got] == [2 * a[0] for a in calls]


@given(st.tuples(st.integers()), st.dictionaries(st.sampled_from("abc"), st.integers()))
def test_a_packed_call_loads_like_a_plain_call(args, kwargs):
    packed = payloads.pack_function(double)
    data = payloads.dumps_packed_call(packed, args, kwargs)
    assert payloads.loads_call(data) == (double, args, kwargs)
    plain = payloads.dumps_call(double, args, kwargs)
    assert payloads.loads_call(plain) == (double, args, kwargs)


def test_lambdas_are_packed_once_and_cached_by_their_bytes():
    offset = 5
    packed = payloads.pack_function(lambda x: x + offset)
    cache = payloads.FunctionCache(size=2)
    first = payloads.loads_task(payloads.dumps_packed_call(packed, (1,), {}), "cloudpickle", cache)
    again = payloads.loads_task(payloads.dumps_packed_call(packed, (2,), {}), "cloudpickle", cache)
    assert first[0] is again[0] and len(cache) == 1
    assert again[0](*again[1]) == 7


def test_the_function_cache_drops_the_least_recently_used():
    cache = payloads.FunctionCache(size=2)
    blobs = [pickle.dumps(f) for f in (double, fail_on_3, len)]
    for blob in blobs:
        cache.get(blob, "pickle")
    assert len(cache) == 2
    cache.get(blobs[0], "pickle")  # unpickled again: it was evicted
    assert len(cache) == 2


def test_an_unpicklable_argument_is_named():
    packed = payloads.pack_function(double)
    with pytest.raises(SerializationError, match="argument 0"):
        payloads.dumps_packed_call(packed, (threading.Lock(),), {})
    with pytest.raises(SerializationError, match="block of 2 calls"):
        payloads.dumps_packed_block(packed, [(1,), (threading.Lock(),)])


def test_an_unpicklable_function_is_refused_at_packing():
    lock = threading.Lock()
    with pytest.raises(SerializationError, match="function"):
        payloads.pack_function(lambda: lock)
    with pytest.raises(TypeError, match="not callable"):
        payloads.pack_function(42)


@pytest.mark.parametrize(
    "bad",
    [
        (b"not a pickle", [(1,)]),  # function bytes that do not unpickle
        (pickle.dumps(double), [1, 2]),  # calls that are not tuples
        (pickle.dumps(double), (1,), {}, "extra"),
        (42, (1,), {}),  # not callable
    ],
)
def test_malformed_task_payloads_raise_serialization_errors(bad):
    with pytest.raises(SerializationError):
        payloads.loads_task(pickle.dumps(bad), "cloudpickle", payloads.FunctionCache())


def _block_outcomes(values):
    """Run calls like a worker, pack their outcomes, settle a MapBlock like the broker."""
    outcomes = []
    for x in values:
        try:
            outcomes.append((True, fail_on_3(x)))
        except BaseException as exc:
            outcomes.append((False, exc))
    data = payloads.pack_outcomes(outcomes, "cloudpickle")
    group = MapGroup()
    slots = [MapSlot(group) for _ in values]
    block = MapBlock(slots, [(x,) for x in values], payloads.pack_function(fail_on_3))
    assert block.set_running_or_notify_cancel()
    failed = block.set_result(pickle.loads(data))
    return slots, failed


@given(st.lists(st.integers(0, 6), min_size=1, max_size=20))
def test_each_call_of_a_block_gets_its_own_outcome(values):
    slots, failed = _block_outcomes(values)
    assert failed == values.count(3)
    for x, slot in zip(values, slots, strict=True):
        if x == 3:
            with pytest.raises(ValueError, match="three") as info:
                slot.result(None)
            assert isinstance(info.value.__cause__, RemoteTraceback)
        else:
            assert slot.result(None) == x


def test_an_unpicklable_value_fails_only_its_call():
    data = payloads.pack_outcomes([(True, 1), (True, threading.Lock()), (True, 3)], "pickle")
    items = pickle.loads(data)
    assert items[0] == (0, 1) and items[2] == (0, 3)
    assert items[1][0] == 1 and b"return value of call 1" in items[1][1]


def test_a_malformed_block_result_fails_every_call():
    group = MapGroup()
    slots = [MapSlot(group) for _ in range(3)]
    block = MapBlock(slots, [(1,), (2,), (3,)], payloads.pack_function(double))
    block.set_running_or_notify_cancel()
    assert block.set_result([(0, 1)]) == 3  # wrong length
    for slot in slots:
        with pytest.raises(SerializationError, match="malformed block results"):
            slot.result(None)
