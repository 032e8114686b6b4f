"""Crash safety: a 202 means durable, kill -9 loses nothing, the queue order survives, and what a
crashed run left behind is killed."""
import concurrent.futures
import time

from conftest import all_gone, helper_pids


def test_kill9_after_200_accepted_submissions_loses_none(make_server, tmp_path):
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", data_dir=data)
    # A long job that fills the GPU, so everything after it stays queued.
    blocker = s.submit(params={"seconds": 120, "vram_mb": 23552, "children": 1}).json()
    s.wait_state(blocker["id"], ["running"])
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
    # The blocker's run is lost with its server: failed/interrupted, its helpers killed.
    b = s2.job(blocker["id"])
    assert b["state"] == "failed" and b["reason"] == "interrupted", b
    assert all_gone(helpers)
    # Same order: only one 20 GB job fits at a time, so they run in id order; the first may
    # already be running, the rest wait at positions that follow the ids.
    queued = [j for j in jobs if j["state"] == "queued"]
    assert len(queued) >= 198
    # Queue order survives: priority first, then submission order (id).
    order = sorted(queued, key=lambda j: (-j["priority"], j["id"]))
    assert [j["queue_position"] for j in order] == list(range(len(queued)))
    assert all(j["state"] in ("queued", "running", "succeeded") for j in jobs)


def test_a_running_job_with_retries_left_is_queued_again_after_a_crash(make_server, tmp_path):
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", data_dir=data)
    job = s.submit(params={"seconds": 60}, max_retries=1).json()
    s.wait_state(job["id"], ["running"])
    s.kill9()
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    j = s2.wait_state(job["id"], ["queued", "running"])
    assert j["attempt"] == 2 and "interrupted" in j["error"]


def test_sigterm_drains_and_records_the_interrupted_run(make_server, tmp_path):
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", "--kill-grace-s", "2", data_dir=data)
    job = s.submit(params={"seconds": 60}).json()
    s.wait_state(job["id"], ["running"])
    assert s.stop() == 0
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    j = s2.job(job["id"])
    assert j["state"] == "failed" and j["reason"] == "interrupted", j
    assert j["finished_at"] is not None
