"""Cancelling queued and running jobs, and listing jobs page by page."""
import concurrent.futures
import time

import requests

from conftest import all_gone, helper_pids


def test_cancel_a_queued_job_ends_it_at_once(server):
    blocker = server.submit(params={"seconds": 30, "vram_mb": 23000}).json()
    server.wait_state(blocker["id"], ["running"])
    queued = server.submit(params={"vram_mb": 23000}).json()
    r = requests.delete(f"{server.url}/v1/jobs/{queued['id']}", timeout=30)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["state"] == "cancelled" and j["reason"] == "cancelled" and j["started_at"] is None
    assert server.job(queued["id"])["state"] == "cancelled"
    again = requests.delete(f"{server.url}/v1/jobs/{queued['id']}", timeout=30)
    assert again.status_code == 409 and "already ended" in again.json()["detail"]


def test_cancel_a_running_job_ends_its_whole_group(make_server):
    s = make_server("--gpus", "sim:24GiB", "--kill-grace-s", "2")
    job = s.submit(params={"seconds": 60, "children": 2}).json()
    s.wait_state(job["id"], ["running"])
    helpers = helper_pids(s.data_dir, job["id"], 2)
    r = requests.delete(f"{s.url}/v1/jobs/{job['id']}", timeout=30)
    assert r.status_code == 202 and r.json()["state"] == "running"
    j = s.wait_job(job["id"])
    assert j["state"] == "cancelled" and j["reason"] == "cancelled", j
    assert all_gone(helpers)
    # The GPU is free again.
    assert s.get("/v1/gpus").json()["gpus"][0]["jobs"] == []


def test_cancel_unknown_job_is_404(server):
    assert requests.delete(f"{server.url}/v1/jobs/12345", timeout=30).status_code == 404
    assert requests.delete(f"{server.url}/v1/jobs/x", timeout=30).status_code == 404


def test_pagination_across_1000_jobs(make_server):
    s = make_server("--gpus", "sim:24GiB")
    blocker = s.submit(params={"seconds": 60, "vram_mb": 23552}).json()
    s.wait_state(blocker["id"], ["running"])
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: s.submit(params={"vram_mb": 100}).json()["id"], range(1000)))
    seen = []
    before = None
    while True:
        q = "/v1/jobs?state=queued&limit=100" + (f"&before={before}" if before else "")
        page = s.get(q).json()
        seen += [j["id"] for j in page["jobs"]]
        assert all(j["state"] == "queued" for j in page["jobs"])
        if page["next"] is None:
            break
        before = page["next"]
    assert seen == sorted(ids, reverse=True)
    everything = s.get("/v1/jobs?limit=1000").json()
    assert [j["id"] for j in everything["jobs"]] == sorted(ids + [blocker["id"]], reverse=True)[:1000]
    running = s.get("/v1/jobs?state=running").json()["jobs"]
    assert [j["id"] for j in running] == [blocker["id"]]


def test_list_shows_ended_jobs_and_rejects_bad_filters(server):
    done = server.submit(params={"seconds": 0}, wait=30).json()
    listed = server.get("/v1/jobs?state=succeeded").json()["jobs"]
    assert [j["id"] for j in listed] == [done["id"]]
    for q in ["state=finished", "limit=0", "limit=1001", "limit=x", "before=-3"]:
        r = server.get(f"/v1/jobs?{q}")
        assert r.status_code == 400, q
        assert r.json()["field"] in ("state", "limit", "before")


def test_cli_ls_and_cancel(server):
    blocker = server.submit(params={"seconds": 30, "vram_mb": 23000}).json()
    server.wait_state(blocker["id"], ["running"])
    queued = server.submit(params={"vram_mb": 23000}).json()
    r = server.cli("ls")
    assert r.returncode == 0 and "#0 vram" in r.stdout and "running" in r.stdout
    c = server.cli("cancel", str(queued["id"]))
    assert c.returncode == 0 and "cancelled" in c.stdout
    assert server.cli("cancel", str(queued["id"])).returncode == 2
    c = server.cli("cancel", str(blocker["id"]))
    assert c.returncode == 0 and "stopping" in c.stdout
