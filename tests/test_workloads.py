"""tuner.workloads: the built-ins' shapes, user workload loading, every bad input, the listing.

Costs are compared by counting work units, never by timing (the machine is shared).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import textwrap
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tuner
from tuner.workloads import (
    BUILTINS,
    DEFAULT_WORKLOAD,
    Workload,
    WorkloadError,
    builtin,
    from_function,
    get,
    load,
    names,
    resolve,
    workloads_main,
)

from .pool_helpers import WAIT_S

EXPECTED = ("cpu", "cpu-heavytail", "io", "mixed", "memory", "affinity")


def _args(workload: Workload, seed: int, n: int) -> list[tuple]:
    return [args for _key, args in workload.calls(seed, n)]


def _quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------------------------- registry


def test_registry_has_the_documented_workloads_and_default():
    assert names() == EXPECTED
    assert DEFAULT_WORKLOAD == "mixed"
    for name, workload in BUILTINS.items():
        assert workload.name == name
        assert workload.description and workload.stresses
        assert workload.trial_tasks > 0 and workload.warmup_tasks > 0
    assert [w.name for w in BUILTINS.values() if w.keyed] == ["affinity"]


def test_registry_and_records_are_read_only():
    with pytest.raises(TypeError):
        BUILTINS["mine"] = BUILTINS["cpu"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        BUILTINS["cpu"].trial_tasks = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", EXPECTED)
def test_builtin_functions_import_by_reference(name):
    # Workers unpickle the function by module and qualified name: that path must lead back.
    fn = get(name).fn
    assert fn.__module__ == "tuner.workloads.builtin"
    module_name, qualname = get(name).function_ref.split(":")
    assert getattr(importlib.import_module(module_name), qualname) is fn


def test_importing_the_task_module_stays_light():
    # Workers import tuner.workloads.builtin: it must add no numpy, numba, rich or zmq.
    code = (
        "import sys, tuner; before = set(sys.modules); import tuner.workloads.builtin; "
        "heavy = ('numpy', 'numba', 'rich', 'zmq', 'json', 'tuner.workloads.user'); "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy "
        "or m in heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT_S, check=True
    )
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "memory"])
@given(seed=st.integers(0, 2**63))
def test_builtin_inputs_are_deterministic_per_seed(name, seed):
    workload = get(name)
    first = list(workload.inputs(seed, 30))
    assert first == list(workload.inputs(seed, 30))
    assert len(first) == 30
    assert first != list(workload.inputs(seed + 1, 30))


def test_memory_inputs_are_deterministic_per_seed():
    workload = get("memory")
    for seed in (0, 1, 2**40):
        first = list(workload.inputs(seed, 4))
        assert first == list(workload.inputs(seed, 4))
        assert first != list(workload.inputs(seed + 1, 4))


@pytest.mark.parametrize("name", EXPECTED)
def test_builtin_streams_are_endless_without_n(name):
    items = list(itertools.islice(get(name).inputs(7), 3))
    assert len(items) == 3
    assert list(get(name).inputs(7, 0)) == []


@pytest.mark.parametrize("name", ["cpu", "cpu-heavytail"])
def test_cpu_tasks_run_and_are_deterministic(name):
    workload = get(name)
    for args in _args(workload, 3, 3):
        result = workload.fn(*args)
        assert isinstance(result, int) and 0 <= result < 2**31
        assert workload.fn(*args) == result


def test_cpu_sizes_are_uniform_within_ten_percent():
    units = [args[0] for args in _args(get("cpu"), 1, 2000)]
    low, high = builtin.CPU_UNITS * 0.9, builtin.CPU_UNITS * 1.1
    assert all(low <= u <= high for u in units)
    assert abs(statistics.mean(units) - builtin.CPU_UNITS) < 0.02 * builtin.CPU_UNITS


def test_heavytail_is_heavier_tailed_than_cpu():
    def tail_ratio(name):
        units = [args[0] for args in _args(get(name), 11, 5000)]
        return _quantile(units, 0.99) / _quantile(units, 0.5)

    cpu, heavy = tail_ratio("cpu"), tail_ratio("cpu-heavytail")
    assert cpu < 1.25
    # lognormal, sigma 1.2: p99 / p50 = exp(2.326 * 1.2), about 16
    assert 10 < heavy < 25
    units = [args[0] for args in _args(get("cpu-heavytail"), 11, 5000)]
    assert max(units) <= builtin.HEAVYTAIL_MAX_UNITS and min(units) >= 1
    median = _quantile(units, 0.5)
    assert 0.9 < median / builtin.HEAVYTAIL_MEDIAN_UNITS < 1.1


def test_io_task_waits_in_range_with_little_cpu():
    workload = get("io")
    items = _args(workload, 5, 500)
    low, high = builtin.IO_WAIT_MS
    assert all(low <= wait <= high for wait, _units, _state in items)
    assert all(units == builtin.IO_CPU_UNITS for _wait, units, _state in items)
    for args in items[:3]:
        assert workload.fn(*args) == builtin.spin(args[1], args[2])


def test_mixed_task_has_cpu_and_wait():
    workload = get("mixed")
    items = _args(workload, 5, 500)
    assert all(
        builtin.MIXED_CPU_UNITS // 2 <= units <= builtin.MIXED_CPU_UNITS * 3 // 2
        for units, _wait, _state in items
    )
    low, high = builtin.MIXED_WAIT_MS
    assert all(low <= wait <= high for _units, wait, _state in items)
    for args in items[:3]:
        assert workload.fn(*args) == builtin.spin(args[0], args[2])


def test_memory_payloads_are_large_in_and_out():
    workload = get("memory")
    items = _args(workload, 9, 40)
    for payload, out_bytes in items:
        assert isinstance(payload, bytes)
        assert builtin.MEMORY_MIN_BYTES <= len(payload) <= builtin.MEMORY_MAX_BYTES
        assert builtin.MEMORY_MIN_BYTES <= out_bytes <= builtin.MEMORY_MAX_BYTES
    for payload, out_bytes in items[:3]:
        result = workload.fn(payload, out_bytes)
        assert isinstance(result, bytes) and len(result) == out_bytes
        assert result[:4] == zlib.crc32(payload).to_bytes(4, "little")
        assert workload.fn(payload, out_bytes) == result


@given(size=st.integers(0, 64), out=st.integers(0, 200))
def test_memory_task_returns_exactly_the_requested_size(size, out):
    assert len(builtin.memory_task(bytes(range(size)), out)) == out


@pytest.fixture
def empty_affinity_cache():
    builtin.clear_affinity_cache()
    yield
    builtin.clear_affinity_cache()


def test_affinity_warm_call_costs_fewer_units_than_cold(empty_affinity_cache):
    workload = get("affinity")
    key, args = next(workload.inputs(1, 1))
    assert args[0] == key
    cold_value, cold_units = workload.fn(*args)
    warm_value, warm_units = workload.fn(*args)
    assert cold_units == builtin.AFFINITY_BUILD_UNITS + builtin.AFFINITY_LOOKUP_UNITS
    assert warm_units == builtin.AFFINITY_LOOKUP_UNITS
    assert cold_units >= 5 * warm_units
    assert cold_value == warm_value  # a cache changes the cost, never the answer


def test_affinity_cache_is_bounded_lru(empty_affinity_cache, monkeypatch):
    monkeypatch.setattr(builtin, "spin", lambda units, state=1: state)  # count, don't compute
    size = builtin.AFFINITY_CACHE_SIZE
    for i in range(size):
        builtin.affinity_task(f"k{i}", 1)
    assert builtin.affinity_task("k0", 1)[1] == 1  # still warm; now most recently used
    builtin.affinity_task("new", 1)  # evicts the least recently used: k1
    assert builtin.affinity_task("k0", 1)[1] == 1
    assert builtin.affinity_task("k1", 1)[1] > 1


def test_affinity_keys_are_skewed_and_bounded():
    keys = [key for key, _args in get("affinity").inputs(2, 5000)]
    counts = sorted((keys.count(k) for k in set(keys)), reverse=True)
    assert len(counts) <= builtin.AFFINITY_KEYS
    assert counts[0] > 5 * counts[len(counts) // 2]  # Zipf: a hot head, a long tail


def _units_spent(workers: int, route, monkeypatch) -> int:
    # Simulate `workers` processes, each with its own cache, by swapping the module's cache.
    monkeypatch.setattr(builtin, "spin", lambda units, state=1: state)
    caches = [builtin._AFFINITY_CACHE.__class__() for _ in range(workers)]
    total = 0
    for i, (key, args) in enumerate(get("affinity").inputs(4, 3000)):
        monkeypatch.setattr(builtin, "_AFFINITY_CACHE", caches[route(i, key)])
        total += builtin.affinity_task(*args)[1]
    return total


@pytest.mark.parametrize("workers", [2, 4])
def test_affinity_rewards_routing_by_key(workers, monkeypatch):
    by_key = _units_spent(workers, lambda _i, key: zlib.crc32(key.encode()) % workers, monkeypatch)
    scattered = _units_spent(workers, lambda i, _key: i % workers, monkeypatch)
    assert by_key < 0.75 * scattered


# ---------------------------------------------------------------------------------- record


def test_calls_pairs_keys_and_args():
    cpu, affinity = get("cpu"), get("affinity")
    assert list(cpu.calls(1, 3)) == [(None, args) for args in cpu.inputs(1, 3)]
    assert list(affinity.calls(1, 3)) == list(affinity.inputs(1, 3))


@pytest.mark.parametrize("n", [-1, 1.5, "3", True])
def test_bad_n_is_rejected(n):
    with pytest.raises(WorkloadError, match="n must be"):
        get("cpu").inputs(0, n)


def test_bad_seed_is_rejected():
    with pytest.raises(WorkloadError, match="seed must be an integer"):
        get("cpu").inputs("0")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- names


def test_workload_error_is_a_tuner_error_and_a_value_error():
    assert issubclass(WorkloadError, tuner.TunerError)
    assert issubclass(WorkloadError, ValueError)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("cpu_heavytail", "cpu-heavytail"), ("mixd", "mixed"), ("Memory", "memory")],
)
def test_unknown_name_suggests_the_closest(name, suggestion):
    with pytest.raises(WorkloadError) as info:
        get(name)
    message = str(info.value)
    assert f"unknown workload {name!r}" in message
    assert f"Did you mean {suggestion!r}" in message
    assert all(n in message for n in EXPECTED)


@pytest.mark.parametrize("name", ["zzzzzz", "", None, 3])
def test_unknown_name_without_suggestion(name):
    with pytest.raises(WorkloadError, match="unknown workload") as info:
        get(name)  # type: ignore[arg-type]
    assert "Did you mean" not in str(info.value)


def test_resolve_takes_a_builtin_name_or_module_function(user_module):
    assert resolve("io") is BUILTINS["io"]
    name = user_module("def task(x):\n    return x\n\ndef gen():\n    yield 1\n")
    workload = resolve(f"{name}:task", f"{name}:gen")
    assert workload.name == f"{name}:task"
    with pytest.raises(WorkloadError, match="makes its own inputs"):
        resolve("io", f"{name}:gen")
    with pytest.raises(WorkloadError, match="unknown workload"):
        resolve("nope")


# ---------------------------------------------------------------------------------- user


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write a module into tmp_path (on sys.path); returns its (unique) name."""
    counter = itertools.count()
    made = []

    def make(source: str) -> str:
        name = f"wl_user_{os.getpid()}_{id(tmp_path)}_{next(counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        made.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in made:
        sys.modules.pop(name, None)


