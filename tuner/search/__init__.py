"""The search core of the auto-tuner: space, statistics, USL fit, trials, strategies.

Pure and process-free: a strategy measures configurations only through an
:class:`Evaluator` (the real one runs ``WorkerPool`` trials; tests use a simulated one), so
every decision can be tested and replayed offline from ``trials.jsonl``.

Typical use::

    space = SearchSpace.from_pool_config().apply(["workers=1..8", "balancer=pull,round_robin"])
    log = TrialLog(out_dir / "trials.jsonl")
    result = run("auto", space, evaluator, budget=Budget(seconds=60),
                 objective=Objective("throughput"), constraints=Constraints(slo_p99_s=0.05),
                 prior=log.read(), on_trial=log.append)
    print(result.best_config, result.interval, *result.explain(), sep="\\n")
"""

from ..errors import SearchError, TrialLogError
from .auto import AutoSettings, auto_search
from .objective import Budget, Constraints, Objective, parse_bytes, parse_duration, parse_percent
from .session import Evaluator, SearchResult
from .space import Dimension, SearchSpace, parse_dimension_spec
from .stats import (
    Comparison,
    Interval,
    coefficient_of_variation,
    compare,
    confidence_interval,
    repeats_needed,
    t_quantile,
)
from .strategies import STRATEGIES, grid_search, random_search, run
from .trials import Trial, TrialLog, config_key
from .usl import USLFit, fit_usl, usl_throughput

__all__ = [
    "STRATEGIES",
    "AutoSettings",
    "Budget",
    "Comparison",
    "Constraints",
    "Dimension",
    "Evaluator",
    "Interval",
    "Objective",
    "SearchError",
    "SearchResult",
    "SearchSpace",
    "Trial",
    "TrialLog",
    "TrialLogError",
    "USLFit",
    "auto_search",
    "coefficient_of_variation",
    "compare",
    "confidence_interval",
    "config_key",
    "fit_usl",
    "grid_search",
    "parse_bytes",
    "parse_dimension_spec",
    "parse_duration",
    "parse_percent",
    "random_search",
    "repeats_needed",
    "run",
    "t_quantile",
    "usl_throughput",
]
