"""The search space: which pool configurations the tuner may try.

Built from :meth:`tuner.config.PoolConfig.search_space`, so the tuner searches exactly the
knobs the pool declares, with their declared ranges.  Each searched knob becomes a
:class:`Dimension` holding a concrete, finite ladder of values:

- ``max_workers``: every integer from 1 to 4 × logical cores when that is at most 32 values
  (8 on a 2-core machine), otherwise a geometric ladder (steps of about 25%);
- ``batch_size``, ``prefetch`` (declared ``log_scale``): powers of two within the range;
- ``balancer``: every declared balancer;
- ``balance_factor``: a *conditional* dimension, only present in a configuration whose
  balancer is ``bounded_load_hash`` (the only balancer that reads it).  It is fixed at its
  default (1.25) unless the user restricts it: its effect is second order, and searching it
  would multiply the ``bounded_load_hash`` contenders for little gain.

A configuration is a plain ``dict`` of ``PoolConfig`` keyword arguments, ready for
``WorkerPool(**config)``.  Spaces are immutable: :meth:`SearchSpace.fix` and
:meth:`SearchSpace.restrict` return new spaces.
"""

from __future__ import annotations

import itertools
import math
import random as _random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..config import DEFAULT_MAX_WORKERS, MAX_WORKERS_LIMIT, Knob, PoolConfig
from ..errors import ConfigError
from .specs import ALIASES, canonical_name, parse_dimension_spec

# ALIASES and parse_dimension_spec live in .specs and are re-exported here.
__all__ = ["ALIASES", "Dimension", "SearchSpace", "parse_dimension_spec"]

DimensionKind = Literal["int-log", "int", "float", "categorical"]

_MAX_LINEAR_VALUES = 32
_BALANCE_FACTOR_LADDER = (1.1, 1.25, 1.5, 2.0)
#: Where a keyed workload's search starts (see :meth:`SearchSpace.start_config`).
_KEYED_START_BALANCER = "consistent_hash"


@dataclass(frozen=True, slots=True)
class Dimension:
    """One searched knob and the finite ladder of values the tuner may give it.

    Attributes
    ----------
    name : str
        The ``PoolConfig`` keyword.
    kind : {"int-log", "int", "float", "categorical"}
        ``int-log`` ladders are geometric (powers of two), ``int`` ones linear.
    values : tuple
        The ladder, ascending for numeric kinds, in declaration order for categorical ones.
    default : object
        The pool's default for the knob (it may lie outside a restricted ladder).
    active_when : tuple of (str, tuple)
        Conditions ``(dimension, values)``: the dimension appears in a configuration only
        when every named dimension takes one of the listed values.  Empty: always active.
    """

    name: str
    kind: DimensionKind
    values: tuple[Any, ...]
    default: Any
    active_when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @property
    def fixed(self) -> bool:
        """True when the ladder has a single value (nothing to search)."""
        return len(self.values) == 1

    @property
    def numeric(self) -> bool:
        """True for integer and float ladders."""
        return self.kind != "categorical"

    def is_active(self, config: Mapping[str, Any]) -> bool:
        """Whether this dimension applies to ``config`` (see ``active_when``)."""
        return all(config.get(name) in allowed for name, allowed in self.active_when)

    def nearest(self, value: Any) -> Any:
        """The ladder value closest to ``value`` (on a log scale for ``int-log``)."""
        if value in self.values or not self.numeric:
            return value if value in self.values else self.values[0]
        if self.kind == "int-log":
            return min(self.values, key=lambda v: (abs(math.log(v) - math.log(value)), v))
        return min(self.values, key=lambda v: (abs(v - value), v))

    def neighbours(self, value: Any) -> tuple[Any, ...]:
        """The ladder values just below and above ``value`` (one or two of them)."""
        if value not in self.values:
            value = self.nearest(value)
        i = self.values.index(value)
        return tuple(self.values[j] for j in (i - 1, i + 1) if 0 <= j < len(self.values))