TASKS = """
def add(x, y=0):
    return x + y

def echo(*args):
    return args

def gen():
    yield (1, 2)
    yield 3
    yield [4, 5]
    yield {"a": 1}

def gen_seeded(seed):
    for i in range(3):
        yield (seed, i)

def gen_kwargs(**kw):
    yield (kw.get("seed"),)

def gen_list():
    return [(1,), (2,)]

class Box:
    @staticmethod
    def task(x):
        return x
"""


def test_load_generator_tuple_is_args_anything_else_one_argument(user_module):
    name = user_module(TASKS)
    workload = load(f"{name}:echo", inputs=f"{name}:gen")
    items = list(workload.inputs())
    assert items == [(1, 2), (3,), ([4, 5],), ({"a": 1},)]
    assert [workload.fn(*args) for args in items] == items
    assert not workload.keyed and workload.trial_tasks is None
    assert workload.function_ref == f"{name}:echo"


def test_load_generator_gets_the_seed_when_it_asks(user_module):
    name = user_module(TASKS)
    assert list(load(f"{name}:echo", f"{name}:gen_seeded").inputs(9)) == [
        (9, 0),
        (9, 1),
        (9, 2),
    ]
    assert list(load(f"{name}:echo", f"{name}:gen_kwargs").inputs(5)) == [(5,)]


