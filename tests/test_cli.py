import subprocess
import sys

from tuner.cli import main


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_unknown_command_is_usage_error(capsys):
    assert main(["frobnicate"]) == 2


def test_module_entry_point_exit_code():
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "optimize", "--budget", "soon"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "soon" in proc.stderr


def test_keys_subcommand_is_delegated(tmp_path, capsys):
    target = tmp_path / "keys"
    assert main(["keys", str(target)]) == 0
    assert (target / "broker.key").exists()
    assert "python -m tuner worker --connect" in capsys.readouterr().out
    assert main(["keys", str(target)]) == 1  # refuses to overwrite without --force


def test_keys_subcommand_bad_usage():
    assert main(["keys"]) == 2


def test_help_lists_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("optimize", "report", "workloads", "keys", "worker"):
        assert name in out
