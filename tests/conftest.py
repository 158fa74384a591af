"""Shared test settings.

Hypothesis profiles: ``ci`` (the default, what ``python -m pytest`` runs) keeps
every property test meaningful but short; ``long`` runs many more examples.
Choose with ``HYPOTHESIS_PROFILE=long python -m pytest``.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, settings

from .pool_helpers import child_pids

# Numba compiles a kernel on its first call: a deadline would flag that call.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def no_leaked_children():
    """Fail any test that leaves child processes behind (every process a test starts, it ends).

    Processes that existed before the test (a module-scoped pool's workers) are not counted.
    Exiting children get up to 10 s to be reaped before the test is failed.
    """
    before = child_pids()
    yield
    deadline = time.monotonic() + 10
    leaked = child_pids() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = child_pids() - before
    assert leaked == set(), f"test leaked child processes {sorted(leaked)}"