def test_load_generator_is_restarted_to_give_n_items(user_module):
    name = user_module(TASKS)
    workload = load(f"{name}:add", f"{name}:gen_list")
    assert list(workload.inputs(0, 5)) == [(1,), (2,), (1,), (2,), (1,)]
    assert [workload.fn(*args) for args in workload.inputs(0, 2)] == [1, 2]


def test_load_dotted_attribute(user_module):
    name = user_module(TASKS)
    assert load(f"{name}:Box.task", f"{name}:gen").fn(7) == 7


def test_load_jsonl_list_is_args_anything_else_one_argument(user_module, tmp_path):
    name = user_module(TASKS)
    data = tmp_path / "data.jsonl"
    data.write_text('[1, 2]\n\n{"a": [1]}\n"text"\n7\nnull\n[[1, 2]]\n')
    workload = load(f"{name}:echo", str(data))
    assert list(workload.inputs()) == [(1, 2), ({"a": [1]},), ("text",), (7,), (None,), ([1, 2],)]
    assert len(list(workload.inputs(0, 14))) == 14
    assert "6 lines" in workload.description


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


@given(values=st.lists(json_values, min_size=1, max_size=8))
def test_jsonl_property_lists_are_args_everything_else_one_argument(values):
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "in.jsonl"
        path.write_text("".join(json.dumps(v) + "\n" for v in values))
        workload = load("tests.pool_helpers:add", str(path))
        expected = [tuple(v) if isinstance(v, list) else (v,) for v in values]
        assert list(workload.inputs()) == expected


