"""POST /v1/jobs?dry_run=1 tells what would happen now and stores nothing."""


def dry(server, body):
    r = server.post("/v1/jobs?dry_run=1", body)
    assert r.status_code == 200, r.text
    return r.json()


def test_admit_queue_and_reject_without_storing_anything(make_server):
    s = make_server("--gpus", "sim:24GiB", "--queue-max", "1")
    d = dry(s, {"task": "fake-model", "params": {"vram_mb": 8000}})
    assert d == {"decision": "admit", "vram_mb": 8000, "gpu": 0, "gpus": [0],
                 "available_mb": 23552, "leftover_mb": 15552}
    blocker = s.submit(params={"seconds": 30, "vram_mb": 20000}).json()
    s.wait_state(blocker["id"], ["running"])
    d = dry(s, {"task": "fake-model", "params": {"vram_mb": 8000}})
    assert d["decision"] == "queue" and d["queue_position"] == 0
    assert d["pending_reason"] == "vram" and d["predicted_start"].endswith("Z")
    d = dry(s, {"task": "nope"})
    assert d["decision"] == "reject" and d["status"] == 422 and d["problem"]["field"] == "task"
    d = dry(s, {"task": "fake-model", "bogus": 1})
    assert d["decision"] == "reject" and d["status"] == 400
    assert s.submit(params={"vram_mb": 8000}).status_code == 202  # fills the queue (max 1)
    d = dry(s, {"task": "fake-model", "params": {"vram_mb": 8000}})
    assert d["decision"] == "reject" and d["status"] == 429 and d["retry_after_s"] >= 1
    d = dry(s, {"task": "fake-model", "params": {"vram_mb": 2000}})  # fits now: never queued
    assert d["decision"] == "admit", d
    jobs = s.get("/v1/jobs").json()["jobs"]
    assert [j["id"] for j in jobs] == [blocker["id"] + 1, blocker["id"]]  # no id was used up


def test_bad_dry_run_value_is_400(server):
    r = server.post("/v1/jobs?dry_run=maybe", {"task": "fake-model"})
    assert r.status_code == 400 and r.json()["field"] == "dry_run"


def test_one_boolean_syntax_for_every_flag(server):
    """dry_run, follow (and purge) take the same words: yes/no as much as 1/0 or true/false."""
    for word in ["1", "true", "yes", "on", "YES", "True"]:
        r = server.post(f"/v1/jobs?dry_run={word}", {"task": "fake-model"})
        assert r.status_code == 200 and "decision" in r.json(), (word, r.text)
    assert server.get("/v1/jobs").json()["jobs"] == []
    r = server.post("/v1/jobs?dry_run=no", {"task": "fake-model", "params": {"seconds": 0}})
    assert r.status_code == 202, r.text  # dry_run=no submits for real
    job = r.json()
    server.wait_job(job["id"])
    for word in ["1", "yes", "on", "false", "no", "off", "0"]:
        r = server.get(f"/v1/jobs/{job['id']}/log?follow={word}")
        assert r.status_code == 200, (word, r.text)


def test_integral_numbers_are_integers(server):
    r = server.post("/v1/jobs", {"task": "fake-model", "vram_mb": 2.0, "priority": 1.0,
                                 "params": {"seconds": 0, "vram_mb": 100.0}})
    assert r.status_code == 202, r.text
    assert r.json()["vram_mb"] == 2 and r.json()["params"]["vram_mb"] == 100
    r = server.post("/v1/jobs", {"task": "fake-model", "vram_mb": 2.5})
    assert r.status_code == 400 and r.json()["field"] == "vram_mb"


def test_predicted_start_follows_what_is_running(server):
    """The prediction waits for the running job that holds the room, by how long runs of that
    task with those parameters took before, not for a global mean run time."""
    from datetime import datetime
    params = {"seconds": 3, "vram_mb": 20000}
    server.submit(params=params, wait=60)  # teaches how long such a run takes
    blocker = server.submit(params=params).json()
    running = server.wait_state(blocker["id"], ["running"])
    d = dry(server, {"task": "fake-model", "params": {"seconds": 0.1, "vram_mb": 8000}})
    assert d["decision"] == "queue", d

    def t(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    predicted = t(d["predicted_start"]) - t(running["started_at"])
    assert 2.5 <= predicted <= 4.5, (d, running)  # about the 3 s the blocker needs
