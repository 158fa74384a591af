"""Command-line spellings of search dimensions: ``workers=4``, ``balancer=a,b``,
``batch_size=1..64``, and the short names they may use."""

from __future__ import annotations

from typing import Any

from ..config import PoolConfig
from ..errors import ConfigError

__all__ = ["ALIASES", "canonical_name", "parse_dimension_spec"]

ALIASES: dict[str, str] = {
    "workers": "max_workers",
    "pool_size": "max_workers",
    "batch": "batch_size",
    "factor": "balance_factor",
}
"""Short names accepted on the command line (``--fix workers=4``)."""


def canonical_name(name: str) -> str:
    """The dimension name an alias stands for (``workers`` -> ``max_workers``)."""
    return ALIASES.get(name.strip(), name.strip())


def parse_dimension_spec(spec: str) -> tuple[str, Any]:
    """Parse ``NAME=VALUE``, ``NAME=A,B,C`` or ``NAME=LOW..HIGH`` from the command line.

    Returns ``(name, limit)`` for :meth:`SearchSpace.restrict`: a one-element list fixes,
    a list restricts to those values, a ``(low, high)`` tuple restricts to a range.  Numbers
    are parsed according to the knob's kind, so ``batch_size=8`` gives the integer 8.

    Raises
    ------
    ConfigError
        Malformed text, an unknown knob, or a value that is not a number where one is due.
    """
    if not isinstance(spec, str) or "=" not in spec:
        raise ConfigError(
            f"bad dimension spec {spec!r}: expected NAME=VALUE, NAME=A,B or NAME=LOW..HIGH "
            "(e.g. workers=4, balancer=round_robin,pull, batch_size=1..64)",
            value=spec,
        )
    raw_name, _, text = spec.partition("=")
    name = canonical_name(raw_name)
    try:
        knob = PoolConfig.knob(name)
    except ConfigError:
        searched = ", ".join(k.name for k in PoolConfig.search_space())
        raise ConfigError(
            f"unknown dimension {raw_name.strip()!r} in {spec!r}; valid names: {searched} "
            f"(aliases: {', '.join(ALIASES)})",
            knob=raw_name.strip(),
            valid=searched,
        ) from None
    text = text.strip()
    if not text:
        raise ConfigError(f"{name} has no value in {spec!r}", knob=name, valid=knob.valid_text())

    def convert(item: str) -> Any:
        item = item.strip()
        if knob.kind == "int":
            try:
                return int(item)
            except ValueError:
                pass
        elif knob.kind == "float":
            try:
                return float(item)
            except ValueError:
                pass
        else:
            return item
        raise ConfigError(
            f"{name} needs a number, got {item!r} in {spec!r}",
            knob=name,
            value=item,
            valid=knob.valid_text(),
        )

    if ".." in text and knob.kind in ("int", "float"):
        low, _, high = text.partition("..")
        return name, (convert(low), convert(high))
    return name, [convert(item) for item in text.split(",")]
