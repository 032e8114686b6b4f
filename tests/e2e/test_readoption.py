"""Jobs outlive the server: each runs under its own supervisor, which the next server re-adopts
(after kill -9 or SIGTERM), which ends the job when no server comes back within
--orphan-grace-s, and which keeps a record of the job's end for a server that was away."""
import os
import signal
import time
from pathlib import Path

import requests

from conftest import BIN, SLOW, all_gone, descendants, helper_pids, process_alive, supervisor_pid

FAKE_MODEL = str(Path(BIN).parent / "vramq-fake-model")
# A job that runs until the test creates `release` in its directory, then prints its own PID.
UNTIL_RELEASED = ["/bin/sh", "-c",
                  "echo $$ > job.pid; while [ ! -e release ]; do sleep 0.05; done; "
                  "echo ran >> runs; echo done-$$"]


def job_dir(s, job_id):
    return s.data_dir / "jobs" / str(job_id)


def job_pid(s, job_id):
    path = job_dir(s, job_id) / "job.pid"
    deadline = time.time() + 10 * SLOW
    while time.time() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never wrote its pid")


def restart(make_server, s, how, *args):
    if how == "kill9":
        s.kill9()
    else:
        assert s.stop() == 0
    return make_server(*s.args, *args, data_dir=s.data_dir)


def test_a_running_job_is_adopted_after_kill9_and_after_sigterm(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.post("/v1/jobs", {"command": UNTIL_RELEASED, "vram_mb": 1000}).json()
    running = s.wait_state(job["id"], ["running"])
    pid = job_pid(s, job["id"])
    for how in ("kill9", "sigterm"):
        s = restart(make_server, s, how)
        again = s.job(job["id"])
        assert again["state"] == "running", again
        assert again["started_at"] == running["started_at"] and again["attempt"] == 1, again
        assert again["gpu"] == running["gpu"]
        assert process_alive(pid)
        assert "adopted" in s.log_path.read_text()
    (job_dir(s, job["id"]) / "release").touch()
    done = s.wait_job(job["id"])
    assert done["state"] == "succeeded" and done["exit_code"] == 0, done
    assert done["output"] == f"done-{pid}\n"
    assert (job_dir(s, job["id"]) / "runs").read_text() == "ran\n"
    # One run slot served it, and is free again (not held) once its end is stored.
    assert [p.name for p in (s.data_dir / "run").iterdir()] == ["slot-0"]


def test_one_job_survives_20_restarts(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.post("/v1/jobs", {"command": UNTIL_RELEASED, "vram_mb": 1000}).json()
    started = s.wait_state(job["id"], ["running"])["started_at"]
    pid = job_pid(s, job["id"])
    for i in range(20):
        s = restart(make_server, s, "kill9" if i % 2 == 0 else "sigterm")
        j = s.job(job["id"])
        assert j["state"] == "running" and j["started_at"] == started, (i, j)
    # Followers and waiters work on the adopted job.
    with requests.get(f"{s.url}/v1/jobs/{job['id']}/log?follow=1", stream=True,
                      timeout=30 * SLOW) as follow:
        (job_dir(s, job["id"]) / "release").touch()
        done = s.wait_job(job["id"])
        assert f"done-{pid}".encode() in follow.raw.read()
    assert done["state"] == "succeeded" and done["output"] == f"done-{pid}\n", done
    assert (job_dir(s, job["id"]) / "runs").read_text() == "ran\n"


def test_an_adopted_job_holds_its_memory_right_after_the_restart(make_server):
    s = make_server("--gpus", "sim:24GiB")
    big = s.submit(params={"seconds": 60, "vram_mb": 14336}).json()
    s.wait_state(big["id"], ["running"])
    s = restart(make_server, s, "kill9")
    # 14 + 14 GiB + the 1 GiB buffer do not fit on 24 GiB: the second must wait.
    second = s.submit(params={"seconds": 1, "vram_mb": 14336}).json()
    assert second["state"] == "queued" and second["pending_reason"] == "vram", second
    time.sleep(0.5)
    assert s.job(second["id"])["state"] == "queued"
    gpu = s.get("/v1/gpus").json()["gpus"][0]
    assert big["id"] in gpu["jobs"] and gpu["reserved_mb"] == 14336, gpu


def test_past_the_orphan_grace_the_job_is_ended_and_recorded_interrupted(make_server):
    s = make_server("--gpus", "sim:24GiB", "--orphan-grace-s", "3", "--kill-grace-s", "1")
    job = s.submit(params={"seconds": 120, "children": 2}).json()
    s.wait_state(job["id"], ["running"])
    helpers = helper_pids(s.data_dir, job["id"], 2)
    sup = supervisor_pid(s.data_dir, job["id"])
    everything = helpers + [sup] + descendants(sup)
    s.kill9()
    time.sleep(1)
    assert process_alive(sup)  # still within the grace
    assert all_gone(everything, timeout=10), "the job outlived the orphan grace"
    s = make_server(*s.args, data_dir=s.data_dir)
    j = s.wait_job(job["id"])
    assert j["state"] == "failed" and j["reason"] == "interrupted", j
    assert "--orphan-grace-s" in j["error"], j


def test_a_job_that_ended_while_the_server_was_away_keeps_its_own_end(make_server):
    s = make_server("--gpus", "sim:24GiB")
    ok = s.submit(params={"seconds": 0.5, "output": "fine"}).json()
    bad = s.submit(params={"seconds": 0.5, "exit_code": 3}).json()
    s.wait_state(ok["id"], ["running"])
    s.wait_state(bad["id"], ["running"])
    sups = [supervisor_pid(s.data_dir, ok["id"]), supervisor_pid(s.data_dir, bad["id"])]
    s.kill9()
    assert all_gone(sups, timeout=10)  # both ended with nobody attached
    s = make_server(*s.args, data_dir=s.data_dir)
    good = s.wait_job(ok["id"])
    assert good["state"] == "succeeded" and "fine" in good["output"], good
    failed = s.wait_job(bad["id"])
    assert failed["state"] == "failed" and failed["reason"] == "nonzero_exit", failed
    assert failed["exit_code"] == 3


def test_a_server_killed_right_after_the_spawn_adopts_the_job_and_runs_it_once(make_server):
    # Injected from outside (tests/fakes/crash_after_spawn.c): it dies right after spawning the
    # job's supervisor, before it stores the start.
    shim = Path(BIN).parent / "libvramq-crash-after-spawn.so"
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands",
                    env={"LD_PRELOAD": str(shim), "VRAMQ_TEST_CRASH_AFTER_SPAWN": "1",
                         "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                         ":verify_asan_link_order=0"})
    cmd = ["/bin/sh", "-c", "echo ran >> runs; sleep 1; echo once"]
    try:
        s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000})
    except requests.ConnectionError:
        pass  # it died before it could answer: the job was stored all the same
    s.proc.wait(timeout=10 * SLOW)
    assert s.proc.returncode == -signal.SIGKILL
    s.log.close()
    s2 = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", data_dir=s.data_dir)
    jobs = s2.get("/v1/jobs").json()["jobs"]
    assert len(jobs) == 1, jobs
    done = s2.wait_job(jobs[0]["id"])
    assert done["state"] == "succeeded" and done["output"] == "once\n", done
    assert done["attempt"] == 1
    assert (job_dir(s2, done["id"]) / "runs").read_text() == "ran\n"


def test_descendants_in_their_own_session_or_double_forked_end_with_the_job(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    cmd = ["/bin/sh", "-c", "setsid sleep 300 & echo $! > escaped.pid; "
           "(sh -c 'sleep 300 & echo $! > orphan.pid' &); sleep 0.3"]
    job = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000}).json()
    done = s.wait_job(job["id"])
    assert done["state"] == "succeeded", done
    pids = [int((job_dir(s, job["id"]) / name).read_text()) for name in ("escaped.pid", "orphan.pid")]
    assert all_gone(pids), f"{pids} outlived their job"
    # And a cancel reaches them too.
    cmd = ["/bin/sh", "-c", "setsid sleep 300 & echo $! > escaped.pid; sleep 300"]
    job = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000}).json()
    s.wait_state(job["id"], ["running"])
    path = job_dir(s, job["id"]) / "escaped.pid"
    deadline = time.time() + 10 * SLOW
    while not (path.exists() and path.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    escaped = int(path.read_text())
    assert s.delete(f"/v1/jobs/{job['id']}").status_code == 202
    assert s.wait_job(job["id"])["state"] == "cancelled"
    assert all_gone([escaped])


def test_a_timeout_of_a_job_that_ignores_sigterm_ends_it_with_sigkill(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--kill-grace-s", "1")
    cmd = [FAKE_MODEL, "--seconds", "60", "--children", "1", "--ignore-sigterm", "1",
           "--out-dir", "."]
    job = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000, "timeout_s": 1}).json()
    pids = helper_pids(s.data_dir, job["id"], 1)
    done = s.wait_job(job["id"], timeout=20)
    assert done["state"] == "timed_out" and done["signal"] == 9, done
    assert all_gone(pids)