@given(items=st.lists(st.one_of(st.integers(), st.tuples(st.integers()), st.lists(st.none()))))
def test_from_function_property_tuples_are_args(items):
    if not items:
        with pytest.raises(WorkloadError, match="no inputs"):
            from_function(tuner.workloads.builtin.cpu_task, items)
        return
    workload = from_function(tuner.workloads.builtin.cpu_task, items)
    expected = [i if isinstance(i, tuple) else (i,) for i in items]
    assert list(workload.inputs()) == expected
    assert list(workload.inputs(0, 2 * len(items))) == expected * 2


def test_from_function_with_a_one_shot_iterator_and_a_factory():
    fn = tuner.workloads.builtin.cpu_task
    workload = from_function(fn, iter([(1, 2), (3, 4)]))
    assert list(workload.inputs(0, 3)) == [(1, 2), (3, 4), (1, 2)]
    workload = from_function(fn, lambda: ((i, i) for i in range(2)), name="mine")
    assert workload.name == "mine"
    assert list(workload.inputs(0, 3)) == [(0, 0), (1, 1), (0, 0)]


def test_module_is_imported_from_the_working_directory(tmp_path, monkeypatch):
    name = f"wl_cwd_{os.getpid()}"
    (tmp_path / f"{name}.py").write_text("def task(x):\n    return x\n")
    (tmp_path / "in.jsonl").write_text("1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        workload = load(f"{name}:task", "in.jsonl")
        assert workload.fn(5) == 5
        assert str(tmp_path) in sys.path
    finally:
        sys.modules.pop(name, None)


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("spec", ["nocolon", "a:b:c", ":fn", "mod:", "mod:1bad", "my mod:fn", ""])
def test_malformed_spec(spec):
    with pytest.raises(WorkloadError, match="is not of the form 'module:function'"):
        load(spec, "x.jsonl")


def test_module_not_importable_names_module_and_error():
    with pytest.raises(WorkloadError) as info:
        load("wl_no_such_module_xyz:task", "x.jsonl")
    message = str(info.value)
    assert "'wl_no_such_module_xyz'" in message and "No module named" in message
    assert isinstance(info.value.__cause__, ImportError)


def test_module_raising_on_import(user_module):
    name = user_module("raise RuntimeError('boom at import')\n")
    with pytest.raises(WorkloadError, match="boom at import") as info:
        load(f"{name}:task", "x.jsonl")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_attribute_missing_lists_what_the_module_has(user_module):
    name = user_module(TASKS)
    with pytest.raises(WorkloadError, match="has no attribute 'tsak'") as info:
        load(f"{name}:tsak", "x.jsonl")
    assert "add" in str(info.value)
    with pytest.raises(WorkloadError, match="has no attribute 'nope'"):
        load(f"{name}:add", f"{name}:nope")


def test_not_callable(user_module):
    name = user_module("CONSTANT = 3\ndef gen():\n    yield 1\n")
    with pytest.raises(WorkloadError, match="is a int, not a function"):
        load(f"{name}:CONSTANT", f"{name}:gen")


def test_main_module_is_refused_with_the_reason():
    with pytest.raises(WorkloadError, match="__main__") as info:
        load("__main__:task", "x.jsonl")
    assert "import the task function by reference" in str(info.value)

    def task(x):
        return x

    task.__module__ = "__main__"
    with pytest.raises(WorkloadError, match="defined in __main__"):
        from_function(task, [1])


def test_lambda_and_nested_functions_are_refused(user_module):
    name = user_module("task = lambda x: x\ndef gen():\n    yield 1\n")
    with pytest.raises(WorkloadError, match="lambda"):
        load(f"{name}:task", f"{name}:gen")

    def nested(x):
        return x

    with pytest.raises(WorkloadError, match="module level"):
        from_function(nested, [1])
    with pytest.raises(WorkloadError, match="not a function"):
        from_function(3, [1])  # type: ignore[arg-type]


def test_missing_inputs(user_module):
    name = user_module(TASKS)
    with pytest.raises(WorkloadError, match="needs inputs: --inputs"):
        load(f"{name}:add")
    with pytest.raises(WorkloadError, match="does not exist"):
        load(f"{name}:add", "no-such-file.jsonl")
    with pytest.raises(WorkloadError, match="does not exist"):
        load(f"{name}:add", "neither a file nor a spec")


def test_inputs_directory(user_module, tmp_path):
    name = user_module(TASKS)
    with pytest.raises(WorkloadError, match="is a directory"):
        load(f"{name}:add", str(tmp_path))


def test_inputs_file_unreadable(user_module, tmp_path, monkeypatch):
    name = user_module(TASKS)
    data = tmp_path / "locked.jsonl"
    data.write_text("1\n")

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pathlib.Path, "open", refuse)  # chmod does not stop root
    with pytest.raises(WorkloadError, match=r"cannot read inputs file .*Permission denied") as info:
        load(f"{name}:add", str(data))
    assert isinstance(info.value.__cause__, PermissionError)


