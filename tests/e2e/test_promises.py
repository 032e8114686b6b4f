"""Promises of the docs that had no test: drain (503, /readyz, `draining`, a retry queued for the
next start), the job environment built from scratch, the backfill bound end to end, a retry after
vram_exceeded, following a queued job's log, the polling fallback of log follows, and the value of
Retry-After."""
import os
import signal
import threading
import time
from pathlib import Path

import requests

from conftest import BIN, SLOW, helper_pids

FAKE_MODEL = str(Path(BIN).parent / "vramq-fake-model")


def test_drain_refuses_new_work_and_requeues_a_run_with_retries_left(make_server, tmp_path):
    data = tmp_path / "data"
    # A run that ignores SIGTERM keeps the drain going for the kill grace: time to look. Once
    # the grace is over the server exits, and a request still on its way then meets a reset
    # (seen once, with 3 s on a loaded machine): 5 s, stretched like every deadline here.
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--kill-grace-s",
                    str(5 * SLOW), "--stop-jobs-on-exit", data_dir=data)
    stubborn = s.post("/v1/jobs", {"command": [FAKE_MODEL, "--seconds", "60", "--ignore-sigterm",
                                               "1", "--children", "1", "--out-dir", "."],
                                   "vram_mb": 20000, "max_retries": 1}).json()
    s.wait_state(stubborn["id"], ["running"])
    # Its helper is started after it ignores SIGTERM: until then the drain's SIGTERM could end it
    # at once, and the server with it, while the requests below are on their way (seen under
    # load: "connection reset" polling /readyz).
    helper_pids(data, stubborn["id"], 1)
    waiting = s.submit(params={"seconds": 0, "vram_mb": 20000}).json()
    assert waiting["pending_reason"] == "vram"
    # The listener closes at once; a connection already open is answered until the end.
    conn = requests.Session()
    assert conn.get(f"{s.url}/readyz", timeout=10).status_code == 200
    s.proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 5 * SLOW
    while conn.get(f"{s.url}/readyz", timeout=10).status_code != 503:
        assert time.time() < deadline, "never draining"
        time.sleep(0.02)
    r = conn.post(f"{s.url}/v1/jobs", json={"task": "fake-model"}, timeout=10)
    assert r.status_code == 503 and "shutting down" in r.json()["detail"], r.text
    j = conn.get(f"{s.url}/v1/jobs/{waiting['id']}", timeout=10).json()
    assert j["pending_reason"] == "draining", j
    assert s.proc.wait(timeout=30 * SLOW) == 0
    s.log.close()
    s2 = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", data_dir=data)
    again = s2.job(stubborn["id"])
    assert again["state"] in ("queued", "running") and again["attempt"] == 2, again
    assert "shut down" in again["warnings"][0], again
    s2.delete(f"/v1/jobs/{stubborn['id']}")


def test_the_job_environment_is_built_from_scratch(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands",
                    env={"VRAMQ_TEST_SECRET": "server-only", "HOME": "/home/vramq-test"})
    job = s.post("/v1/jobs?wait=30", {"command": ["/usr/bin/env"], "vram_mb": 0,
                                      "env": {"MY_SETTING": "1"}}).json()
    env = dict(line.split("=", 1) for line in job["output"].splitlines() if "=" in line)
    assert "VRAMQ_TEST_SECRET" not in env  # nothing of the server's leaks in
    assert env["HOME"] == "/home/vramq-test" and "PATH" in env  # the few inherited ones do
    assert env["MY_SETTING"] == "1" and env["VRAMQ_JOB_ID"] == str(job["id"])
    allowed = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "MY_SETTING",
               "CUDA_VISIBLE_DEVICES", "VRAMQ_JOB_ID", "VRAMQ_VRAM_MB", "VRAMQ_GPU", "VRAMQ_GPUS",
               "VRAMQ_JOB_DIR", "VRAMQ_SIM_VRAM_FILE", "VRAMQ_PROGRESS_FILE"}
    assert set(env) <= allowed, set(env) - allowed


