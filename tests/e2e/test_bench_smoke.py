"""A quick run of each benchmark script (1 s per row, 1 run), so that `make bench` cannot rot:
each must finish and print its table. The numbers are not looked at (the machine is noisy);
docs/benchmarks.md has the real runs. Release build only: the scripts measure build/vramq."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import REPO

pytestmark = [
    pytest.mark.skipif(os.environ.get("VRAMQ_SANITIZED") == "1",
                       reason="benchmarks measure the release build"),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
]


def session_members(sid):
    """PIDs of live processes in session `sid` (zombies count as gone)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(d))
    return out


def run(*args, timeout=120, env=None):
    """Runs a bench script in a session of its own; it must leave no process of it behind."""
    p = subprocess.Popen(["bash", *args], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env=dict(os.environ, **(env or {})))
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
            p.wait()
    deadline = time.time() + 5
    while session_members(p.pid) and time.time() < deadline:
        time.sleep(0.05)
    left = session_members(p.pid)
    for pid in left:
        os.kill(pid, 9)
    assert not left, f"{args[0]} left processes behind: {left}"
    assert p.returncode == 0, out + err
    return out


def test_submits_benchmark_runs():
    out = run("bench/submits.sh", "1", "1")
    assert "| POST /v1/jobs, durable 202 | 64 |" in out and "| /healthz |" in out, out


def test_events_benchmark_runs():
    out = run("bench/events.sh", "1", "1", "2")
    assert "| events on, 2 listeners |" in out and "| events off (--event-ring-size 0) |" in out, out


def test_completed_memory_benchmark_runs():
    out = run("bench/completed_memory.sh", "200", "1")
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2 and int(rows[-1].split("|")[1]) >= 200, out


@pytest.mark.skipif(not (REPO.parent / "shared" / "peers" / "seed_fastapi").exists(),
                    reason="the seed peer (../shared/peers) is not beside this checkout")
def test_dispatch_benchmark_runs():
    # 2,000 spawns per ceiling row, not 20,000: beside the rest of the suite (and clang-tidy) the
    # machine's spawn rate falls to a few hundred a second, and 40,000 spawns took minutes.
    out = run("bench/dispatch.sh", "1", "1", timeout=240, env={"SPAWNS": "2000"})
    assert "| seed POST /run-script | 8 |" in out and "spawn ceiling" in out, out


def test_start_latency_benchmark_runs():
    out = run("bench/start_latency.sh", "5")
    assert "| vramq |" in out and "| the job spawned directly (no server) |" in out, out
