"""Job logs over HTTP: whole files streamed in pieces, and follow from a job's start to its end."""
import concurrent.futures
import time

import requests

from conftest import SLOW


def test_log_of_an_ended_job_is_the_whole_file(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    # 3 MB of stdout: the job object keeps the last 64 KiB; the log endpoint has it all.
    job = s.post("/v1/jobs?wait=60", {"command": ["/bin/sh", "-c", "yes hello | head -c 3000000"]}).json()
    assert job["state"] == "succeeded"
    assert len(job["output"]) == 65536
    r = s.get(f"/v1/jobs/{job['id']}/log")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert len(r.content) == 3000000 and r.content.startswith(b"hello\nhello\n")
    assert s.get(f"/v1/jobs/{job['id']}/log?stream=stderr").content == b""


def test_follow_streams_from_start_to_end_for_many_followers(server):
    job = server.submit(params={"seconds": 2}).json()

    def follow():
        started = time.time()
        pieces = []
        with requests.get(f"{server.url}/v1/jobs/{job['id']}/log?stream=stderr&follow=1",
                          stream=True, timeout=60 * SLOW) as r:
            assert r.status_code == 200
            for piece in r.iter_content(chunk_size=None):
                pieces.append((time.time() - started, piece))
        return pieces

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: follow(), range(5)))
    for pieces in results:
        text = b"".join(p for _, p in pieces).decode()
        assert text.splitlines() == ["progress 25%", "progress 50%", "progress 75%", "progress 100%"]
        # Pieces arrived while the job ran, not all at its end.
        assert pieces[-1][0] - pieces[0][0] > 0.8
    assert server.job(job["id"])["state"] == "succeeded"


def test_log_errors(server):
    assert server.get("/v1/jobs/99/log").status_code == 404
    assert server.get("/v1/jobs/abc/log").status_code == 404
    job = server.submit(params={"seconds": 0}).json()
    r = server.get(f"/v1/jobs/{job['id']}/log?stream=both")
    assert r.status_code == 400 and r.json()["field"] == "stream"
    r = server.get(f"/v1/jobs/{job['id']}/log?follow=sometimes")
    assert r.status_code == 400 and r.json()["field"] == "follow"
    assert "1, true, yes, on" in r.json()["detail"]
    r = requests.post(f"{server.url}/v1/jobs/{job['id']}/log", timeout=30)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"


def test_cli_logs_follow(server):
    job = server.submit(params={"seconds": 1, "output": "final"}).json()
    r = server.cli("logs", str(job["id"]), "--stderr", "-f")
    assert r.returncode == 0, r.stderr
    assert "progress 100%" in r.stdout
    out = server.cli("logs", str(job["id"]))
    assert '"output": "final"' in out.stdout
    assert server.cli("logs", "999").returncode == 2
