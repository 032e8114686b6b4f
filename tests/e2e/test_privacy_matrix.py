"""Private jobs (issue 24, --visibility owner, the default with tokens): every route that shows a
job, and the event stream, as the job's owner, another user, a viewer and an admin. The oracle
is the secret text the owner put in the job: it must reach the owner and the admin, and no one
else by any route."""
import subprocess

from conftest import BIN, SLOW
from test_events import Listener

SECRETS = {"alice": "alice-secret-0123456789", "bob": "bob-secret-0123456789ab",
           "vera": "vera-secret-0123456789a", "root": "root-secret-0123456789a"}
ROLES = {"alice": "user", "bob": "user", "vera": "viewer", "root": "admin"}
MARK = "alicesmark"  # in the job's params, output, name, label and log


def auth(who):
    return {"Authorization": f"Bearer {SECRETS[who]}"}


def hashed(token):
    return subprocess.run([BIN, "token", "hash"], input=token, capture_output=True, text=True,
                          timeout=10 * SLOW, check=True).stdout.strip()


def owners_server(make_server, tmp_path, *extra):
    text = "".join(f'[owners.{who}]\nrole = "{ROLES[who]}"\ntokens = ["{hashed(t)}"]\n'
                   for who, t in SECRETS.items())
    path = tmp_path / "owners.toml"
    path.write_text(text)
    path.chmod(0o600)
    return make_server("--gpus", "sim:24GiB", "--owners", str(path), *extra)


def alices_jobs(s):
    """An ended job and a queued one, both carrying MARK; the id of the last event before them."""
    before = int(s.get("/v1/gpus", headers=auth("alice")).headers["Vramq-Event-Id"])
    ended = s.post("/v1/jobs?wait=30", {"task": "fake-model", "name": f"{MARK}-name",
                                        "labels": {"k": f"{MARK}-label"},
                                        "params": {"seconds": 0, "vram_mb": 100,
                                                   "output": f"{MARK} result"}},
                   headers=auth("alice"), timeout=60 * SLOW).json()
    assert ended["state"] == "succeeded", ended
    blocker = s.post("/v1/jobs", {"task": "fake-model", "params": {"seconds": 60,
                                                                    "vram_mb": 23000}},
                     headers=auth("bob")).json()
    queued = s.post("/v1/jobs", {"task": "fake-model", "name": f"{MARK}-queued",
                                 "params": {"seconds": 0, "vram_mb": 23000,
                                            "output": f"{MARK} queued"}},
                    headers=auth("alice")).json()
    return before, ended, queued, blocker


