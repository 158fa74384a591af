"""User workloads: ``module:function`` plus inputs from ``module:generator`` or a JSON-lines file.

Everything a user can get wrong is checked here, before any pool starts, and raised as a
:class:`~tuner.workloads.WorkloadError` that names what was wrong and what to do.

How inputs become calls (the same rule the docs state):

* a generator (``--inputs mymodule:make_inputs``) yields one item per task: a **tuple** is the
  positional arguments, anything else (a list, a dict, a number, an object) is the single
  argument.  ``make_inputs`` is called with no arguments, or with ``seed=`` if it declares a
  ``seed`` parameter (or ``**kwargs``).
* a JSON-lines file (``--inputs data.jsonl``) has one JSON value per line: a **list** is the
  positional arguments (JSON has no tuples), anything else (an object, a string, a number,
  ``true``/``false``/``null``) is the single argument; an object arrives as one ``dict``
  argument, never as keyword arguments.  Blank lines are skipped.

User workloads are not keyed (the hash balancers see no key; see docs/workloads.md).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ._record import Workload, WorkloadError

__all__ = ["from_function", "load"]

_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)$")
_FILE_SUFFIXES = (".jsonl", ".json", ".ndjson", ".txt")


def _ensure_cwd_on_path() -> None:
    # `python -m tuner` already puts the working directory first; a program calling the API
    # from elsewhere (or an interpreter started with -P / -I) may not have it.
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)


def _split(spec: str, what: str) -> tuple[str, str]:
    match = _SPEC.match(spec.strip()) if isinstance(spec, str) else None
    if match is None:
        raise WorkloadError(
            f"{what} {spec!r} is not of the form 'module:function' "
            "(for example 'mymodule:task', with mymodule.py in the current directory or on "
            "PYTHONPATH)"
        )
    return match["module"], match["attr"]


def _resolve(spec: str, what: str) -> Any:
    module_name, attr = _split(spec, what)
    if module_name == "__main__":
        raise WorkloadError(_main_message(spec))
    _ensure_cwd_on_path()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkloadError(
            f"cannot import module {module_name!r} for {what} {spec!r}: {exc} "
            f"(is {module_name.replace('.', '/')}.py in the current directory {os.getcwd()} "
            "or on PYTHONPATH?)"
        ) from exc
    except Exception as exc:  # the module itself raised while being imported
        raise WorkloadError(
            f"importing module {module_name!r} for {what} {spec!r} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            public = sorted(n for n in dir(module) if not n.startswith("_"))
            raise WorkloadError(
                f"module {module_name!r} ({getattr(module, '__file__', '?')}) has no attribute "
                f"{attr!r} for {what} {spec!r}; it defines: {', '.join(public) or 'nothing'}"
            ) from exc
    if not callable(obj):
        raise WorkloadError(
            f"{what} {spec!r} is a {type(obj).__name__}, not a function: it must be callable"
        )
    return obj


def _main_message(what: str) -> str:
    return (
        f"{what} is defined in __main__ (the script being run): worker processes are fresh "
        "interpreters that import the task function by reference, and cannot import the "
        "script that started them. Move the function into a module (mytasks.py) and refer "
        "to it as 'mytasks:function'"
    )


def _check_importable(fn: Callable[..., Any], spec: str) -> None:
    # Workers unpickle the function by reference (module + qualified name): it must be
    # reachable that way, not a lambda, a nested function, or a __main__ object.
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if module == "__main__":
        raise WorkloadError(_main_message(spec))
    if isinstance(qualname, str) and ("<lambda>" in qualname or "<locals>" in qualname):
        raise WorkloadError(
            f"{spec} is {qualname!r}, a lambda or a function defined inside another "
            "function: workers cannot import it by reference; define it at module level"
        )


# ---------------------------------------------------------------------------------- inputs


def _is_file_spec(inputs: str) -> bool:
    if os.path.exists(inputs) or os.sep in inputs or "/" in inputs:
        return True
    return inputs.lower().endswith(_FILE_SUFFIXES) or _SPEC.match(inputs) is None


def _as_args_from_python(item: Any) -> tuple[Any, ...]:
    return item if isinstance(item, tuple) else (item,)


def _as_args_from_json(item: Any) -> tuple[Any, ...]:
    return tuple(item) if isinstance(item, list) else (item,)


def _scan_jsonl(path: Path) -> Iterator[Any]:
    """Each parsed value of a JSON-lines file; errors name the file and the line."""
    try:
        handle = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise WorkloadError(
            f"cannot read inputs file {str(path)!r}: {exc.strerror or exc}"
        ) from exc
    with handle:
        try:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise WorkloadError(
                        f"inputs file {str(path)!r}, line {lineno}: not valid JSON ({exc.msg} "
                        f"at column {exc.colno}); each line must be one JSON value or list"
                    ) from exc
        except UnicodeDecodeError as exc:
            raise WorkloadError(
                f"inputs file {str(path)!r} is not UTF-8 text: {exc.reason} at byte {exc.start}"
            ) from exc
        except OSError as exc:
            raise WorkloadError(
                f"cannot read inputs file {str(path)!r}: {exc.strerror or exc}"
            ) from exc


def _file_source(inputs: str) -> tuple[Callable[[int], Iterator[tuple[Any, ...]]], str]:
    path = Path(inputs).expanduser()
    if not path.exists():
        raise WorkloadError(
            f"inputs file {inputs!r} does not exist (looked in {os.getcwd()}); give a "
            "JSON-lines file or 'module:generator'"
        )
    if path.is_dir():
        raise WorkloadError(f"inputs file {inputs!r} is a directory, not a JSON-lines file")
    # Validate the whole file now, so a bad line fails before any pool starts; stream it
    # again when tasks are wanted, so a large file is never held in memory.
    count = sum(1 for _ in _scan_jsonl(path))
    if count == 0:
        raise WorkloadError(
            f"inputs file {inputs!r} has no inputs (it is empty or only blank lines)"
        )

    def source(seed: int) -> Iterator[tuple[Any, ...]]:
        del seed  # a file's order is its own
        return map(_as_args_from_json, _scan_jsonl(path))

    return source, f"{count} lines of {inputs}"


def _wants_seed(gen: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(gen).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return any(
        (p.name == "seed" and p.kind is not p.POSITIONAL_ONLY) or p.kind is p.VAR_KEYWORD
        for p in params
    )


def _generator_source(inputs: str) -> tuple[Callable[[int], Iterator[tuple[Any, ...]]], str]:
    gen = _resolve(inputs, "inputs generator")
    pass_seed = _wants_seed(gen)

    def source(seed: int) -> Iterator[tuple[Any, ...]]:
        try:
            items = gen(seed=seed) if pass_seed else gen()
            iterator = iter(items)
        except WorkloadError:
            raise
        except Exception as exc:
            how = "seed=seed" if pass_seed else "no arguments"
            raise WorkloadError(
                f"inputs generator {inputs!r}, called with {how}, raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return _guarded(iterator, f"inputs generator {inputs!r}")

    # Fail now, not in the middle of a trial: the stream must start and not be empty.
    first = next(source(0), _EMPTY)
    if first is _EMPTY:
        raise WorkloadError(f"inputs generator {inputs!r} yielded no inputs")
    return source, inputs


_EMPTY: Any = object()


def _guarded(iterator: Iterator[Any], what: str) -> Iterator[tuple[Any, ...]]:
    for index in itertools.count():
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise WorkloadError(
                f"{what} raised {type(exc).__name__} at item {index}: {exc}"
            ) from exc
        yield _as_args_from_python(item)


def _cycled(
    source: Callable[[int], Iterator[tuple[Any, ...]]], what: str, seed: int, n: int | None
) -> Iterator[tuple[Any, ...]]:
    """``n`` items of the source, restarting it whenever it ends (``None``: one pass)."""
    if n is None:
        yield from source(seed)
        return
    produced = 0
    while produced < n:
        before = produced
        for args in itertools.islice(source(seed), n - produced):
            produced += 1
            yield args
        if produced == before:
            raise WorkloadError(f"inputs {what!r} yielded no inputs")


# ---------------------------------------------------------------------------------- public


def load(
    function: str,
    inputs: str | os.PathLike[str] | None = None,
    *,
    trial_tasks: int | None = None,
    warmup_tasks: int | None = None,
) -> Workload:
    """A user workload from ``"module:function"`` and ``inputs``.

    Parameters
    ----------
    function : str
        ``"module:function"`` (a dotted attribute such as ``"module:Class.method"`` works
        too).  The module is imported from the current directory and ``PYTHONPATH``; the
        function must be defined at module level in a real module, because worker
        processes import it by reference.
    inputs : str
        ``"module:generator"`` (a function that yields one item per task) or the path of a
        JSON-lines file.  See the module docstring for how items become arguments.
    trial_tasks, warmup_tasks : int, optional
        Tasks in a trial's measured window and warm-up, if you know what suits your
        function; otherwise left ``None`` for the tuner to calibrate.

    Raises
    ------
    WorkloadError
        Anything wrong with ``function`` or ``inputs``, with what to do about it.
    """
    fn = _resolve(function, "workload")
    _check_importable(fn, f"workload {function!r}")
    if inputs is None:
        raise WorkloadError(
            f"workload {function!r} needs inputs: --inputs mymodule:make_inputs (a generator "
            "yielding one item per task) or --inputs data.jsonl (one JSON value or argument "
            "list per line)"
        )
    if not isinstance(inputs, str | os.PathLike):
        raise WorkloadError(
            f"inputs must be 'module:generator' or a file path, not {type(inputs).__name__}"
        )
    inputs = os.fspath(inputs)
    if _is_file_spec(inputs):
        source, shape = _file_source(inputs)
    else:
        source, shape = _generator_source(inputs)
    return Workload(
        name=function,
        description=f"{function} on {shape}",
        stresses="your function",
        fn=fn,
        source=functools.partial(_cycled, source, inputs),
        keyed=False,
        trial_tasks=trial_tasks,
        warmup_tasks=warmup_tasks,
    )


def from_function(
    fn: Callable[..., Any],
    inputs: Iterable[Any] | Callable[[], Iterable[Any]],
    *,
    name: str | None = None,
    trial_tasks: int | None = None,
    warmup_tasks: int | None = None,
) -> Workload:
    """A user workload from a function object and its inputs (for the Python API).

    Parameters
    ----------
    fn : callable
        A module-level function of an importable module (not ``__main__``, not a lambda).
    inputs : iterable or callable
        The items (a tuple is the positional arguments, anything else the one argument), or
        a zero-argument callable returning a fresh iterable each time it is called (needed to
        run more tasks than one pass gives, since a plain iterator can be consumed once).
        A list or tuple of items is reusable as it is.

    Raises
    ------
    WorkloadError
        ``fn`` is not callable or cannot be imported by workers, or there are no inputs.
    """
    label = name or f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', fn)!s}"
    if not callable(fn):
        raise WorkloadError(f"workload {label!r} is a {type(fn).__name__}, not a function")
    _check_importable(fn, f"workload {label!r}")
    if callable(inputs):
        make = inputs
    elif isinstance(inputs, list | tuple):
        items = inputs

        def make() -> Iterable[Any]:
            return items
    else:
        # A one-shot iterator: keep what it yields, so the stream can be replayed.
        items = list(inputs)

        def make() -> Iterable[Any]:
            return items

    def source(seed: int) -> Iterator[tuple[Any, ...]]:
        del seed
        try:
            iterator = iter(make())
        except Exception as exc:
            raise WorkloadError(f"inputs of {label!r} raised {type(exc).__name__}: {exc}") from exc
        return _guarded(iterator, f"inputs of {label!r}")

    if next(source(0), _EMPTY) is _EMPTY:
        raise WorkloadError(f"workload {label!r} has no inputs (the stream is empty)")
    return Workload(
        name=label,
        description=f"{label} on the given inputs",
        stresses="your function",
        fn=fn,
        source=functools.partial(_cycled, source, label),
        keyed=False,
        trial_tasks=trial_tasks,
        warmup_tasks=warmup_tasks,
    )
