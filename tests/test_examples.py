"""docs/examples/ run as scripts and print what their README says (the seed's example, done right).

Each script runs in a subprocess with a timeout; ``subprocess.run`` kills it on timeout, so a
hang (the original bug) fails the test instead of stalling the run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
TIMEOUT_S = 120
TOTAL = sum(i * i for i in range(1000))  # 332833500


def run_example(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_thread_version_ends_every_worker_and_handles_every_item():
    assert run_example("queue_workers_threads.py") == f"threads: 1000 items, total {TOTAL}\n"


@pytest.mark.slow
def test_the_pool_version_does_the_same_job_and_shuts_down():
    assert run_example("queue_workers_pool.py") == f"pool: 1000 items, total {TOTAL}, 10 workers\n"


def test_the_readme_shows_what_the_scripts_print():
    readme = (EXAMPLES / "README.md").read_text()
    assert "threading.Queue" in readme and "queue.Queue" in readme
    shown = re.findall(r"^python docs/examples/(\S+)\s+# (.+)$", readme, re.M)
    assert dict(shown) == {
        "queue_workers_threads.py": f"threads: 1000 items, total {TOTAL}",
        "queue_workers_pool.py": f"pool: 1000 items, total {TOTAL}, 10 workers",
    }
