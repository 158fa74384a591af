"""Shared test settings.

Hypothesis profiles: ``ci`` (the default, what ``python -m pytest`` runs) keeps
every property test meaningful but short; ``long`` runs many more examples.
Choose with ``HYPOTHESIS_PROFILE=long python -m pytest``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Numba compiles a kernel on its first call: a deadline would flag that call.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
