"""Hard faults under the store (issue 11): the data directory's disk fills up, another process
locks the database, fsync fails. Each time the server answers clearly (507 or 503 with
Retry-After, /readyz naming the cause), keeps serving reads, loses nothing it acknowledged, and
recovers by itself once the fault is gone."""
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import BIN, SLOW, eventually


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs with few inodes: it fills up for real (ENOSPC). Needs root."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,nr_inodes=400,mode=0700",
                        "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(directory):
    """Takes every free block and inode of the filesystem; returns what to delete to give them
    back."""
    filler = directory / "filler"
    filler.mkdir()
    with open(filler / "blocks", "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):  # down to the last byte
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError:
                pass
    n = 0
    try:
        while True:
            (filler / f"inode-{n}").touch()
            n += 1
    except OSError:
        pass
    return filler


def unfill(filler):
    for p in filler.iterdir():
        p.unlink()
    filler.rmdir()


def test_a_full_disk_refuses_submissions_with_507_and_recovers(make_server, small_disk):
    s = make_server("--gpus", "sim:24GiB", data_dir=small_disk / "data")
    accepted = [s.submit(params={"seconds": 0}).json()["id"]]
    # A job that is accepted now but can start only after the disk is full.
    blocker = s.submit(params={"seconds": 3, "vram_mb": 20000}).json()
    s.wait_state(blocker["id"], ["running"])
    waiting = s.submit(params={"seconds": 0, "vram_mb": 8000}).json()
    accepted += [blocker["id"], waiting["id"]]
    filler = fill(small_disk)

    # Submissions: 202 while SQLite still has room in its files, then 507, never a 500.
    refused = None
    for _ in range(300):
        r = s.submit(params={"seconds": 0})
        assert r.status_code in (202, 507), r.text
        if r.status_code == 507:
            refused = r
            break
        accepted.append(r.json()["id"])
    assert refused is not None, "the store never noticed the full disk"
    assert int(refused.headers["Retry-After"]) > 0
    assert "disk of the data directory is full" in refused.json()["detail"]
    ready = s.get("/readyz")
    assert ready.status_code == 503 and ready.json()["store"]["fault"] == "full", ready.text
    assert any("cannot write" in c for c in ready.json()["causes"])
    assert s.get(f"/v1/jobs/{accepted[0]}").status_code == 200  # reads are served

    # The blocker ends; the waiting job cannot make its directory: queued again, not failed.
    j = eventually(lambda: (lambda j: j if j["pending_reason"] == "start_failed" else None)(
        s.job(waiting["id"])), 20, "the job that could not start was not queued again")
    assert j["state"] == "queued" and j["attempt"] == 1
    assert any("reason of the host" in w for w in j["warnings"]), j

    unfill(filler)
    eventually(lambda: s.get("/readyz").status_code == 200, 15, "readyz did not recover")
    assert s.submit(params={"seconds": 0}).status_code == 202
    assert s.wait_job(waiting["id"], timeout=90)["state"] == "succeeded"
    assert s.wait_job(blocker["id"])["state"] == "succeeded"
    # Nothing acknowledged is lost, across a restart too: every job, those whose start and end
    # came while the disk was full among them, is back in the state it ended in.
    ended = {job_id: s.wait_job(job_id) for job_id in accepted}
    assert all(j["state"] == "succeeded" for j in ended.values()), ended
    s.stop()
    s.start()
    for job_id, before in ended.items():
        after = s.job(job_id)
        assert (after["state"], after["attempt"], after["exit_code"], after["output"]) == (
            before["state"], before["attempt"], before["exit_code"], before["output"]), (
                job_id, before, after)


def test_a_database_locked_by_another_process(make_server):
    s = make_server("--gpus", "sim:24GiB")
    first = s.submit(params={"seconds": 0}).json()
    other = sqlite3.connect(s.data_dir / "vramq.db", isolation_level=None, timeout=1)
    other.execute("BEGIN IMMEDIATE")
    try:
        r = s.post("/v1/jobs", {"task": "fake-model", "params": {"seconds": 0}},
                   timeout=30 * SLOW)
        assert r.status_code == 503, r.text
        assert "locked by another process" in r.json()["detail"]
        assert int(r.headers["Retry-After"]) > 0
        started = time.time()
        assert s.get(f"/v1/jobs/{first['id']}").status_code == 200  # reads go on
        assert s.get("/v1/jobs").status_code == 200
        assert time.time() - started < 3 * SLOW
        ready = s.get("/readyz")
        assert ready.status_code == 503 and ready.json()["store"]["fault"] == "busy"
    finally:
        other.execute("ROLLBACK")
        other.close()
    eventually(lambda: s.get("/readyz").status_code == 200, 20, "readyz did not recover")
    assert s.submit(wait=30, params={"seconds": 0}).json()["state"] == "succeeded"
    assert s.wait_job(first["id"])["state"] == "succeeded"


def test_failed_fsyncs_refuse_submissions_and_lose_nothing(make_server, tmp_path):
    shim = Path(BIN).parent / "libvramq-fail-fsync.so"
    trigger = tmp_path / "fail-fsync"
    env = {"LD_PRELOAD": str(shim), "VRAMQ_TEST_FAIL_FSYNC": str(trigger),
           # the sanitized build wants its runtime first; the shim is not instrumented
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    s = make_server("--gpus", "sim:24GiB", env=env)
    kept = s.submit(wait=30, params={"seconds": 0}).json()
    assert kept["state"] == "succeeded"
    trigger.touch()
    r = s.submit(params={"seconds": 0})
    assert r.status_code == 503, r.text
    assert "a write or fsync failed" in r.json()["detail"]
    assert s.get("/readyz").json()["store"]["fault"] == "io"
    assert s.get(f"/v1/jobs/{kept['id']}").json()["state"] == "succeeded"
    trigger.unlink()
    eventually(lambda: s.get("/readyz").status_code == 200, 20, "readyz did not recover")
    again = s.submit(wait=30, params={"seconds": 0}).json()
    assert again["state"] == "succeeded"
    s.kill9()  # what was acknowledged is durable without a clean stop
    s.start()
    assert s.get(f"/v1/jobs/{kept['id']}").json()["state"] == "succeeded"
    assert s.get(f"/v1/jobs/{again['id']}").json()["state"] == "succeeded"
    listed = {j["id"] for j in requests.get(s.url + "/v1/jobs", timeout=10).json()["jobs"]}
    assert listed == {kept["id"], again["id"]}, "the refused submission must not appear later"
