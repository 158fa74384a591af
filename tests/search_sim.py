"""A simulated pool-tuning objective with a known optimum, for tests and the tuner benchmark.

Throughput follows the Universal Scalability Law in the pool size, times a factor per
balancer, times log-scale bell curves in batch size and prefetch window, times multiplicative
lognormal noise::

    X = λN / (1 + σ'(N−1) + κN(N−1)) · b[balancer] · exp(−w_b·log2(batch/B*)²)
        · exp(−w_p·log2(prefetch/P*)²) · LogNormal(0, cv)

with ``σ' = σ · (1 + interaction · |log2(batch/B*)|)``: a badly chosen batch size also makes
the pool scale worse, so the dimensions are not perfectly separable (as in a real pool).
p99 latency follows Little's law (tasks in flight / throughput, times 3), memory grows with
workers and with tasks in flight, CPU with busy workers.

Noise is a pure function of ``(seed, configuration, call number for that configuration)``,
so a run is reproducible whatever order configurations are measured in.  A simulated clock
advances by each trial's duration, so time budgets can be tested without waiting.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuner.search import Constraints, SearchSpace, Trial
from tuner.search.trials import config_key

DEFAULT_BALANCERS: Mapping[str, float] = {
    "random": 0.90,
    "round_robin": 0.94,
    "weighted_round_robin": 0.93,
    "least_outstanding": 0.99,
    "power_of_two": 0.97,
    "consistent_hash": 0.80,
    "bounded_load_hash": 0.86,
    "pull": 1.00,
}


@dataclass(frozen=True)
class SimShape:
    """Parameters of the simulated workload (see the module docstring for the formula)."""

    lam: float = 1000.0
    sigma: float = 0.05
    kappa: float = 0.01
    balancers: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BALANCERS))
    batch_peak: float = 16.0
    batch_width: float = 0.03
    prefetch_peak: float = 32.0
    prefetch_width: float = 0.02
    interaction: float = 0.3
    noise_cv: float = 0.03
    rss_base_bytes: float = 60e6
    rss_per_worker_bytes: float = 30e6
    rss_per_task_bytes: float = 2e4
    cores: int = 2
    window_s: float = 0.5
    startup_s: float = 0.4
    balance_factor_effect: float = 0.05


SHAPES: dict[str, SimShape] = {
    "default": SimShape(),
    "io-like": SimShape(sigma=0.01, kappa=0.0005, batch_peak=4.0, prefetch_peak=64.0),
    "contended": SimShape(
        sigma=0.25,
        kappa=0.05,
        batch_peak=64.0,
        prefetch_peak=8.0,
        balancers={**DEFAULT_BALANCERS, "pull": 0.95, "least_outstanding": 1.0},
    ),
    "hash-affinity": SimShape(
        sigma=0.08,
        kappa=0.004,
        batch_peak=2.0,
        prefetch_peak=16.0,
        balancers={
            **DEFAULT_BALANCERS,
            "bounded_load_hash": 1.0,
            "consistent_hash": 0.97,
            "pull": 0.85,
        },
        noise_cv=0.05,
    ),
    "flat-plateau": SimShape(sigma=0.9, kappa=0.0, interaction=0.0, noise_cv=0.02),
}


class SimClock:
    """A clock the simulated evaluator advances; pass it to ``Budget(clock=...)``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SimEvaluator:
    """An :class:`tuner.search.Evaluator` over :class:`SimShape`; counts its calls."""

    def __init__(self, shape: SimShape | None = None, seed: int = 0, clock: SimClock | None = None):
        self.shape = shape or SimShape()
        self.seed = seed
        self.clock = clock or SimClock()
        self.calls = 0
        self.samples = 0
        self.per_config: Counter[str] = Counter()

    # -- the truth -------------------------------------------------------------------------

    def true_throughput(self, config: Mapping[str, Any]) -> float:
        """Noise-free throughput (tasks/s) of ``config``."""
        s = self.shape
        n = config["max_workers"]
        batch_off = abs(math.log2(config.get("batch_size", 1) / s.batch_peak))
        sigma = s.sigma * (1.0 + s.interaction * batch_off)
        usl = s.lam * n / (1.0 + sigma * (n - 1) + s.kappa * n * (n - 1))
        factor = s.balancers[config.get("balancer", "power_of_two")]
        if config.get("balancer") == "bounded_load_hash":
            factor *= 1.0 - s.balance_factor_effect * abs(config.get("balance_factor", 1.25) - 1.25)
        factor *= math.exp(-s.batch_width * batch_off**2)
        prefetch_off = math.log2(config.get("prefetch", 8) / s.prefetch_peak)
        factor *= math.exp(-s.prefetch_width * prefetch_off**2)
        return usl * factor

    def true_p99_s(self, config: Mapping[str, Any], throughput: float | None = None) -> float:
        """Little's law: tasks in flight over throughput, times 3 for the tail."""
        x = self.true_throughput(config) if throughput is None else throughput
        in_flight = config["max_workers"] * max(config.get("prefetch", 8), 1)
        return 3.0 * in_flight / x

    def true_rss_bytes(self, config: Mapping[str, Any]) -> int:
        s = self.shape
        in_flight = config["max_workers"] * config.get("prefetch", 8) * config.get("batch_size", 1)
        return int(
            s.rss_base_bytes
            + s.rss_per_worker_bytes * config["max_workers"]
            + s.rss_per_task_bytes * min(in_flight, 1e6)
        )

    def true_cpu_percent(self, config: Mapping[str, Any]) -> float:
        return 100.0 * min(config["max_workers"], self.shape.cores) + 5.0

    def true_best(
        self, space: SearchSpace, constraints: Constraints | None = None
    ) -> tuple[dict[str, Any], float]:
        """The configuration of ``space`` with the highest noise-free throughput that meets
        ``constraints`` (judged on noise-free metrics)."""
        best, value = None, -math.inf
        for config in space.grid():
            x = self.true_throughput(config)
            if constraints is not None and constraints.any:
                probe = Trial(
                    config,
                    (x,),
                    latency_p99_s=self.true_p99_s(config),
                    peak_rss_bytes=self.true_rss_bytes(config),
                    cpu_percent=self.true_cpu_percent(config),
                )
                if constraints.check(probe):
                    continue
            if x > value:
                best, value = config, x
        assert best is not None, "no configuration meets the constraints"
        return best, value

    # -- the Evaluator interface -----------------------------------------------------------

    def evaluate(self, config: dict[str, Any], repeats: int, stage: str) -> Trial:
        assert repeats >= 1, repeats
        key = config_key(config)
        call = self.per_config[key]
        self.per_config[key] += 1
        self.calls += 1
        self.samples += repeats
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode()), call])
        true = self.true_throughput(config)
        noise = rng.lognormal(0.0, self.shape.noise_cv, size=repeats)
        samples = tuple(float(v) for v in true * noise)
        p99 = tuple(self.true_p99_s(config, x) for x in samples)
        started = self.clock.now
        duration = self.shape.startup_s + repeats * self.shape.window_s
        self.clock.now += duration
        return Trial(
            config,
            samples,
            latency_p50_s=float(np.mean(p99)) / 3.0,
            latency_p90_s=float(np.mean(p99)) / 1.5,
            latency_p99_s=float(np.mean(p99)),
            p99_samples=p99,
            cpu_percent=self.true_cpu_percent(config),
            peak_rss_bytes=self.true_rss_bytes(config),
            started_at=started,
            duration_s=duration,
            stage=stage,
        )
