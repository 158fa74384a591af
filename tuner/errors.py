"""The exceptions of ``tuner``: one root, with the builtin callers expect mixed in."""

from __future__ import annotations

__all__ = ["NotImplementedYet", "TunerError"]


class TunerError(Exception):
    """Root of every error raised by ``tuner``."""


class NotImplementedYet(TunerError, NotImplementedError):
    """A documented capability that has not been built yet."""