def test_every_route_as_owner_other_user_viewer_and_admin(make_server, tmp_path):
    s = owners_server(make_server, tmp_path)
    before, ended, queued, blocker = alices_jobs(s)
    jid = ended["id"]
    for who in ("alice", "root", "bob", "vera"):
        reads = who in ("alice", "root")
        h = auth(who)
        job = s.get(f"/v1/jobs/{jid}", headers=h)
        assert job.status_code == 200, (who, job.text)
        j = job.json()
        # What a listing shows is everyone's: the job exists, whose it is, how it stands.
        assert (j["id"], j["owner"], j["task"], j["state"]) == (jid, "alice", "fake-model",
                                                                  "succeeded"), who
        assert j["vram_mb"] == 100 and j["finished_at"] is not None, who
        assert (MARK in job.text) == reads, (who, job.text)
        assert j.get("private", False) == (not reads), who
        listing = s.get("/v1/jobs?limit=1000", headers=h)
        assert listing.status_code == 200
        assert {x["id"] for x in listing.json()["jobs"]} >= {jid, queued["id"], blocker["id"]}
        assert (MARK in listing.text) == reads, who
        # A name or label filter matches only on jobs one may read.
        by_name = s.get(f"/v1/jobs?name={MARK}-name", headers=h).json()["jobs"]
        assert [x["id"] for x in by_name] == ([jid] if reads else []), who
        by_label = s.get(f"/v1/jobs?label=k={MARK}-label", headers=h).json()["jobs"]
        assert [x["id"] for x in by_label] == ([jid] if reads else []), who
        # Nor does a page's cursor point at another owner's job that matched.
        for q in (f"name={MARK}-name&limit=1", f"owner=alice&name={MARK}-name",
                  f"label=k={MARK}-label&limit=1"):
            page = s.get(f"/v1/jobs?{q}", headers=h).json()
            if not reads:
                assert page == {"jobs": [], "next": None}, (who, q, page)
        for path in (f"/v1/jobs/{jid}/log", f"/v1/jobs/{jid}/log?stream=stderr",
                     f"/v1/jobs/{jid}/files", f"/v1/jobs/{jid}/files/stdout.log"):
            r = s.get(path, headers=h)
            if reads:
                assert r.status_code in (200, 206), (who, path, r.text)
            else:
                assert r.status_code == 404, (who, path, r.text)
                assert "alice's" not in r.text and "owner's and admins' only" in r.json()["detail"]
                assert MARK not in r.text
        assert f"{MARK} result" in s.get(f"/v1/jobs/{jid}/log", headers=auth("alice")).text
        # The queue's head names no job (it is everyone's view) but says whose each is.
        q = s.get("/v1/queue", headers=h)
        assert q.status_code == 200 and MARK not in q.text, (who, q.text)
        assert [i["owner"] for i in q.json()["head"] if i["id"] == queued["id"]] == ["alice"]
        # Waiting on someone else's job gives the same view as reading it.
        waited = s.get(f"/v1/jobs/{jid}?wait=1", headers=h)
        assert (MARK in waited.text) == reads, who
    # Only the owner or an admin may cancel; a viewer may change nothing.
    for who, status in (("bob", 403), ("vera", 403)):
        assert s.delete(f"/v1/jobs/{queued['id']}", headers=auth(who)).status_code == status
    # Alice's first: once bob's job is gone hers would start and end at once.
    assert s.delete(f"/v1/jobs/{queued['id']}", headers=auth("alice")).status_code == 200
    assert s.delete(f"/v1/jobs/{blocker['id']}", headers=auth("root")).status_code in (200, 202)


def test_the_event_stream_redacts_others_jobs(make_server, tmp_path):
    s = owners_server(make_server, tmp_path)
    listeners = {who: Listener(s, "?types=job", headers=auth(who)) for who in SECRETS}
    try:
        _, ended, queued, _ = alices_jobs(s)
        for who, listener in listeners.items():
            reads = who in ("alice", "root")
            listener.wait_for(lambda ev: any(d["id"] == queued["id"] for _, _, d in ev), 20,
                              f"alice's queued job, streamed to {who}")
            listener.wait_for(lambda ev: any(d["id"] == ended["id"] and d["state"] == "succeeded"
                                             for _, _, d in ev), 20,
                              f"alice's ended job, streamed to {who}")
            mine = listener.of_job(ended["id"])
            assert any(MARK in str(d["params"]) for d in mine) == reads, who
            for d in mine + listener.of_job(queued["id"]):
                assert (MARK in str(d)) == reads, (who, d)
                assert d.get("private", False) == (not reads), (who, d)
                assert d["owner"] == "alice" and d["task"] == "fake-model"
    finally:
        for listener in listeners.values():
            listener.close()


def test_visibility_all_restores_reading_every_job(make_server, tmp_path):
    s = owners_server(make_server, tmp_path, "--visibility", "all")
    _, ended, queued, _ = alices_jobs(s)
    assert MARK in s.get(f"/v1/jobs/{ended['id']}", headers=auth("bob")).text
    assert s.get(f"/v1/jobs/{ended['id']}/log", headers=auth("vera")).status_code == 200
    assert MARK in s.get("/v1/queue", headers=auth("bob")).text  # names shown again
    assert s.delete(f"/v1/jobs/{queued['id']}", headers=auth("bob")).status_code == 403
