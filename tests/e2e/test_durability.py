"""Crash safety: a 202 means durable, kill -9 loses nothing, the queue order survives, a running
job is adopted by the next server, and what a lost run left behind is killed."""
import concurrent.futures
import os
import signal
import time

from conftest import all_gone, helper_pids, supervisor_pid


def test_kill9_after_200_accepted_submissions_loses_none(make_server, tmp_path):
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", data_dir=data)
    # A long job that fills the GPU, so everything after it stays queued.
    blocker = s.submit(params={"seconds": 120, "vram_mb": 23552, "children": 1}).json()
    blocker_running = s.wait_state(blocker["id"], ["running"])
    helpers = helper_pids(data, blocker["id"], 1)

    def submit(i):
        r = s.submit(params={"seconds": 30, "vram_mb": 20000, "output": f"n{i}"},
                     priority=i % 3, name=f"job-{i}")
        assert r.status_code == 202, r.text
        return r.json()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        accepted = list(pool.map(submit, range(200)))
    s.kill9()

    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    ids = [a["id"] for a in accepted]
    assert len(set(ids)) == 200  # 200 distinct jobs were acknowledged
    jobs = [s2.job(i) for i in sorted(ids)]
    # Each came back as it was accepted: parameters, argv, reservation, priority, name.
    for a in accepted:
        after = s2.job(a["id"])
        for field in ("params", "command", "vram_mb", "priority", "name", "task",
                      "submitted_at"):
            assert after[field] == a[field], (field, a, after)
    # The blocker's run outlived its server: adopted, still running, its helpers too.
    b = s2.job(blocker["id"])
    assert b["state"] == "running" and b["started_at"] == blocker_running["started_at"], b
    assert not all_gone(helpers, timeout=0)
    # Same order: only one 20 GB job fits at a time, so they run in id order; the first may
    # already be running, the rest wait at positions that follow the ids.
    queued = [j for j in jobs if j["state"] == "queued"]
    assert len(queued) >= 198
    # Queue order survives: priority first, then submission order (id).
    order = sorted(queued, key=lambda j: (-j["priority"], j["id"]))
    assert [j["queue_position"] for j in order] == list(range(len(queued)))
    assert all(j["state"] in ("queued", "running", "succeeded") for j in jobs)


def test_a_lost_run_with_retries_left_is_queued_again(make_server, tmp_path):
    """The server and the job's supervisor both die: no record of the run is left, so it is
    lost, and the job queues again with its next attempt; what the run left is killed."""
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", data_dir=data)
    job = s.submit(params={"seconds": 60, "children": 1}, max_retries=1).json()
    s.wait_state(job["id"], ["running"])
    helpers = helper_pids(data, job["id"], 1)
    sup = supervisor_pid(data, job["id"])
    s.kill9()
    os.kill(sup, signal.SIGKILL)
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    j = s2.wait_state(job["id"], ["queued", "running"])
    assert j["attempt"] == 2 and "supervisor" in j["warnings"][0], j
    assert all_gone(helpers)


def test_a_lost_run_without_retries_is_interrupted(make_server, tmp_path):
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", data_dir=data)
    job = s.submit(params={"seconds": 60}).json()
    s.wait_state(job["id"], ["running"])
    sup = supervisor_pid(data, job["id"])
    s.kill9()
    os.kill(sup, signal.SIGKILL)
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    j = s2.wait_job(job["id"])
    assert j["state"] == "failed" and j["reason"] == "interrupted", j


def test_sigterm_with_stop_jobs_on_exit_records_the_interrupted_run(make_server, tmp_path):
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", "--kill-grace-s", "2", "--stop-jobs-on-exit",
                    data_dir=data)
    job = s.submit(params={"seconds": 60, "children": 1}).json()
    s.wait_state(job["id"], ["running"])
    helpers = helper_pids(data, job["id"], 1)
    sup = supervisor_pid(data, job["id"])
    assert s.stop() == 0
    assert all_gone(helpers + [sup])
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    j = s2.job(job["id"])
    assert j["state"] == "failed" and j["reason"] == "interrupted", j