def _knob_dimension(knob: Knob, workers_high: int | None) -> Dimension:
    if knob.kind == "choice":
        return Dimension(knob.name, "categorical", tuple(knob.choices), knob.default)
    low, high = knob.search_range  # type: ignore[misc]
    if knob.name == "max_workers" and workers_high is not None:
        high = workers_high
    active = (("balancer", knob.balancers),) if knob.balancers else ()
    if knob.kind == "float":
        return Dimension(knob.name, "float", (knob.default,), knob.default, active)
    kind: DimensionKind = "int-log" if knob.log_scale else "int"
    return Dimension(knob.name, kind, _ladder(kind, int(low), int(high)), knob.default, active)


def _ladder(kind: DimensionKind, low: int, high: int) -> tuple[int, ...]:
    """Concrete integer values in ``[low, high]``, endpoints included."""
    if kind == "int" and high - low + 1 <= _MAX_LINEAR_VALUES:
        return tuple(range(low, high + 1))
    values = {low, high}
    if kind == "int-log":
        power = 1
        while power < high:
            if power > low:
                values.add(power)
            power *= 2
    else:  # a long linear range: geometric steps of ~25%, so it stays short
        v = float(max(low, 1))
        while v < high:
            values.add(round(v))
            v = max(v * 1.25, v + 1)
    return tuple(sorted(v for v in values if low <= v <= high))


def _float_ladder(low: float, high: float) -> tuple[float, ...]:
    inside = [v for v in _BALANCE_FACTOR_LADDER if low < v < high]
    return tuple(sorted({low, *inside, high}))


