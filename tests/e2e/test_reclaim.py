"""Reclaim and fair share across owners (issue 24), through the real binary on simulated GPUs:
borrowed preemptible jobs are stopped to give an owner its guarantee, queued again and end
succeeded later, across a kill -9 in the middle of a reclaim; the queue orders owners by use."""
import os
import time

from conftest import eventually

from test_owners import ALICE, BOB, auth, hashed

CAROL = "carol-secret-0123456789"


def owners(tmp_path, **quotas):
    text = ""
    for name, token in (("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
        text += f'[owners.{name}]\ntokens = ["{hashed(token)}"]\n'
        if name == "alice":
            text += 'role = "admin"\n'
        if name in quotas:
            text += f"quota_mb = {quotas[name]}\n"
    p = tmp_path / "owners.toml"
    p.write_text(text)
    p.chmod(0o600)
    return str(p)


def submit(s, who, body):
    r = s.post("/v1/jobs", body, headers=auth(who))
    assert r.status_code == 202, r.text
    return r.json()["id"]


def job(s, i):
    r = s.get(f"/v1/jobs/{i}", headers=auth(ALICE))  # alice is an admin
    assert r.status_code == 200, r.text
    return r.json()


def wait_state(s, i, states, timeout):
    return eventually(lambda: (lambda j: j if j["state"] in states else None)(job(s, i)), timeout,
                      f"job {i} in {states}")


def fake(mb, seconds, **extra):
    return {"task": "fake-model", "params": {"seconds": seconds, "vram_mb": mb}, **extra}


def test_three_owners_on_two_gpus_borrow_and_are_reclaimed(make_server, tmp_path):
    # Two 24 GiB GPUs (23 GiB each to give): alice alone borrows both.
    s = make_server("--gpus", "sim:2x24GiB", "--preempt-grace-s", "2", "--owners",
                    owners(tmp_path, alice=10000, bob=10000, carol=10000))
    mine = [submit(s, ALICE, fake(10000, 8, preemptible=True)) for _ in range(4)]
    for i in mine:
        wait_state(s, i, ("running",), timeout=20)
    borrowed = [i for i in mine if job(s, i)["borrowed"]]
    assert len(borrowed) == 3, [job(s, i) for i in mine]  # the first is within alice's quota
    # bob's and carol's jobs arrive: within their guarantees, no room anywhere.
    theirs = [submit(s, BOB, fake(10000, 1)), submit(s, CAROL, fake(10000, 1))]
    # Each claimant starts within the grace plus a pass or two (stretched on slow builds).
    for i in theirs:
        j = wait_state(s, i, ("running", "succeeded"), timeout=12)
        assert j["preemptions"] == 0
    taken = eventually(lambda: [i for i in mine if job(s, i)["preemptions"] > 0] or None, 10,
                       "the reclaimed jobs counted")
    assert len(taken) == 2, [job(s, i) for i in mine]
    assert mine[0] not in taken, "the guaranteed job is never preempted"
    j = job(s, taken[0])
    assert j["reason"] == "preempted" or j["state"] != "queued", j
    assert "taken back for job" in " ".join(j["warnings"]), j
    # Everything ends succeeded, the reclaimed jobs on a later attempt.
    for i in mine + theirs:
        j = wait_state(s, i, ("succeeded", "failed", "cancelled", "timed_out"), timeout=60)
        assert j["state"] == "succeeded", j
    for i in taken:
        j = job(s, i)
        assert j["attempt"] == 2 and j["preemptions"] == 1 and j["max_retries"] == 0, j
    metrics = s.get("/metrics", headers=auth(ALICE)).text
    assert 'vramq_preemptions_total{owner="alice"} 2' in metrics, metrics


def test_a_reclaim_survives_a_kill_9_in_its_middle(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--preempt-grace-s", "20", "--allow-raw-commands",
                    "--owners", owners(tmp_path, alice=4000, bob=12000))
    # alice's borrowed job takes 1 s to stop after SIGTERM (exiting 143: a failure, were it not
    # a preemption), and succeeds when run again.
    script = ('d="$VRAMQ_JOB_DIR"; if [ -e "$d/ran" ]; then echo again; exit 0; fi; '
              'trap \'touch "$d/term"; sleep 1; touch "$d/exits"; exit 143\' TERM; '
              'touch "$d/ran"; sleep 60 & wait')
    a = submit(s, ALICE, {"command": ["sleep", "2"], "vram_mb": 3000})
    b = submit(s, ALICE, {"command": ["sh", "-c", script], "vram_mb": 12000, "preemptible": True})
    for i in (a, b):
        wait_state(s, i, ("running",), timeout=20)
    assert job(s, b)["borrowed"] is True and job(s, a)["borrowed"] is False
    eventually(lambda: os.path.exists(job(s, b)["job_dir"] + "/ran"), 10, "its trap set")
    claimant = submit(s, BOB, fake(12000, 1))
    # kill -9 once alice's job has its SIGTERM: it ends while no server is there to see it.
    eventually(lambda: os.path.exists(job(s, b)["job_dir"] + "/term"), 10,
               "the reclaim under way")
    assert job(s, b)["reason"] == "preempted"  # stored before the signal
    d = job(s, b)["job_dir"]
    s.kill9()
    eventually(lambda: os.path.exists(d + "/exits"), 10, "alice's job ending with no server")
    time.sleep(0.5)  # its exit, after the file
    s.start()
    # The restarted server takes that end (exit 143) for the preemption it was: alice's job is
    # queued again and succeeds on its next run; bob's job runs; nothing is lost.
    j = wait_state(s, claimant, ("succeeded", "failed"), timeout=40)
    assert j["state"] == "succeeded", j
    for i in (a, b):
        j = wait_state(s, i, ("succeeded", "failed", "cancelled"), timeout=60)
        assert j["state"] == "succeeded", j
    j = job(s, b)
    assert j["preemptions"] == 1 and j["attempt"] == 2 and j["output"].strip() == "again", j
    assert job(s, a)["preemptions"] == 0


def test_the_queue_serves_the_owner_with_less_use_first(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--fairshare-half-life", "1h", "--owners",
                    owners(tmp_path))
    # alice has used the GPU; bob has not.
    used = submit(s, ALICE, fake(20000, 1))
    wait_state(s, used, ("succeeded",), timeout=20)
    blocker = submit(s, CAROL, fake(20000, 4))
    wait_state(s, blocker, ("running",), timeout=20)
    first = [submit(s, ALICE, fake(20000, 0.2)) for _ in range(2)]
    later = [submit(s, BOB, fake(20000, 0.2)) for _ in range(2)]
    # Within a priority, bob (no use) goes before alice, FIFO within each.
    places = eventually(
        lambda: (lambda p: p if None not in p else None)(
            [job(s, i)["queue_position"] for i in later + first]), 10, "places")
    assert places == [0, 1, 2, 3], places
    share = job(s, first[0])["fair_share"]
    assert share["weight"] == 1 and share["use_mib_s"] > 15000, share
    assert job(s, later[0])["fair_share"]["use_mib_s"] == 0
    # And they start in that order.
    for i in later + first:
        wait_state(s, i, ("succeeded",), timeout=30)
    starts = [job(s, i)["started_at"] for i in later + first]
    assert starts == sorted(starts), starts


def test_usage_is_kept_per_owner_task_and_day(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--retain-ended-count", "1", "--owners",
                    owners(tmp_path))
    for who, mb in ((ALICE, 4096), (ALICE, 4096), (BOB, 2048)):
        i = submit(s, who, fake(mb, 1))
        wait_state(s, i, ("succeeded",), timeout=20)
    # A run's use is stored with its end, a moment after the end is shown (the store's writer).
    def usage_rows():
        r = s.get("/v1/usage?by=owner,task", headers=auth(ALICE))
        assert r.status_code == 200, r.text
        rows = {(x["owner"], x["task"]): x for x in r.json()["rows"]}
        done = rows.get(("alice", "fake-model"), {}).get("runs") == 2 and \
            ("bob", "fake-model") in rows
        return rows if done else None
    rows = eventually(usage_rows, 10, "every run's use stored")
    a, b = rows[("alice", "fake-model")], rows[("bob", "fake-model")]
    assert a["runs"] == 2 and b["runs"] == 1, rows
    # Reserved MiB x seconds: about 4096 x 1 s per run of alice's (a run takes a little longer).
    assert 2 * 4096 <= a["reserved_mib_s"] <= 2 * 4096 * 3, a
    assert 2048 <= b["reserved_mib_s"] <= 2048 * 3, b
    assert a["gpu_s"] >= 2 and a["preempted"] == 0
    # Kept after retention prunes the jobs, and across a restart.
    eventually(lambda: s.get("/v1/jobs?state=succeeded", headers=auth(ALICE)).json()["jobs"]
               .__len__() <= 1, 20, "jobs pruned")
    s.stop()
    s.start()
    r = s.get("/v1/usage?by=day,owner", headers=auth(ALICE)).json()
    assert {x["owner"] for x in r["rows"]} == {"alice", "bob"}, r
    assert all(x["day"] and x["task"] is None for x in r["rows"]), r
    # A user reads its own use only.
    r = s.get("/v1/usage", headers=auth(BOB)).json()
    assert [x["owner"] for x in r["rows"]] == ["bob"], r
    r = s.get("/v1/usage?owner=alice", headers=auth(BOB))
    assert r.status_code == 403 and "bob may read only its own usage" in r.json()["detail"]
    # Bad input: a clear 400 naming the parameter.
    r = s.get("/v1/usage?from=2026-13-01", headers=auth(ALICE))
    assert r.status_code == 400 and r.json()["field"] == "from", r.text
    r = s.get("/v1/usage?by=colour", headers=auth(ALICE))
    assert r.status_code == 400 and "by takes owner, task and day" in r.json()["detail"]
    # The CLI shows the same rows.
    cli = s.cli("usage", "--by", "owner", env={"VRAMQ_TOKEN": ALICE})
    assert cli.returncode == 0, cli.stderr
    assert "alice" in cli.stdout and "bob" in cli.stdout and "GPU-h" in cli.stdout, cli.stdout
    metrics = s.get("/metrics", headers=auth(ALICE)).text
    assert 'vramq_owner_reserved_mib{owner="alice"} 0' in metrics, metrics


def test_a_job_cancelled_during_its_preemption_ends_cancelled(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--preempt-grace-s", "5", "--allow-raw-commands",
                    "--owners", owners(tmp_path, alice=1000, bob=12000))
    stubborn = ('trap "" TERM; touch "$VRAMQ_JOB_DIR/ready"; sleep 60')
    b = submit(s, ALICE, {"command": ["sh", "-c", stubborn], "vram_mb": 20000,
                          "preemptible": True})
    wait_state(s, b, ("running",), timeout=20)
    eventually(lambda: os.path.exists(job(s, b)["job_dir"] + "/ready"), 10, "its trap set")
    claimant = submit(s, BOB, fake(12000, 1))
    eventually(lambda: job(s, b)["reason"] == "preempted", 10, "the reclaim under way")
    # alice cancels it during the grace: it ends cancelled (at the grace's SIGKILL), not queued
    # again; bob's job then runs.
    assert s.delete(f"/v1/jobs/{b}", headers=auth(ALICE)).status_code in (200, 202)
    j = wait_state(s, b, ("cancelled", "queued", "failed"), timeout=60)
    assert j["state"] == "cancelled" and j["preemptions"] == 0, j
    j = wait_state(s, claimant, ("succeeded", "failed"), timeout=60)
    assert j["state"] == "succeeded", j
