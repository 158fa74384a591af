import subprocess
import sys

from tuner.cli import main


def test_optimize_says_not_yet_implemented(capsys):
    assert main(["optimize"]) == 2
    err = capsys.readouterr().err
    assert "not yet implemented" in err
    assert "docs/index.md" in err


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_unknown_command_is_usage_error(capsys):
    assert main(["frobnicate"]) == 2


def test_module_entry_point_exit_code():
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "optimize"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "not yet implemented" in proc.stderr