class SearchSpace:
    """An immutable product of :class:`Dimension` ladders, plus fixed extra knobs.

    Build with :meth:`from_pool_config`; narrow with :meth:`fix`, :meth:`restrict` or
    :meth:`apply` (command-line strings); enumerate with :meth:`grid`, draw with
    :meth:`sample`.

    Parameters
    ----------
    dimensions : sequence of Dimension
        In search order (the order of ``PoolConfig.search_space()``).
    constants : mapping, optional
        Non-searched ``PoolConfig`` knobs fixed by the user (``serializer="pickle"``); they
        are copied into every configuration.
    """

    __slots__ = ("_constants", "_dims")

    def __init__(
        self, dimensions: Sequence[Dimension], constants: Mapping[str, Any] | None = None
    ) -> None:
        self._dims = tuple(dimensions)
        self._constants = dict(constants or {})

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_pool_config(cls, logical_cores: int | None = None) -> SearchSpace:
        """The full space the pool declares; pool size spans 1 .. 4 × ``logical_cores``.

        ``logical_cores`` defaults to the CPUs this process may use (the pool's default
        ``max_workers``).
        """
        workers_high = None
        if logical_cores is not None:
            if isinstance(logical_cores, bool) or int(logical_cores) < 1:
                raise ConfigError(
                    f"logical_cores must be a positive integer, got {logical_cores!r}",
                    knob="logical_cores",
                    value=logical_cores,
                    valid=">= 1",
                )
            workers_high = min(4 * int(logical_cores), MAX_WORKERS_LIMIT)
        elif DEFAULT_MAX_WORKERS:
            workers_high = min(4 * DEFAULT_MAX_WORKERS, MAX_WORKERS_LIMIT)
        dims = [_knob_dimension(k, workers_high) for k in PoolConfig.search_space()]
        return cls(dims)

    # -- introspection --------------------------------------------------------------------

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        """Every dimension, in search order."""
        return self._dims

    @property
    def names(self) -> tuple[str, ...]:
        """Dimension names, in search order."""
        return tuple(d.name for d in self._dims)

    @property
    def constants(self) -> dict[str, Any]:
        """Non-searched knobs fixed by the user, copied into every configuration."""
        return dict(self._constants)

    def dimension(self, name: str) -> Dimension:
        """The dimension called ``name`` (aliases accepted).

        Raises
        ------
        ConfigError
            Unknown name, listing the valid ones.
        """
        canonical = canonical_name(name)
        for dim in self._dims:
            if dim.name == canonical:
                return dim
        raise self._unknown(name)

    def _unknown(self, name: str) -> ConfigError:
        valid = ", ".join(self.names)
        aliases = ", ".join(f"{a} ({t})" for a, t in ALIASES.items())
        return ConfigError(
            f"unknown search dimension {name!r}; valid names: {valid} (aliases: {aliases})",
            knob=name,
            valid=valid,
        )

    def __len__(self) -> int:
        """Number of distinct configurations (conditional dimensions counted where active)."""
        return sum(1 for _ in self.grid())

    def __repr__(self) -> str:
        parts = [f"{d.name}={list(d.values)!r}" for d in self._dims]
        parts += [f"{k}={v!r} (fixed)" for k, v in self._constants.items()]
        return f"SearchSpace({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self._dims == other._dims and self._constants == other._constants

    __hash__ = None  # type: ignore[assignment]

    # -- narrowing ------------------------------------------------------------------------

    def fix(self, **values: Any) -> SearchSpace:
        """A space with each named dimension fixed to one value: ``fix(workers=4)``.

        A non-searched ``PoolConfig`` knob may be fixed too (``fix(serializer="pickle")``):
        it is then passed to every configuration.

        Raises
        ------
        ConfigError
            Unknown name, or a value the knob does not accept (naming both).
        """
        return self.restrict(**{name: [value] for name, value in values.items()})

    def restrict(self, **limits: Any) -> SearchSpace:
        """A space with dimensions narrowed to a list of values or an inclusive range.

        ``restrict(balancer=["round_robin", "pull"])`` keeps two balancers;
        ``restrict(batch_size=(1, 64))`` keeps the ladder values in 1..64 (the endpoints
        always included).  A one-element list fixes the dimension.

        Raises
        ------
        ConfigError
            Unknown name or a value outside the knob's valid range.
        """
        dims = {d.name: d for d in self._dims}
        constants = dict(self._constants)
        for raw_name, limit in limits.items():
            name = canonical_name(raw_name)
            if name not in dims:
                knob = self._pool_knob(raw_name, name)
                if not (isinstance(limit, list) and len(limit) == 1):
                    raise ConfigError(
                        f"{name} is not a searched dimension; it can only be fixed to one value "
                        f"(searched: {', '.join(self.names)})",
                        knob=name,
                        value=limit,
                    )
                constants[name] = knob.validate(limit[0])
                continue
            dims[name] = _narrow(dims[name], PoolConfig.knob(name), limit)
        return SearchSpace(tuple(dims[d.name] for d in self._dims), constants)

    def _pool_knob(self, raw_name: str, name: str) -> Knob:
        try:
            return PoolConfig.knob(name)
        except ConfigError:
            raise self._unknown(raw_name) from None

    def apply(self, specs: Iterable[str]) -> SearchSpace:
        """Apply command-line specs such as ``"workers=4"``, ``"balancer=round_robin,pull"``
        or ``"batch_size=1..64"`` in order (see :func:`parse_dimension_spec`)."""
        space = self
        for spec in specs:
            name, limit = parse_dimension_spec(spec)
            space = space.restrict(**{name: limit})
        return space

    # -- enumeration ----------------------------------------------------------------------

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every configuration once, in a stable order (later dimensions vary fastest).

        A conditional dimension is left out of a configuration where it is inactive, so the
        same pool is never listed twice under different irrelevant values.
        """
        unconditional = [d for d in self._dims if not d.active_when]
        conditional = [d for d in self._dims if d.active_when]
        for combo in itertools.product(*(d.values for d in unconditional)):
            config = dict(zip((d.name for d in unconditional), combo, strict=True))
            active = [d for d in conditional if d.is_active(config)]
            for extra in itertools.product(*(d.values for d in active)):
                full = dict(config)
                full.update(zip((d.name for d in active), extra, strict=True))
                yield self._finish(full)

    def _finish(self, config: dict[str, Any]) -> dict[str, Any]:
        ordered = {d.name: config[d.name] for d in self._dims if d.name in config}
        ordered.update(self._constants)
        return ordered

    def sample(self, rng: _random.Random) -> dict[str, Any]:
        """One configuration drawn uniformly per dimension (for the random strategy)."""
        config: dict[str, Any] = {}
        for dim in self._dims:
            if not dim.active_when:
                config[dim.name] = rng.choice(dim.values)
        for dim in self._dims:
            if dim.active_when and dim.is_active(config):
                config[dim.name] = rng.choice(dim.values)
        return self._finish(config)

    def normalise(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with inactive conditional dimensions dropped and constants added.

        Keys that are not dimensions or constants are kept as given (a prior trial may carry
        extra knobs); dimension values need not lie on the ladder.
        """
        out = {d.name: config[d.name] for d in self._dims if d.name in config}
        for dim in self._dims:
            if dim.active_when and dim.name in out and not dim.is_active(out):
                del out[dim.name]
            elif dim.active_when and dim.name not in out and dim.is_active(out):
                out[dim.name] = dim.values[0] if dim.fixed else dim.nearest(dim.default)
        for key, value in config.items():
            if key not in out and all(key != d.name for d in self._dims):
                out[key] = value
        out.update(self._constants)
        return out

    def contains(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` is one of :meth:`grid`'s configurations."""
        normal = self.normalise(config)
        if set(normal) != set(config):
            return False
        for dim in self._dims:
            if dim.is_active(normal) and normal.get(dim.name) not in dim.values:
                return False
        return all(normal.get(k) == v for k, v in self._constants.items())

    def start_config(self, *, keyed: bool = False) -> dict[str, Any]:
        """A sensible first configuration: each dimension at its ladder value nearest to the
        pool's default (the machine's core count for ``max_workers``).

        With ``keyed`` (the workload's tasks carry affinity keys) the balancer starts at
        ``consistent_hash`` when the space offers it: the pool's default balancer ignores
        keys, so a keyed workload measured with it loses its per-worker state and scales
        differently (on the recorded ``affinity`` grid, 1.7x slower, peaking at 4 workers
        instead of 6), and the pool size swept at the start would be the wrong one.
        """
        config: dict[str, Any] = {}
        for dim in self._dims:
            if not dim.active_when:
                config[dim.name] = dim.nearest(dim.default)
                if keyed and dim.name == "balancer" and _KEYED_START_BALANCER in dim.values:
                    config[dim.name] = _KEYED_START_BALANCER
        return self.normalise(config)


def _narrow(dim: Dimension, knob: Knob, limit: Any) -> Dimension:
    if isinstance(limit, tuple) and len(limit) == 2 and dim.numeric:
        low, high = (knob.validate(v) for v in limit)
        if low > high:
            raise ConfigError(
                f"{dim.name} range {low}..{high} is empty (low above high)",
                knob=dim.name,
                value=limit,
                valid=knob.valid_text(),
            )
        if dim.kind == "float":
            values: tuple[Any, ...] = _float_ladder(low, high)
        else:
            full = _ladder(dim.kind, low, high)
            values = full if dim.kind == "int-log" else _ladder("int", low, high)
        return replace(dim, values=values)
    if isinstance(limit, (str, bytes)) or not isinstance(limit, (list, tuple, set, frozenset)):
        limit = [limit]
    chosen = []
    for value in limit:
        checked = knob.validate(value)
        if checked not in chosen:
            chosen.append(checked)
    if not chosen:
        raise ConfigError(
            f"{dim.name} restricted to no values", knob=dim.name, valid=knob.valid_text()
        )
    if dim.numeric:
        chosen.sort()
    else:
        chosen.sort(key=knob.choices.index)
    return replace(dim, values=tuple(chosen))