def test_the_backfill_bound_holds_the_gpu_for_a_waiting_job(make_server):
    s = make_server("--gpus", "sim:24GiB", "--backfill-bound-s", "1")
    blocker = s.submit(params={"seconds": 4 * SLOW, "vram_mb": 12000}).json()
    s.wait_state(blocker["id"], ["running"])
    big = s.submit(params={"seconds": 0, "vram_mb": 20000}).json()  # waits for the blocker
    small = s.submit(params={"seconds": 0, "vram_mb": 4000}).json()
    assert s.wait_job(small["id"])["state"] == "succeeded"  # backfilled within the bound
    time.sleep(1.2)  # the big job is now past the 1 s bound: it holds the GPU
    late = s.submit(params={"seconds": 0, "vram_mb": 4000}).json()
    assert late["state"] == "queued" and late["pending_reason"] == "head_of_line", late
    done_big = s.wait_job(big["id"])
    done_late = s.wait_job(late["id"])
    assert done_late["started_at"] >= done_big["started_at"], (done_big, done_late)


def test_a_run_stopped_for_vram_is_retried_with_more(make_server):
    s = make_server("--gpus", "sim:24GiB", "--gpu-poll-ms", "50", "--vram-grace-ms", "200")
    job = s.submit(params={"seconds": 3, "vram_mb": 1000, "grow_to_mb": 4000},
                   max_retries=1).json()
    deadline = time.time() + 20 * SLOW
    while True:
        j = s.job(job["id"])
        if j["attempt"] == 2:
            break
        assert time.time() < deadline, j
        time.sleep(0.05)
    assert j["vram_mb"] >= 1500, j  # 1.5x the reservation, or more than the peak seen
    assert "vram_exceeded" in j["warnings"][0] or "above its reservation" in j["warnings"][0], j
    s.delete(f"/v1/jobs/{job['id']}")


def test_following_a_queued_job_waits_for_it_to_start(server):
    blocker = server.submit(params={"seconds": 1.5, "vram_mb": 20000}).json()
    server.wait_state(blocker["id"], ["running"])
    queued = server.submit(params={"seconds": 0.2, "vram_mb": 20000, "output": "late"}).json()
    assert queued["state"] == "queued"
    r = requests.get(f"{server.url}/v1/jobs/{queued['id']}/log?follow=1", timeout=30 * SLOW)
    assert r.status_code == 200 and '"output": "late"' in r.text, r.text


def test_followers_without_inotify_poll(make_server):
    s = make_server("--gpus", "sim:24GiB", "--log-follow", "poll")
    assert "poll every 2 s" in s.log_path.read_text()
    job = s.submit(params={"seconds": 2, "output": "polled"}).json()
    got = []
    t = threading.Thread(target=lambda: got.append(requests.get(
        f"{s.url}/v1/jobs/{job['id']}/log?stream=stderr&follow=1", timeout=60 * SLOW).text))
    t.start()
    t.join(30 * SLOW)
    assert got and "progress 100%" in got[0], got
    assert "polled" in s.get(f"/v1/jobs/{job['id']}/log").text


def test_retry_after_follows_the_running_jobs(make_server):
    s = make_server("--gpus", "sim:24GiB", "--queue-max", "1")
    blocker = s.submit(params={"seconds": 30, "vram_mb": 23000}).json()
    s.wait_state(blocker["id"], ["running"])
    s.submit(params={"seconds": 0, "vram_mb": 23000})  # fills the queue of one
    r = s.submit(params={"seconds": 0, "vram_mb": 23000})
    # No run has ended yet: the prior mean run time (10 s) over the one running job.
    assert r.status_code == 429 and r.headers["Retry-After"] == "10", r.headers
    s.delete(f"/v1/jobs/{blocker['id']}")
