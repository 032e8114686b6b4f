"""What the data directory shows other local users (issue 11, item 3), and how large a job's logs
may grow (item 8): the directory and everything in it is private to vramq's user, clients' env
values do not outlive their job in the store, and a log stops at its cap with the job stopped."""
import os
import sqlite3
import stat
import time

from conftest import SLOW


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_data_directory_and_what_is_in_it_are_private(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.post("/v1/jobs?wait=30", {
        "command": ["/bin/sh", "-c", "echo out; echo err >&2; umask > umask.txt"],
        "env": {"HF_TOKEN": "hf_do_not_keep_this"}}).json()
    assert job["state"] == "succeeded", job
    data = s.data_dir
    assert mode(data) == 0o700
    job_dir = data / "jobs" / str(job["id"])
    assert mode(data / "jobs") == 0o700 and mode(job_dir) == 0o700
    for log in ("stdout.log", "stderr.log"):
        assert mode(job_dir / log) == 0o600, log
    for name in os.listdir(data):
        if name.startswith("vramq.db"):
            assert mode(data / name) & 0o077 == 0, (name, oct(mode(data / name)))
    # The job itself keeps the umask vramq was started with (the test's), not the server's 077.
    ours = os.umask(0)
    os.umask(ours)
    assert (job_dir / "umask.txt").read_text().strip() == f"{ours:04o}"
    # The ended job's row names the variable but no longer holds its value (the answer can come
    # a moment before the final row is durable: wait for it).
    db = sqlite3.connect(data / "vramq.db")
    deadline = time.time() + 10 * SLOW
    while True:
        state, env = db.execute("SELECT state, env FROM jobs WHERE id = ?",
                                (job["id"],)).fetchone()
        if state == "succeeded" or time.time() > deadline:
            break
        time.sleep(0.05)
    db.close()
    assert state == "succeeded"
    assert "HF_TOKEN" in env and "hf_do_not_keep_this" not in env, env


def test_an_open_existing_data_directory_is_warned_about(make_server, tmp_path):
    data = tmp_path / "open-data"
    data.mkdir()
    data.chmod(0o755)
    s = make_server("--gpus", "sim:24GiB", data_dir=data)
    assert f"the data directory {data} is open to every user (mode 0755)" in \
        s.log_path.read_text()
    assert f"chmod 700 {data}" in s.log_path.read_text()


def test_a_group_may_be_let_in(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--share-data-with-group")
    job = s.submit(wait=30, params={"seconds": 0}).json()
    assert job["state"] == "succeeded"
    assert mode(s.data_dir) == 0o750
    assert mode(s.data_dir / "jobs" / str(job["id"]) / "stdout.log") == 0o640
    assert "open to" not in s.log_path.read_text()


def test_a_log_past_its_cap_stops_the_job_and_says_so(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--log-limit-bytes", "1000000")
    # The review's 1.5 GB stdout.log, written as fast as the machine can (200 MB here, so that a
    # broken cap fails the test instead of filling the disk).
    job = s.post("/v1/jobs?wait=60", {"command": ["/bin/sh", "-c", "yes | head -c 200000000"],
                                      "max_retries": 2}).json()
    assert job["state"] == "failed", job
    assert job["reason"] == "log_limit"
    assert "stdout.log reached the limit of 1000000 bytes" in job["error"]
    assert job["attempt"] == 1, "a log past its cap is not retried: it would fill up again"
    log = s.data_dir / "jobs" / str(job["id"]) / "stdout.log"
    size = log.stat().st_size
    assert 1000000 < size < 1000000 + 300, size
    tail = s.get(f"/v1/jobs/{job['id']}/log").content[-200:]
    assert b"[vramq] stdout.log reached its limit of 1000000 bytes" in tail
    # Under the cap, output is whole and the job is fine.
    ok = s.post("/v1/jobs?wait=60",
                {"command": ["/bin/sh", "-c", "head -c 900000 /dev/zero | tr '\\0' y"]}).json()
    assert ok["state"] == "succeeded", ok
    assert (s.data_dir / "jobs" / str(ok["id"]) / "stdout.log").stat().st_size == 900000


def test_logs_follow_through_the_supervisor_as_they_are_written(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.post("/v1/jobs", {"command": ["/bin/sh", "-c",
                                          "echo first; sleep 1; echo second; sleep 60"]}).json()
    s.wait_state(job["id"], ["running"])
    deadline = time.time() + 10 * SLOW
    while b"second" not in s.get(f"/v1/jobs/{job['id']}/log").content:
        assert time.time() < deadline, "a running job's output did not reach its log"
        time.sleep(0.1)
    s.delete(f"/v1/jobs/{job['id']}")
