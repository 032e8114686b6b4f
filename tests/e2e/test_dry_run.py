"""POST /v1/jobs?dry_run=1 tells what would happen now and stores nothing."""


def dry(server, body):
    r = server.post("/v1/jobs?dry_run=1", body)
    assert r.status_code == 200, r.text
    return r.json()


def test_admit_queue_and_reject_without_storing_anything(make_server):
    s = make_server("--gpus", "sim:24GiB", "--queue-max", "1")
    d = dry(s, {"task": "fake-model", "params": {"vram_mb": 8000}})
    assert d == {"decision": "admit", "vram_mb": 8000, "gpu": 0, "available_mb": 23552,
                 "leftover_mb": 15552}
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
    d = dry(s, {"task": "fake-model"})
    assert d["decision"] == "reject" and d["status"] == 429 and d["retry_after_s"] >= 1
    jobs = s.get("/v1/jobs").json()["jobs"]
    assert [j["id"] for j in jobs] == [blocker["id"] + 1, blocker["id"]]  # no id was used up


def test_bad_dry_run_value_is_400(server):
    r = server.post("/v1/jobs?dry_run=maybe", {"task": "fake-model"})
    assert r.status_code == 400 and r.json()["field"] == "dry_run"
