"""A quick run of each benchmark script (1 s per row, 1 run), so that `make bench` cannot rot:
each must finish and print its table. The numbers are not looked at (the machine is noisy);
docs/benchmarks.md has the real runs. Release build only: the scripts measure build/vramq."""
import os
import shutil
import subprocess

import pytest

from conftest import REPO

pytestmark = [
    pytest.mark.skipif(os.environ.get("VRAMQ_SANITIZED") == "1",
                       reason="benchmarks measure the release build"),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
]


def run(*args, timeout=120):
    r = subprocess.run(["bash", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_submits_benchmark_runs():
    out = run("bench/submits.sh", "1", "1")
    assert "| POST /v1/jobs, durable 202 | 64 |" in out and "| /healthz |" in out, out


def test_completed_memory_benchmark_runs():
    out = run("bench/completed_memory.sh", "200", "1")
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2 and int(rows[-1].split("|")[1]) >= 200, out


@pytest.mark.skipif(not (REPO.parent / "shared" / "peers" / "seed_fastapi").exists(),
                    reason="the seed peer (../shared/peers) is not beside this checkout")
def test_dispatch_benchmark_runs():
    out = run("bench/dispatch.sh", "1", "1", timeout=180)
    assert "| seed POST /run-script | 8 |" in out and "spawn ceiling" in out, out
