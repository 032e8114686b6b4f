"""Names, labels and owners (Slurm -J, ts -L): shown, filterable, and with tokens each job belongs
to the token that submitted it: only its owner or an admin token may cancel it, and
Idempotency-Keys are scoped per owner."""
import json


def headers(token):
    return {"Authorization": f"Bearer {token}"}


ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
ROOT = "root-token-0123456789a"


def token_server(make_server, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{ALICE}:alice\n{BOB}:bob\n{ROOT}:root:admin\n")
    return make_server("--gpus", "sim:24GiB", "--token-file", str(tokens))


def test_names_and_labels_are_shown_and_filter_the_list(server):
    a = server.submit(params={"seconds": 0}, name="mesh-7",
                      labels={"project": "tripo", "stage": "eval"}).json()
    b = server.submit(params={"seconds": 0}, labels={"project": "pix"}).json()
    assert a["name"] == "mesh-7" and a["labels"] == {"project": "tripo", "stage": "eval"}
    assert b["name"] is None and a["owner"] is None
    for j in (a, b):
        server.wait_job(j["id"])
    ids = lambda q: [j["id"] for j in server.get(f"/v1/jobs?{q}").json()["jobs"]]  # noqa: E731
    assert ids("name=mesh-7") == [a["id"]]
    assert ids("label=project=tripo") == [a["id"]]
    assert ids("label=project=pix") == [b["id"]]
    assert ids("label=stage=nope") == []
    queued = server.submit(params={"seconds": 30, "vram_mb": 23000}, name="big").json()
    waiting = server.submit(params={"seconds": 0, "vram_mb": 23000}, name="big").json()
    assert ids("name=big") == [waiting["id"], queued["id"]]  # live jobs are filtered too
    r = server.get("/v1/jobs?label=nokey")
    assert r.status_code == 400 and r.json()["field"] == "label"
    for bad, field in [({"name": ""}, "name"), ({"labels": {"bad key": "x"}}, "labels.bad key"),
                       ({"labels": {"k": 1}}, "labels.k"), ({"name": "a\nb"}, "name")]:
        r = server.post("/v1/jobs", {"task": "fake-model", **bad})
        assert r.status_code == 400 and r.json()["field"] == field, r.text
    out = server.cli("ls", "--name", "mesh-7").stdout
    assert [line.split()[0] for line in out.splitlines()[1:]] == [str(a["id"])], out
    cli = server.cli("submit", "fake-model", "-p", "seconds=0", "--name", "from-cli",
                     "--label", "k=v", "--json")
    assert json.loads(cli.stdout)["labels"] == {"k": "v"}
    assert "from-cli" in server.cli("show", str(json.loads(cli.stdout)["id"])).stdout
    server.delete(f"/v1/jobs/{queued['id']}")


def test_only_the_owner_or_an_admin_may_cancel(make_server, tmp_path):
    s = token_server(make_server, tmp_path)
    job = s.post("/v1/jobs", {"task": "fake-model", "params": {"seconds": 30}},
                 headers=headers(ALICE)).json()
    assert job["owner"] == "alice"
    r = s.delete(f"/v1/jobs/{job['id']}", headers=headers(BOB))
    assert r.status_code == 403 and "belongs to alice" in r.json()["detail"], r.text
    assert s.get(f"/v1/jobs/{job['id']}", headers=headers(BOB)).json()["state"] != "cancelled"
    mine = [j["id"] for j in s.get("/v1/jobs?owner=alice", headers=headers(BOB)).json()["jobs"]]
    assert mine == [job["id"]]
    assert s.get("/v1/jobs?owner=bob", headers=headers(BOB)).json()["jobs"] == []
    r = s.delete(f"/v1/jobs/{job['id']}", headers=headers(ROOT))  # an admin may
    assert r.status_code in (200, 202), r.text
    log = s.log_path.read_text()
    assert "submitted by alice" in log and "cancel by bob refused" in log
    assert "cancel requested by root" in log or "cancelled by root" in log
    other = s.post("/v1/jobs", {"task": "fake-model", "params": {"seconds": 30}},
                   headers=headers(BOB)).json()
    cli = s.cli("cancel", str(other["id"]), env={"VRAMQ_TOKEN": ALICE})
    assert cli.returncode == 2 and "belongs to bob" in cli.stderr, cli.stderr
    assert s.delete(f"/v1/jobs/{other['id']}", headers=headers(BOB)).status_code in (200, 202)


def test_idempotency_keys_are_scoped_per_owner(make_server, tmp_path):
    s = token_server(make_server, tmp_path)
    body = {"task": "fake-model", "params": {"seconds": 0}}
    a1 = s.post("/v1/jobs", body, headers={**headers(ALICE), "Idempotency-Key": "k1"}).json()
    a2 = s.post("/v1/jobs", body, headers={**headers(ALICE), "Idempotency-Key": "k1"}).json()
    b1 = s.post("/v1/jobs", body, headers={**headers(BOB), "Idempotency-Key": "k1"}).json()
    assert a1["id"] == a2["id"] and b1["id"] != a1["id"]
    assert b1["owner"] == "bob"
    other = dict(body, params={"seconds": 1})
    r = s.post("/v1/jobs", other, headers={**headers(BOB), "Idempotency-Key": "k1"})
    assert r.status_code == 409 and "Idempotency-Key 'k1'" in r.json()["detail"], r.text
