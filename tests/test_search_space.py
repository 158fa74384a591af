"""tuner.search.space: the search space mirrors PoolConfig, and fixing/restricting is strict."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.config import BALANCERS, PoolConfig
from tuner.errors import ConfigError
from tuner.search import SearchSpace, parse_dimension_spec
from tuner.search.trials import config_key

SPACE = SearchSpace.from_pool_config(logical_cores=2)
POWERS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def test_dimensions_are_the_pool_search_space():
    assert SPACE.names == tuple(k.name for k in PoolConfig.search_space())
    assert SPACE.dimension("max_workers").values == tuple(range(1, 9))
    assert SPACE.dimension("max_workers").kind == "int"
    assert SPACE.dimension("balancer").values == BALANCERS
    assert SPACE.dimension("batch_size").values == POWERS
    assert SPACE.dimension("batch_size").kind == "int-log"
    assert SPACE.dimension("prefetch").values == POWERS
    factor = SPACE.dimension("balance_factor")
    assert factor.values == (1.25,) and factor.fixed
    assert factor.active_when == (("balancer", ("bounded_load_hash",)),)


@pytest.mark.parametrize("cores", [1, 2, 3, 8, 64])
def test_pool_size_spans_one_to_four_times_the_cores(cores):
    values = SearchSpace.from_pool_config(cores).dimension("workers").values
    assert values[0] == 1 and values[-1] == 4 * cores
    assert list(values) == sorted(set(values))
    assert len(values) <= 32


def test_logical_cores_must_be_positive():
    with pytest.raises(ConfigError, match="logical_cores"):
        SearchSpace.from_pool_config(0)


def test_grid_size_is_the_product_and_every_config_is_a_valid_unique_pool():
    configs = list(SPACE.grid())
    assert len(configs) == len(SPACE) == 8 * 8 * 11 * 11
    assert len({config_key(c) for c in configs}) == len(configs)
    for config in configs[:: len(configs) // 200]:
        PoolConfig(**config)  # raises if any value were invalid
    for config in configs:
        assert ("balance_factor" in config) == (config["balancer"] == "bounded_load_hash")


def test_a_restricted_conditional_dimension_multiplies_only_its_balancer():
    space = SPACE.restrict(balance_factor=(1.0, 2.0))
    factors = space.dimension("balance_factor").values
    assert factors[0] == 1.0 and factors[-1] == 2.0 and len(factors) == 5
    assert len(space) == 8 * 11 * 11 * (7 + len(factors))


def test_fix_with_an_alias():
    space = SPACE.fix(workers=4, balancer="pull")
    configs = list(space.grid())
    assert len(configs) == 11 * 11
    assert all(c["max_workers"] == 4 and c["balancer"] == "pull" for c in configs)


def test_restrict_to_choices_and_ranges():
    space = SPACE.restrict(balancer=["pull", "round_robin"], batch_size=(1, 64))
    assert space.dimension("balancer").values == ("round_robin", "pull")  # declaration order
    assert space.dimension("batch_size").values == (1, 2, 4, 8, 16, 32, 64)
    assert space.dimension("workers").values == tuple(range(1, 9))


@given(st.integers(1, 4096), st.integers(1, 4096))
def test_a_log_range_keeps_its_ends_and_the_powers_of_two_between(a, b):
    low, high = min(a, b), max(a, b)
    values = SPACE.restrict(prefetch=(low, high)).dimension("prefetch").values
    assert values[0] == low and values[-1] == high
    assert list(values) == sorted(set(values))
    inside = {2**k for k in range(13) if low < 2**k < high}
    assert set(values) == {low, high} | inside


def test_a_range_may_go_beyond_the_default_search_range_but_not_the_valid_range():
    assert SPACE.restrict(workers=(1, 16)).dimension("workers").values == tuple(range(1, 17))
    with pytest.raises(ConfigError, match="max_workers") as info:
        SPACE.restrict(workers=(1, 2000))
    assert info.value.knob == "max_workers"


@pytest.mark.parametrize(
    ("limit", "match"),
    [
        ({"max_workers": [0]}, "max_workers must be greater than 0"),
        ({"batch_size": [0]}, "batch_size"),
        ({"balancer": ["fastest"]}, "balancer is not valid"),
        ({"prefetch": (64, 8)}, "empty"),
        ({"prefetch": []}, "no values"),
    ],
)
def test_invalid_restrictions_name_the_knob(limit, match):
    with pytest.raises(ConfigError, match=match):
        SPACE.restrict(**limit)


def test_unknown_dimension_lists_the_valid_names():
    with pytest.raises(ConfigError) as info:
        SPACE.fix(wrokers=4)
    message = str(info.value)
    assert "'wrokers'" in message
    for name in SPACE.names:
        assert name in message


def test_a_non_searched_knob_can_be_fixed_but_not_ranged():
    space = SPACE.fix(serializer="pickle")
    assert space.constants == {"serializer": "pickle"}
    assert all(c["serializer"] == "pickle" for c in space.fix(workers=1).grid())
    with pytest.raises(ConfigError, match="not a searched dimension"):
        SPACE.restrict(serializer=["pickle", "cloudpickle"])
    with pytest.raises(ConfigError, match="serializer"):
        SPACE.fix(serializer="json")


# -- command-line specs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("workers=4", ("max_workers", [4])),
        ("balancer=round_robin,pull", ("balancer", ["round_robin", "pull"])),
        ("batch_size=1..64", ("batch_size", (1, 64))),
        ("batch = 8", ("batch_size", [8])),
        ("factor=1.1..1.5", ("balance_factor", (1.1, 1.5))),
        ("prefetch=4,16", ("prefetch", [4, 16])),
    ],
)
def test_parse_dimension_spec(spec, expected):
    assert parse_dimension_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("workers", "expected NAME=VALUE"),
        ("workers=", "no value"),
        ("workers=four", "needs a number"),
        ("wrokers=4", "valid names: max_workers, balancer"),
        ("batch_size=1..x", "needs a number"),
    ],
)
def test_bad_specs_are_refused_clearly(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_dimension_spec(spec)


def test_apply_combines_specs_in_order():
    space = SPACE.apply(["workers=2..4", "balancer=pull", "batch_size=1..8", "workers=3"])
    assert len(space) == 1 * 1 * 4 * 11
    assert {c["max_workers"] for c in space.grid()} == {3}


def test_apply_reports_an_out_of_range_value():
    with pytest.raises(ConfigError, match="prefetch must be at most"):
        SPACE.apply(["prefetch=1..100000"])


# -- sampling, membership, normalising ---------------------------------------------------------


@given(st.integers(0, 2**32 - 1))
def test_samples_belong_to_the_space(seed):
    space = SPACE.restrict(balance_factor=(1.0, 2.0))
    config = space.sample(random.Random(seed))
    assert space.contains(config)
    PoolConfig(**config)


def test_contains_rejects_off_ladder_and_irrelevant_values():
    assert SPACE.contains({"max_workers": 2, "balancer": "pull", "batch_size": 4, "prefetch": 8})
    assert not SPACE.contains(
        {"max_workers": 2, "balancer": "pull", "batch_size": 3, "prefetch": 8}
    )
    assert not SPACE.contains(
        {
            "max_workers": 2,
            "balancer": "pull",
            "batch_size": 4,
            "prefetch": 8,
            "balance_factor": 1.25,
        }
    )


def test_normalise_drops_inactive_and_adds_active_conditional_dimensions():
    base = {"max_workers": 2, "batch_size": 4, "prefetch": 8}
    assert "balance_factor" not in SPACE.normalise(
        {**base, "balancer": "pull", "balance_factor": 2.0}
    )
    assert SPACE.normalise({**base, "balancer": "bounded_load_hash"})["balance_factor"] == 1.25


def test_a_keyed_start_uses_consistent_hash_when_the_space_offers_it():
    start = SPACE.start_config(keyed=True)
    assert start["balancer"] == "consistent_hash"
    assert {k: v for k, v in start.items() if k != "balancer"} == {
        k: v for k, v in SPACE.start_config().items() if k != "balancer"
    }
    assert SPACE.contains(start)
    without = SPACE.restrict(balancer=["pull", "round_robin"])
    assert without.start_config(keyed=True) == without.start_config()


def test_start_config_is_the_pool_default_on_the_ladder():
    start = SPACE.start_config()
    defaults = PoolConfig()
    assert start["balancer"] == defaults.balancer
    assert start["batch_size"] == defaults.batch_size and start["prefetch"] == defaults.prefetch
    assert SPACE.contains(start)


def test_dimension_helpers():
    batch = SPACE.dimension("batch_size")
    assert batch.nearest(5) == 4 and batch.nearest(6) == 8 and batch.nearest(3000) == 1024
    assert batch.neighbours(16) == (8, 32)
    assert batch.neighbours(1) == (2,)
    assert SPACE.dimension("workers").nearest(5) == 5
    assert math.isclose(
        SPACE.restrict(balance_factor=(1.0, 1.3)).dimension("factor").values[1], 1.1
    )


def test_spaces_are_immutable_values_with_a_readable_repr():
    narrowed = SPACE.fix(workers=2)
    assert narrowed != SPACE
    assert SearchSpace.from_pool_config(logical_cores=2) == SPACE
    assert "max_workers=[2]" in repr(narrowed)