def test_inputs_file_not_utf8(user_module, tmp_path):
    name = user_module(TASKS)
    data = tmp_path / "bin.jsonl"
    data.write_bytes(b"1\n\xff\xfe\n")
    with pytest.raises(WorkloadError, match="not UTF-8"):
        load(f"{name}:add", str(data))


def test_bad_json_line_names_file_and_line(user_module, tmp_path):
    name = user_module(TASKS)
    data = tmp_path / "bad.jsonl"
    data.write_text("[1, 2]\n\n{oops}\n3\n")
    with pytest.raises(WorkloadError) as info:
        load(f"{name}:add", str(data))
    message = str(info.value)
    assert "bad.jsonl" in message and "line 3" in message
    assert isinstance(info.value.__cause__, json.JSONDecodeError)


@pytest.mark.parametrize("text", ["", "\n  \n\n"])
def test_empty_inputs_file(user_module, tmp_path, text):
    name = user_module(TASKS)
    data = tmp_path / "empty.jsonl"
    data.write_text(text)
    with pytest.raises(WorkloadError, match="has no inputs"):
        load(f"{name}:add", str(data))


def test_empty_generator(user_module):
    name = user_module("def task(x):\n    return x\ndef gen():\n    return iter(())\n")
    with pytest.raises(WorkloadError, match="yielded no inputs"):
        load(f"{name}:task", f"{name}:gen")


def test_generator_raising_at_once_is_wrapped_with_cause(user_module):
    name = user_module(
        "def task(x):\n    return x\n"
        "def gen():\n    raise KeyError('missing setting')\n    yield 1\n"
    )
    with pytest.raises(WorkloadError, match="raised KeyError at item 0") as info:
        load(f"{name}:task", f"{name}:gen")
    assert isinstance(info.value.__cause__, KeyError)


