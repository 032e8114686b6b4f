"""The supervisor launcher (issue 23): a server forks each run's supervisor from one launcher
process instead of exec'ing it. Killed with jobs running, the jobs run on and the next job gets a
new launcher; stopped while it holds a request, it is replaced and the job starts once; when its
fork fails, the run is started the old way (spawned). Which way each run took is counted in
/metrics (vramq_supervisor_starts_total{via})."""
import os
import re
import signal
import time
from pathlib import Path

import pytest

from conftest import SLOW, all_gone, process_alive, supervisor_pid


def launcher_of(server):
    """The PID of the server's launcher (a child of the server running `--launcher`), or None."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if ppid == server.proc.pid and b"--launcher" in cmdline and process_alive(int(entry.name)):
            return int(entry.name)
    return None


def starts(server):
    text = server.get("/metrics").text
    return {via: int(n) for via, n in
            re.findall(r'^vramq_supervisor_starts_total\{via="(\w+)"\} (\d+)$', text, re.M)}


def run_once(server, name):
    """A job that appends a line to a file each time it runs; returns the finished job."""
    cmd = ["/bin/sh", "-c", f"echo ran >> {name}; echo done"]
    job = server.post("/v1/jobs", {"command": cmd, "vram_mb": 100}).json()
    return server.wait_job(job["id"])


def test_killed_with_jobs_running_the_jobs_run_on_and_a_new_launcher_starts(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    cmd = ["/bin/sh", "-c", "sleep 1.5; echo finished"]
    jobs = [s.post("/v1/jobs", {"command": cmd, "vram_mb": 100}).json()["id"] for _ in range(2)]
    for j in jobs:
        s.wait_state(j, ["running"])
    sups = [supervisor_pid(s.data_dir, j) for j in jobs]
    first = launcher_of(s)
    assert first is not None, "no launcher runs"
    os.kill(first, signal.SIGKILL)
    assert all_gone([first])
    assert all(process_alive(p) for p in sups), "a supervisor died with the launcher"
    for j in jobs:
        done = s.wait_job(j)
        assert done["state"] == "succeeded" and done["output"] == "finished\n", done
    done = run_once(s, "runs")
    assert done["state"] == "succeeded", done
    second = launcher_of(s)
    assert second is not None and second != first
    assert starts(s) == {"launcher": 3, "spawn": 0}


def test_a_killed_launcher_does_not_stop_the_next_server_adopting_its_runs(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.post("/v1/jobs", {"command": ["/bin/sh", "-c", "sleep 2; echo adopted"],
                              "vram_mb": 100}).json()["id"]
    s.wait_state(job, ["running"])
    os.kill(launcher_of(s), signal.SIGKILL)
    s.kill9()
    s2 = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", data_dir=s.data_dir)
    done = s2.wait_job(job)
    assert done["state"] == "succeeded" and done["output"] == "adopted\n", done
    assert done["attempt"] == 1


def test_a_stalled_launcher_is_replaced_and_the_job_starts_once(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    assert run_once(s, "warm")["state"] == "succeeded"  # the launcher runs
    stalled = launcher_of(s)
    os.kill(stalled, signal.SIGSTOP)
    try:
        done = run_once(s, "runs")
        assert done["state"] == "succeeded" and done["attempt"] == 1, done
        assert (Path(s.data_dir) / "jobs" / str(done["id"]) / "runs").read_text() == "ran\n"
        assert all_gone([stalled]), "the stalled launcher was not killed"
        # Killed holding the request, it never forked: the run was spawned instead.
        assert starts(s) == {"launcher": 1, "spawn": 1}
        # A launcher that stalled is not started again for a second; then the next run gets one.
        time.sleep(1.2)
        assert run_once(s, "again")["state"] == "succeeded"
        assert launcher_of(s) not in (None, stalled)
        assert starts(s) == {"launcher": 2, "spawn": 1}
    finally:
        try:
            os.kill(stalled, signal.SIGCONT)
        except ProcessLookupError:
            pass


PIDS = Path("/sys/fs/cgroup/pids")


def test_a_fork_that_fails_falls_back_to_a_spawn(make_server):
    # The launcher alone in a pids cgroup that allows one task: its forks fail (EAGAIN), as on
    # a host out of processes for it.
    if not (PIDS / "tasks").exists() or not os.access(PIDS, os.W_OK):
        pytest.skip("no writable cgroup v1 pids hierarchy here")
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    assert run_once(s, "warm")["state"] == "succeeded"
    launcher = launcher_of(s)
    group = PIDS / f"vramq-test-{os.getpid()}-{launcher}"
    group.mkdir()
    try:
        (group / "pids.max").write_text("1")
        (group / "cgroup.procs").write_text(str(launcher))
        done = run_once(s, "runs")
        assert done["state"] == "succeeded" and done["output"] == "done\n", done
        assert (Path(s.data_dir) / "jobs" / str(done["id"]) / "runs").read_text() == "ran\n"
        assert starts(s) == {"launcher": 1, "spawn": 1}
        assert launcher_of(s) == launcher, "a launcher whose fork failed is kept"
    finally:
        if process_alive(launcher):
            (PIDS / "cgroup.procs").write_text(str(launcher))
        deadline = time.time() + 5 * SLOW
        while group.exists() and time.time() < deadline:
            try:
                group.rmdir()
            except OSError:
                time.sleep(0.05)
