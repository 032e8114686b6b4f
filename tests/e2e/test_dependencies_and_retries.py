"""Jobs that wait for other jobs (`after`, like Slurm's --dependency and ts -d), retries that wait
(`retry_delay_s`, doubled per attempt), and every attempt's logs kept. Real server, real jobs."""
import json
import time

from conftest import SLOW, result_of


def t_ms(job, key):
    from datetime import datetime
    return datetime.fromisoformat(job[key].replace("Z", "+00:00")).timestamp() * 1000


def test_a_job_waits_for_its_dependencies_then_runs(server):
    a = server.submit(params={"seconds": 1, "vram_mb": 1000}).json()
    b = server.submit(params={"seconds": 0, "vram_mb": 1000}, after={"ok": [a["id"]]}).json()
    assert b["state"] == "queued" and b["pending_reason"] == "dependency", b
    assert b["queue_position"] is None and b["after"] == {"ok": [a["id"]], "any": []}
    listed = {j["id"]: j for j in server.get("/v1/jobs?state=queued").json()["jobs"]}
    assert listed[b["id"]]["pending_reason"] == "dependency"
    done_a = server.wait_job(a["id"])
    done_b = server.wait_job(b["id"])
    assert done_a["state"] == "succeeded" and done_b["state"] == "succeeded", done_b
    assert t_ms(done_b, "started_at") >= t_ms(done_a, "finished_at")


def test_a_failed_ok_dependency_cancels_its_dependents_and_any_runs_on(server):
    a = server.submit(params={"seconds": 0.5, "exit_code": 3}).json()
    ok = server.submit(params={"seconds": 0}, after={"ok": [a["id"]]}).json()
    chained = server.submit(params={"seconds": 0}, after={"ok": [ok["id"]]}).json()
    anyway = server.submit(params={"seconds": 0}, after={"any": [a["id"]]}).json()
    assert server.wait_job(a["id"])["state"] == "failed"
    for j in (ok, chained):
        done = server.wait_job(j["id"])
        assert done["state"] == "cancelled" and done["reason"] == "dependency_failed", done
        assert done["started_at"] is None and "did not succeed" in done["error"]
    assert server.wait_job(anyway["id"])["state"] == "succeeded"
    # A dependency that already failed: accepted, and cancelled at once.
    late = server.submit(params={"seconds": 0}, after={"ok": [a["id"]]})
    assert late.status_code in (200, 202)
    assert server.wait_job(late.json()["id"])["reason"] == "dependency_failed"


def test_unknown_or_malformed_dependencies_are_refused_and_change_nothing(server):
    for after, status, field in [({"ok": [999]}, 422, "after"),
                                 ({"ok": ["1"]}, 400, "after.ok"),
                                 ({"later": [1]}, 400, "after.later"),
                                 ([1], 400, "after")]:
        r = server.post("/v1/jobs", {"task": "fake-model", "after": after})
        assert r.status_code == status and r.json()["field"] == field, r.text
    assert server.get("/v1/jobs").json()["jobs"] == []
    assert server.submit(params={"seconds": 0}).json()["id"] == 1  # no id was used up


def test_dependencies_survive_a_restart(make_server):
    s = make_server("--gpus", "sim:24GiB")
    blocker = s.submit(params={"seconds": 30, "vram_mb": 20000}).json()
    s.wait_state(blocker["id"], ["running"])
    a = s.submit(params={"seconds": 0.5, "vram_mb": 20000}).json()  # queued behind the blocker
    b = s.submit(params={"seconds": 0}, after={"ok": [a["id"]]}).json()
    data = s.data_dir
    s.kill9()
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    assert s2.job(b["id"])["pending_reason"] == "dependency"
    assert s2.wait_job(a["id"], timeout=60)["state"] == "succeeded"
    assert s2.wait_job(b["id"])["state"] == "succeeded"


def test_cli_after_flags(server):
    a = server.submit(params={"seconds": 0.3}).json()
    r = server.cli("submit", "fake-model", "-p", "seconds=0", "--after-ok", str(a["id"]),
                   "--after", str(a["id"]), "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["after"] == {"ok": [a["id"]], "any": [a["id"]]}
    assert server.wait_job(job["id"])["state"] == "succeeded"


def test_retries_wait_doubling_and_every_attempts_logs_are_kept(server):
    r = server.submit(params={"seconds": 0, "exit_code": 1, "output": "run"}, max_retries=2,
                      retry_delay_s=1).json()
    job_id = r["id"]
    deadline = time.time() + 10 * SLOW
    while True:  # attempt 1 fails: the retry waits out its delay
        j = server.job(job_id)
        if j["attempt"] == 2 and j["state"] == "queued":
            break
        assert time.time() < deadline, j
        time.sleep(0.02)
    assert j["pending_reason"] == "retry_delay" and j["retry_at"] is not None, j
    done = server.wait_job(job_id, timeout=30)
    assert done["state"] == "failed" and done["attempt"] == 3, done
    logs = [server.get(f"/v1/jobs/{job_id}/log?attempt={n}").text for n in (1, 2, 3)]
    runs = [json.loads(text.strip().splitlines()[-1]) for text in logs]
    assert runs[2] == result_of(done)  # the current attempt's log is the default one too
    gap1 = runs[1]["started_ms"] - runs[0]["finished_ms"]
    gap2 = runs[2]["started_ms"] - runs[1]["finished_ms"]
    assert gap1 >= 1000 and gap2 >= 2000, (gap1, gap2)  # 1 s, then doubled
    assert server.get(f"/v1/jobs/{job_id}/log?attempt=4").status_code == 400
    cli = server.cli("logs", str(job_id), "--attempt", "1")
    assert cli.returncode == 0 and json.loads(cli.stdout.strip()) == runs[0]
