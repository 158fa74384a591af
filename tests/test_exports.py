"""The public front doors: every name in ``__all__`` imports, and ``kernels`` stands alone."""

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["kernels", "tuner"])
def test_every_public_name_imports(package):
    module = importlib.import_module(package)
    assert module.__all__, f"{package}.__all__ is empty"
    assert len(set(module.__all__)) == len(module.__all__), "duplicate names in __all__"
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_kernels_does_not_import_tuner():
    code = (
        "import sys, kernels; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tuner'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def test_kernels_source_never_names_tuner():
    import pathlib

    import kernels

    root = pathlib.Path(kernels.__file__).parent
    offenders = [
        p.name
        for p in root.glob("*.py")
        if any(
            line.strip().startswith(("import tuner", "from tuner"))
            for line in p.read_text().splitlines()
        )
    ]
    assert offenders == []