def test_sigterm_leaves_jobs_running_and_says_so(make_server):
    s = make_server("--gpus", "sim:24GiB")
    job = s.submit(params={"seconds": 60}).json()
    s.wait_state(job["id"], ["running"])
    sup = supervisor_pid(s.data_dir, job["id"])
    assert s.stop() == 0
    log = s.log_path.read_text()
    assert "1 jobs keep running under their supervisors" in log and "60 s" in log, log[-2000:]
    assert process_alive(sup)
    os.kill(sup, signal.SIGTERM)  # the supervisor relays it: the job ends, so does it
    assert all_gone([sup], timeout=10)


def test_measurement_and_enforcement_resume_on_an_adopted_job(make_server):
    # The first server tolerates the growth for a minute; the one that adopts the job does not.
    s = make_server("--gpus", "sim:24GiB", "--vram-grace-ms", "60000")
    job = s.submit(params={"seconds": 30, "vram_mb": 1000, "grow_to_mb": 20000}).json()
    s.wait_state(job["id"], ["running"])
    s.kill9()
    s = make_server("--gpus", "sim:24GiB", "--vram-grace-ms", "200", data_dir=s.data_dir)
    done = s.wait_job(job["id"])
    assert done["state"] == "failed" and done["reason"] == "vram_exceeded", done
    assert done["peak_vram_mb"] > 1100, done