def test_generator_raising_later_is_wrapped_with_cause(user_module):
    name = user_module(
        "def task(x):\n    return x\n"
        "def gen():\n    yield 1\n    yield 2\n    raise OSError('disk gone')\n"
    )
    workload = load(f"{name}:task", f"{name}:gen")
    stream = workload.inputs(0, 10)
    assert [next(stream), next(stream)] == [(1,), (2,)]
    with pytest.raises(WorkloadError, match="raised OSError at item 2: disk gone") as info:
        next(stream)
    assert isinstance(info.value.__cause__, OSError)


def test_generator_needing_arguments(user_module):
    name = user_module("def task(x):\n    return x\ndef gen(path):\n    yield path\n")
    with pytest.raises(WorkloadError, match="called with no arguments, raised TypeError"):
        load(f"{name}:task", f"{name}:gen")


def test_from_function_factory_raising():
    def factory():
        raise ValueError("no data")

    with pytest.raises(WorkloadError, match="raised ValueError: no data") as info:
        from_function(tuner.workloads.builtin.cpu_task, factory)
    assert isinstance(info.value.__cause__, ValueError)


# ---------------------------------------------------------------------------------- listing


def test_listing_prints_every_workload(capsys):
    assert workloads_main([]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED:
        assert name in out
    assert "module:function" in out or "mymodule:task" in out


def test_listing_json(capsys):
    assert workloads_main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list(EXPECTED)
    assert [row["name"] for row in rows if row["default"]] == [DEFAULT_WORKLOAD]
    assert all(row["trial_tasks"] > 0 for row in rows)


def test_listing_usage(capsys):
    assert workloads_main(["--help"]) == 0
    assert "python -m tuner workloads" in capsys.readouterr().out
    assert workloads_main(["--bogus"]) == 2


# ---------------------------------------------------------------------------------- real pool


def test_builtin_runs_in_a_real_pool():
    workload = get("cpu")
    items = _args(workload, 21, 12)
    expected = [workload.fn(*args) for args in items]
    with tuner.WorkerPool(max_workers=2) as pool:
        results = list(pool.map(workload.fn, *zip(*items, strict=True), timeout=WAIT_S))
    assert results == expected


def test_keyed_and_user_workloads_run_in_a_real_pool(user_module, tmp_path):
    # The user module is found by workers because the pool passes sys.path on to them.
    name = user_module("def square(x):\n    return x * x\n")
    data = tmp_path / "in.jsonl"
    data.write_text("".join(f"{i}\n" for i in range(6)))
    user = load(f"{name}:square", str(data))
    affinity = get("affinity")
    with tuner.WorkerPool(max_workers=2, balancer="consistent_hash") as pool:
        squares = [pool.submit(user.fn, *args) for args in user.inputs()]
        keyed = [
            (args, pool.submit_keyed(key, affinity.fn, *args))
            for key, args in affinity.inputs(3, 8)
        ]
        assert [f.result(WAIT_S) for f in squares] == [i * i for i in range(6)]
        builtin.clear_affinity_cache()
        for args, future in keyed:
            value, units = future.result(WAIT_S)
            assert value == affinity.fn(*args)[0]
            assert units in (
                builtin.AFFINITY_LOOKUP_UNITS,
                builtin.AFFINITY_LOOKUP_UNITS + builtin.AFFINITY_BUILD_UNITS,
            )
    builtin.clear_affinity_cache()


def test_load_accepts_a_path_object(user_module, tmp_path):
    name = user_module(TASKS)
    data = tmp_path / "in.jsonl"
    data.write_text("[1, 2]\n")
    assert list(load(f"{name}:add", data).inputs()) == [(1, 2)]


def test_docs_table_lists_every_builtin_with_its_trial_size():
    docs = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "workloads.md").read_text()
    for workload in BUILTINS.values():
        rows = [line for line in docs.splitlines() if line.startswith(f"| `{workload.name}` ")]
        assert rows, f"docs/workloads.md has no row for {workload.name}"
        assert f"{workload.warmup_tasks:,} + {workload.trial_tasks:,}" in rows[0]
