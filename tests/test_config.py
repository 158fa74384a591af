"""tuner.config: every knob validates against its one declaration, and the search space agrees."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner import payloads, wire
from tuner.config import (
    BALANCERS,
    DEFAULT_MAX_WORKERS,
    Knob,
    PoolConfig,
    parse_endpoint,
)
from tuner.errors import ConfigError, TunerError

KNOBS = PoolConfig.knobs()
NUMERIC = [k for k in KNOBS if k.kind in ("int", "float")]
CHOICE = [k for k in KNOBS if k.kind == "choice"]


def _valid_values(knob: Knob) -> st.SearchStrategy:
    """Values inside the declared valid range, drawn independently of ``Knob.validate``."""
    if knob.kind == "int":
        return st.integers(knob.low, knob.high)
    if knob.kind == "float":
        return st.floats(knob.low, knob.high, allow_nan=False)
    if knob.kind == "choice":
        return st.sampled_from(knob.choices)
    if knob.kind == "path":
        return st.text(st.characters(blacklist_characters="\0"), min_size=1, max_size=20)
    if knob.kind == "endpoint":
        return st.sampled_from(["ipc:///tmp/pool.sock", "ipc://*", "tcp://127.0.0.1:0"])
    raise AssertionError(knob.kind)


def _out_of_range(knob: Knob) -> st.SearchStrategy:
    if knob.kind == "int":
        return st.integers(max_value=knob.low - 1) | st.integers(min_value=knob.high + 1)
    below = st.floats(max_value=knob.low, exclude_max=True, allow_nan=False)
    above = st.floats(min_value=knob.high, exclude_min=True, allow_nan=False)
    return below | above | st.just(math.nan)


# -- every knob: declaration, default, valid values, invalid values ---------------------------


def test_knobs_are_exactly_the_fields_in_order():
    assert [k.name for k in KNOBS] == [f.name for f in dataclasses.fields(PoolConfig)]
    assert {k.name for k in KNOBS} == {
        "max_workers", "balancer", "batch_size", "prefetch", "max_retries",
        "heartbeat_interval_s", "heartbeat_liveness", "queue_size", "on_full", "serializer",
        "worker_weights", "balance_factor", "max_message_bytes", "bind", "curve_keys_dir",
    }  # fmt: skip
    for knob in KNOBS:
        assert knob.doc, knob.name
        assert knob.validate(knob.default) == knob.default, knob.name


def test_defaults_are_the_documented_ones():
    cfg = PoolConfig()
    assert cfg == PoolConfig.from_kwargs()
    assert cfg.max_workers == DEFAULT_MAX_WORKERS >= 1
    # prefetch is a cap: the window in use adapts below it to the measured task time
    assert (cfg.balancer, cfg.batch_size, cfg.prefetch, cfg.max_retries) == (
        "power_of_two", 1, 256, 2,
    )  # fmt: skip
    assert (cfg.heartbeat_interval_s, cfg.heartbeat_liveness) == (1.0, 3)
    assert (cfg.queue_size, cfg.on_full, cfg.serializer) == (0, "block", "cloudpickle")
    assert cfg.balance_factor == 1.25 and cfg.worker_weights is None
    assert cfg.max_message_bytes == 64 * 2**20
    assert (cfg.bind, cfg.curve_keys_dir) == (None, None)
    assert set(BALANCERS) == {
        "random", "round_robin", "weighted_round_robin", "least_outstanding",
        "power_of_two", "consistent_hash", "bounded_load_hash", "pull",
    }  # fmt: skip


def test_ranges_match_the_wire_limits():
    assert PoolConfig.knob("batch_size").high == wire.MAX_BATCH_TASKS
    assert PoolConfig.knob("prefetch").high == wire.MAX_CREDIT
    # attempts count from 0, so the last allowed attempt must fit in the wire's field
    assert PoolConfig.knob("max_retries").high < wire.MAX_ATTEMPT
    assert PoolConfig.knob("heartbeat_liveness").high == wire.MAX_HEARTBEAT_LIVENESS
    mmb = PoolConfig.knob("max_message_bytes")
    assert (mmb.low, mmb.high) == (wire.MIN_MESSAGE_BYTES, wire.MAX_MESSAGE_BYTES)
    assert PoolConfig.knob("serializer").choices == payloads.SERIALIZERS
    # a WELCOME built from any valid config is a valid message
    lo = PoolConfig(heartbeat_interval_s=0.01, heartbeat_liveness=1, prefetch=1)
    for cfg in (PoolConfig(), lo):
        wire.Welcome(
            cfg.prefetch,
            cfg.heartbeat_interval_s,
            cfg.heartbeat_liveness,
            cfg.max_message_bytes,
            cfg.serializer,
        )


@pytest.mark.parametrize("knob", [k for k in KNOBS if k.kind != "weights"], ids=lambda k: k.name)
@given(data=st.data())
def test_every_valid_value_constructs(knob, data):
    value = data.draw(_valid_values(knob))
    cfg = PoolConfig.from_kwargs(**{knob.name: value})
    assert getattr(cfg, knob.name) == value


@pytest.mark.parametrize("knob", NUMERIC, ids=lambda k: k.name)
@given(data=st.data())
def test_every_out_of_range_number_raises_naming_the_knob(knob, data):
    value = data.draw(_out_of_range(knob))
    with pytest.raises(ConfigError) as info:
        PoolConfig.from_kwargs(**{knob.name: value})
    err = info.value
    assert err.knob == knob.name
    assert str(err).startswith(knob.name)
    assert f"{knob.low}..{knob.high}" in str(err) and repr(value) in str(err)
    assert isinstance(err, ValueError) and isinstance(err, TunerError)


@pytest.mark.parametrize("knob", CHOICE, ids=lambda k: k.name)
@given(value=st.text(max_size=20))
def test_every_unknown_choice_raises_naming_the_knob(knob, value):
    if value in knob.choices:
        assert PoolConfig.from_kwargs(**{knob.name: value})
        return
    with pytest.raises(ConfigError, match=f"^{knob.name} ") as info:
        PoolConfig.from_kwargs(**{knob.name: value})
    assert info.value.knob == knob.name and info.value.value == value


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.name)
@pytest.mark.parametrize("value", [True, "3", b"x", 1.5j, [object()], {}])
def test_wrong_types_raise_naming_the_knob(knob, value):
    if knob.kind == "path" and value == "3":  # a fine relative path
        assert getattr(PoolConfig.from_kwargs(**{knob.name: value}), knob.name) == "3"
        return
    with pytest.raises(ConfigError) as info:
        PoolConfig.from_kwargs(**{knob.name: value})
    assert info.value.knob == knob.name


def test_none_only_where_nullable():
    for knob in KNOBS:
        if knob.name == "max_workers":
            continue  # None means "the default", as in ProcessPoolExecutor
        if knob.nullable:
            assert getattr(PoolConfig.from_kwargs(**{knob.name: None}), knob.name) is None
        else:
            with pytest.raises(ConfigError, match=knob.name):
                PoolConfig.from_kwargs(**{knob.name: None})


def test_max_workers_behaves_like_process_pool_executor():
    for bad in (0, -1, -(2**70)):
        with pytest.raises(ValueError, match=r"max_workers must be greater than 0"):
            PoolConfig(max_workers=bad)
    assert PoolConfig(max_workers=None).max_workers == DEFAULT_MAX_WORKERS
    assert PoolConfig(max_workers=1024).max_workers == 1024
    with pytest.raises(ConfigError, match=r"max_workers must be at most 1024"):
        PoolConfig(max_workers=1025)


def test_numpy_numbers_are_normalised_to_python_types():
    cfg = PoolConfig(max_workers=np.int64(3), balance_factor=np.float32(1.5))
    assert type(cfg.max_workers) is int and cfg.max_workers == 3
    assert type(cfg.balance_factor) is float and cfg.balance_factor == 1.5
    assert type(PoolConfig(heartbeat_interval_s=2).heartbeat_interval_s) is float
    with pytest.raises(ConfigError, match=r"batch_size must be an integer"):
        PoolConfig(batch_size=2.0)


def test_there_is_no_start_method_knob():
    # Workers always start as fresh interpreters (python -m tuner worker): forking a process
    # that holds a ZeroMQ context is unsafe, and a knob that changed nothing would lie.
    with pytest.raises(ConfigError, match="start_method"):
        PoolConfig.from_kwargs(start_method="fork")


def test_choice_typo_gets_a_suggestion():
    with pytest.raises(ConfigError, match=r"did you mean 'round_robin'"):
        PoolConfig(balancer="roundrobin")
    with pytest.raises(ConfigError, match=r"did you mean 'cloudpickle'"):
        PoolConfig(serializer="cloudpickel")


# -- worker_weights -----------------------------------------------------------------------------


@given(
    weights=st.lists(
        st.floats(min_value=1e-9, max_value=1e6, allow_nan=False) | st.integers(1, 10**6),
        min_size=1,
        max_size=16,
    )
)
def test_worker_weights_one_positive_weight_per_worker(weights):
    cfg = PoolConfig(max_workers=len(weights), worker_weights=weights)
    assert cfg.worker_weights == tuple(float(w) for w in weights)
    assert isinstance(cfg.worker_weights, tuple)
    with pytest.raises(ConfigError, match=r"one weight per local worker") as info:
        PoolConfig(max_workers=len(weights) + 1, worker_weights=weights)
    assert info.value.knob == "worker_weights"


@pytest.mark.parametrize(
    "weights", [[], [0.0], [-1.0], [math.inf], [math.nan], [1e7], [True], ["1"], "11", (1, None)]
)
def test_worker_weights_rejected(weights):
    with pytest.raises(ConfigError, match=r"^worker_weights"):
        PoolConfig(max_workers=max(1, len(weights)), worker_weights=weights)


# -- bind endpoints -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "loopback", "host", "port"),
    [
        ("tcp://127.0.0.1:0", True, "127.0.0.1", 0),
        ("tcp://127.1.2.3:5555", True, "127.1.2.3", 5555),
        ("tcp://localhost:*", True, "localhost", None),
        ("tcp://[::1]:65535", True, "::1", 65535),
        ("tcp://*:5555", False, "*", 5555),
        ("tcp://0.0.0.0:0", False, "0.0.0.0", 0),
        ("tcp://[::]:1", False, "::", 1),
        ("tcp://10.0.0.7:9000", False, "10.0.0.7", 9000),
        ("tcp://eth0:9000", False, "eth0", 9000),
        ("tcp://pool.example.org:9000", False, "pool.example.org", 9000),
    ],
)
def test_tcp_endpoints_parse(text, loopback, host, port):
    ep = parse_endpoint(text)
    assert (ep.scheme, ep.host, ep.port, ep.loopback) == ("tcp", host, port, loopback)
    if loopback:
        assert PoolConfig(bind=text).bind == text
    else:
        with pytest.raises(ConfigError, match=r"requires CURVE authentication.*curve_keys_dir"):
            PoolConfig(bind=text)
        assert PoolConfig(bind=text, curve_keys_dir="/keys").bind == text


@pytest.mark.parametrize("text", ["ipc:///tmp/x.sock", "ipc://*", "ipc://@abstract", "ipc://rel"])
def test_ipc_endpoints_are_local(text):
    ep = parse_endpoint(text)
    assert ep.scheme == "ipc" and ep.loopback and ep.path == text[6:]
    assert PoolConfig(bind=text).bind == text


@pytest.mark.parametrize(
    "text",
    [
        "", "127.0.0.1:5555", "tcp://", "tcp://127.0.0.1", "tcp://:5555", "tcp://127.0.0.1:",
        "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:+1", "tcp://1.2.3:80",
        "tcp://300.1.1.1:80", "tcp://::1:80", "tcp://[::1:80", "tcp://[zz]:80",
        "tcp://bad_host:80", "tcp://-a:80", "tcp://a..b:80", "udp://127.0.0.1:80",
        "inproc://x", "ipc://", "ipc://a\0b", "ipc:///" + "x" * 107, "tcp://127.0.0.1:٣",
    ],
)  # fmt: skip
def test_bad_endpoints_are_refused(text):
    with pytest.raises(ValueError):
        parse_endpoint(text)
    with pytest.raises(ConfigError, match=r"^bind is not a valid endpoint") as info:
        PoolConfig(bind=text, curve_keys_dir="/keys")
    assert info.value.knob == "bind" and info.value.value == text


def test_curve_keys_dir_accepts_path_objects():
    import pathlib

    cfg = PoolConfig(curve_keys_dir=pathlib.Path("/etc/keys"))
    assert cfg.curve_keys_dir == "/etc/keys"
    json.dumps(cfg.to_dict())


# -- from_kwargs, replace, to_dict --------------------------------------------------------------


@st.composite
def configs(draw):
    """Any valid configuration, drawn from the declared ranges."""
    kwargs = {}
    for knob in KNOBS:
        if knob.kind == "weights" or knob.name == "bind" or not draw(st.booleans()):
            continue
        kwargs[knob.name] = draw(_valid_values(knob))
    if draw(st.booleans()):
        workers = kwargs.setdefault("max_workers", DEFAULT_MAX_WORKERS)
        kwargs["worker_weights"] = draw(
            st.lists(st.floats(0.5, 100.0), min_size=workers, max_size=workers)
        )
    if draw(st.booleans()):
        kwargs["bind"] = draw(st.sampled_from(["tcp://127.0.0.1:0", "ipc://*"]))
    return PoolConfig.from_kwargs(**kwargs)


@given(cfg=configs())
def test_to_dict_round_trips_through_json(cfg):
    data = cfg.to_dict()
    assert list(data) == [k.name for k in KNOBS]
    again = PoolConfig.from_kwargs(**json.loads(json.dumps(data)))
    assert again == cfg and hash(again) == hash(cfg)
    assert pickle.loads(pickle.dumps(cfg)) == cfg


@given(cfg=configs(), batch=st.integers(1, wire.MAX_BATCH_TASKS))
def test_replace_validates_and_keeps_the_rest(cfg, batch):
    new = cfg.replace(batch_size=batch)
    assert new.batch_size == batch
    assert {**new.to_dict(), "batch_size": cfg.batch_size} == cfg.to_dict()
    with pytest.raises(ConfigError, match=r"batch_size"):
        cfg.replace(batch_size=0)
    with pytest.raises(ConfigError, match=r"did you mean 'batch_size'"):
        cfg.replace(batchsize=batch)


def test_record_is_frozen():
    cfg = PoolConfig()
    with pytest.raises(AttributeError):
        cfg.max_workers = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("max_worker", "max_workers"),
        ("prefech", "prefetch"),
        ("heartbeat_interval", "heartbeat_interval_s"),
        ("retries", "max_retries"),
    ],
)
def test_unknown_name_suggests_the_closest(name, suggestion):
    with pytest.raises(ConfigError, match=f"unknown pool option '{name}'; did you mean") as info:
        PoolConfig.from_kwargs(**{name: 1})
    assert repr(suggestion) in str(info.value) and info.value.knob == name
    with pytest.raises(ConfigError, match=r"did you mean"):
        PoolConfig.knob(name)


def test_unknown_name_without_close_match_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"valid names: max_workers, balancer"):
        PoolConfig.from_kwargs(zzzzzz=1)


def test_config_error_pickles_with_its_attributes():
    with pytest.raises(ConfigError) as info:
        PoolConfig(prefetch=0)
    err = pickle.loads(pickle.dumps(info.value))
    assert (err.knob, err.value, err.valid, str(err)) == (
        "prefetch",
        0,
        info.value.valid,
        str(info.value),
    )


# -- the search space ---------------------------------------------------------------------------


def test_search_space_is_the_performance_knobs():
    names = [k.name for k in PoolConfig.search_space()]
    assert names == ["max_workers", "balancer", "batch_size", "prefetch", "balance_factor"]
    assert PoolConfig.knob("max_workers").search_range == (
        1,
        min(4 * DEFAULT_MAX_WORKERS, 1024),
    )
    assert PoolConfig.knob("balance_factor").balancers == ("bounded_load_hash",)
    assert PoolConfig.knob("worker_weights").balancers == ("weighted_round_robin",)
    for knob in KNOBS:
        assert set(knob.balancers) <= set(BALANCERS)


@pytest.mark.parametrize("knob", PoolConfig.search_space(), ids=lambda k: k.name)
def test_search_ranges_lie_inside_the_valid_ranges(knob):
    if knob.kind == "choice":
        assert knob.search_range is None and knob.choices
        return
    low, high = knob.search_range
    assert knob.low <= low <= high <= knob.high
    assert knob.validate(low) == low and knob.validate(high) == high
    if knob.log_scale:
        assert low > 0


@given(data=st.data())
def test_every_point_of_the_search_space_is_a_valid_config(data):
    point = {}
    for knob in PoolConfig.search_space():
        if knob.kind == "choice":
            point[knob.name] = data.draw(st.sampled_from(knob.choices))
        elif knob.kind == "int":
            point[knob.name] = data.draw(st.integers(*knob.search_range))
        else:
            point[knob.name] = data.draw(st.floats(*knob.search_range))
    cfg = PoolConfig.from_kwargs(**point)
    assert all(getattr(cfg, name) == value for name, value in point.items())


def test_module_docstring_example_runs():
    import doctest

    import tuner.config

    result = doctest.testmod(tuner.config)
    assert result.attempted >= 3 and result.failed == 0


def test_validating_a_config_does_not_import_numba():
    # Why the balancer names live in tuner.config rather than in tuner.pool.balancers.
    code = (
        "import sys; from tuner.config import PoolConfig; PoolConfig(balancer='pull'); "
        "print('numba' in sys.modules, 'tuner.pool' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["False", "False"]
