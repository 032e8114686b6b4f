"""DELETE /v1/jobs/{id}?purge=1 and `vramq rm` (ts -r, ts -C): an ended job's record, keys and
files go; a live job is 409; ids are never reused, also across a restart."""
import json

from conftest import result_of  # noqa: F401


def test_purge_removes_an_ended_job_and_its_files(make_server):
    s = make_server("--gpus", "sim:24GiB")
    done = s.submit(params={"seconds": 0}, wait=30).json()
    job_dir = s.data_dir / "jobs" / str(done["id"])
    assert (job_dir / "stdout.log").exists()
    running = s.submit(params={"seconds": 30}).json()
    r = s.delete(f"/v1/jobs/{running['id']}?purge=1")
    assert r.status_code == 409 and "cancel it first" in r.json()["detail"], r.text
    r = s.delete(f"/v1/jobs/{done['id']}?purge=yes")
    assert r.status_code == 204 and r.text == "", r.text
    assert s.get(f"/v1/jobs/{done['id']}").status_code == 404
    assert s.delete(f"/v1/jobs/{done['id']}?purge=1").status_code == 404
    assert done["id"] not in [j["id"] for j in s.get("/v1/jobs").json()["jobs"]]
    import time
    deadline = time.time() + 5
    while job_dir.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert not job_dir.exists()
    s.delete(f"/v1/jobs/{running['id']}")
    s.wait_job(running["id"])
    # The newest job purged, then a restart: its id is still not handed out again.
    last = s.submit(params={"seconds": 0}, wait=30).json()
    assert s.delete(f"/v1/jobs/{last['id']}?purge=1").status_code == 204
    data = s.data_dir
    s.kill9()
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    assert s2.submit(params={"seconds": 0}).json()["id"] == last["id"] + 1


def test_cli_rm(server):
    a = server.submit(params={"seconds": 0}, wait=30).json()
    b = server.submit(params={"seconds": 0}, wait=30).json()
    live = server.submit(params={"seconds": 30}).json()
    r = server.cli("rm", str(a["id"]), str(live["id"]), str(b["id"]))
    assert r.returncode == 2, r.stderr  # the live one is refused (409), the others go
    assert f"job {a['id']} removed" in r.stdout and f"job {b['id']} removed" in r.stdout
    assert "cancel it first" in r.stderr
    assert server.get(f"/v1/jobs/{b['id']}").status_code == 404
    assert server.job(live["id"])["state"] == "running"
    server.delete(f"/v1/jobs/{live['id']}")
