"""The owners file (--owners, issue 24): owners with hashed tokens, roles and limits, through the
real binary. Hashes are made by `vramq token`; limits are checked over HTTP; SIGHUP reloads the
file and keeps the one in force when the new one does not check."""
import json
import signal
import subprocess
import time

from conftest import BIN, SLOW, eventually

ALICE = "alice-secret-0123456789"
BOB = "bob-secret-0123456789ab"
VERA = "vera-secret-0123456789a"
ROOT = "root-secret-0123456789a"


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def hashed(token):
    r = subprocess.run([BIN, "token", "hash"], input=token + "\n", capture_output=True, text=True,
                       timeout=10 * SLOW)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def owners_file(tmp_path, text):
    p = tmp_path / "owners.toml"
    p.write_text(text)
    p.chmod(0o600)
    return p


def alice_and_friends():
    return f"""
[owners.alice]
tokens = ["{hashed(ALICE)}"]
max_priority = 5
max_queued = 1
[owners.vera]
role = "viewer"
tokens = ["{hashed(VERA)}"]
[owners.root]
role = "admin"
tokens = ["{hashed(ROOT)}"]
"""


def test_token_new_makes_a_token_whose_hash_the_server_accepts(make_server, tmp_path):
    r = subprocess.run([BIN, "token", "new"], capture_output=True, text=True, timeout=10 * SLOW)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    assert len(lines["token"]) == 64 and lines["hash"] == hashed(lines["token"])
    path = owners_file(tmp_path, f'[owners.new]\ntokens = ["{lines["hash"]}"]\n')
    s = make_server("--gpus", "sim:24GiB", "--owners", str(path))
    assert s.get("/v1/jobs").status_code == 401
    assert s.get("/v1/jobs", headers=auth(lines["token"])).status_code == 200
    # The hash is what the server keeps, not a token.
    assert s.get("/v1/jobs", headers=auth(lines["hash"])).status_code == 401


def test_roles_and_limits_over_http(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--owners",
                    str(owners_file(tmp_path, alice_and_friends())))
    big = {"task": "fake-model", "params": {"seconds": 60, "vram_mb": 20000}}
    running = s.post("/v1/jobs", big, headers=auth(ALICE)).json()
    assert running["owner"] == "alice"
    r = s.post("/v1/jobs", {**big, "priority": 6}, headers=auth(ALICE))
    assert r.status_code == 403 and r.json()["field"] == "priority", r.text
    assert "max_priority 5 of alice" in r.json()["detail"]
    waiting = s.post("/v1/jobs", big, headers=auth(ALICE)).json()  # the one it may keep waiting
    r = s.post("/v1/jobs", big, headers=auth(ALICE))
    assert r.status_code == 429, r.text
    assert "alice has 1 jobs waiting, its max_queued is 1" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) > 0
    # The viewer reads everything and changes nothing; a dry run changes nothing either.
    assert s.get("/v1/jobs", headers=auth(VERA)).status_code == 200
    assert s.get(f"/v1/jobs/{waiting['id']}", headers=auth(VERA)).json()["state"] == "queued"
    r = s.post("/v1/jobs", big, headers=auth(VERA))
    assert r.status_code == 403 and "viewer" in r.json()["detail"], r.text
    assert s.post("/v1/jobs?dry_run=1", big, headers=auth(VERA)).status_code == 200
    r = s.delete(f"/v1/jobs/{waiting['id']}", headers=auth(VERA))
    assert r.status_code == 403, r.text
    assert s.get(f"/v1/jobs/{waiting['id']}", headers=auth(ROOT)).json()["state"] == "queued"
    # The admin may act on alice's jobs, and limits are alice's, not the admin's.
    for j in (waiting, running):
        assert s.delete(f"/v1/jobs/{j['id']}", headers=auth(ROOT)).status_code in (200, 202)
    assert s.post("/v1/jobs", {**big, "priority": 1000}, headers=auth(ROOT)).status_code == 202
    log = s.log_path.read_text(errors="replace")
    for secret in (ALICE, VERA, ROOT):
        assert secret not in log


def test_sighup_reloads_and_a_file_that_does_not_check_is_refused(make_server, tmp_path):
    path = owners_file(tmp_path, f'[owners.alice]\ntokens = ["{hashed(ALICE)}"]\n')
    s = make_server("--gpus", "sim:24GiB", "--owners", str(path))
    assert s.get("/v1/jobs", headers=auth(ALICE)).status_code == 200
    assert s.get("/v1/jobs", headers=auth(BOB)).status_code == 401
    path.write_text(f'[owners.bob]\ntokens = ["{hashed(BOB)}"]\n')
    s.proc.send_signal(signal.SIGHUP)
    eventually(lambda: s.get("/v1/jobs", headers=auth(BOB)).status_code == 200, 10,
               "bob's token accepted after the reload")
    assert s.get("/v1/jobs", headers=auth(ALICE)).status_code == 401
    # A secret pasted where its hash belongs: refused, not quoted, and bob keeps working.
    path.write_text(f'[owners.bob]\ntokens = ["{BOB}"]\n')
    s.proc.send_signal(signal.SIGHUP)
    eventually(lambda: "the owners in force are kept" in s.log_path.read_text(errors="replace"),
               10, "the refused reload logged")
    log = s.log_path.read_text(errors="replace")
    assert "owners.bob.tokens: token 1 is not a hash" in log, log[-2000:]
    assert BOB not in log
    assert s.proc.poll() is None, "SIGHUP must not stop the server"
    assert s.get("/v1/jobs", headers=auth(BOB)).status_code == 200


def test_a_bad_owners_file_stops_the_start(tmp_path):
    def serve(*args):
        return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                               str(tmp_path / "data"), "--gpu-lock-dir", str(tmp_path),
                               "--gpus", "sim:24GiB", *args],
                              capture_output=True, text=True, timeout=20 * SLOW)
    bad = owners_file(tmp_path, '[owners.a]\ntokens = []\nlimit_mb = 10\nquota_mb = 20\n')
    r = serve("--owners", str(bad))
    assert r.returncode == 2, r.stderr
    assert "owners file: owners.a: limit_mb (10) is below quota_mb (20)" in r.stderr, r.stderr
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{ALICE}:alice\n")
    good = owners_file(tmp_path, f'[owners.a]\ntokens = ["{hashed(ALICE)}"]\n')
    r = serve("--owners", str(good), "--token-file", str(tokens))
    assert r.returncode == 2 and "give one" in r.stderr, r.stderr
    # A file others may read is started with, and warned about.
    good.chmod(0o644)
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                          str(tmp_path / "data"), "--gpu-lock-dir", str(tmp_path), "--gpus",
                          "sim:24GiB", "--owners", str(good)],
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20 * SLOW
        seen = ""
        while "listening on" not in seen and time.time() < deadline:
            seen += p.stderr.readline()
        assert "readable by other users" in seen, seen
    finally:
        p.terminate()
        p.wait(timeout=20 * SLOW)


def test_quotas_limits_and_borrowing_over_http(make_server, tmp_path):
    path = owners_file(tmp_path, f"""
[owners.alice]
tokens = ["{hashed(ALICE)}"]
quota_mb = 8000
limit_mb = 16000
[owners.bob]
tokens = ["{hashed(BOB)}"]
max_running = 1
[owners.root]
role = "admin"
tokens = ["{hashed(ROOT)}"]
""")
    s = make_server("--gpus", "sim:24GiB", "--owners", str(path))

    def submit(who, mb, **extra):
        r = s.post("/v1/jobs", {"task": "fake-model", "params": {"seconds": 60, "vram_mb": mb},
                                **extra}, headers=auth(who))
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def job(i):
        return s.get(f"/v1/jobs/{i}", headers=auth(ALICE)).json()

    guaranteed = submit(ALICE, 6000)
    waits = submit(ALICE, 6000)  # above the guarantee and not preemptible
    eventually(lambda: job(guaranteed)["state"] == "running", 10, "the guaranteed job runs")
    j = eventually(lambda: (lambda x: x if x["pending_reason"] == "quota" else None)(job(waits)),
                   10, "the job above the guarantee waits for quota")
    assert "alice holds 6000 MiB of its quota_mb 8000" in j["quota"], j
    assert j["preemptible"] is False and j["borrowed"] is False
    # The CLI's --preemptible: the job borrows idle VRAM above the guarantee.
    cli = s.cli("submit", "fake-model", "-p", "seconds=60", "-p", "vram_mb=6000",
                "--preemptible", "--json", env={"VRAMQ_TOKEN": ALICE})
    assert cli.returncode == 0, cli.stderr
    borrowed = json.loads(cli.stdout)["id"]
    j = eventually(lambda: (lambda x: x if x["state"] == "running" else None)(job(borrowed)), 10,
                   "the preemptible job runs")
    assert j["preemptible"] is True and j["borrowed"] is True, j
    assert job(guaranteed)["borrowed"] is False
    # bob runs one job at a time.
    b1, b2 = submit(BOB, 100), submit(BOB, 100)
    eventually(lambda: s.get(f"/v1/jobs/{b1}", headers=auth(BOB)).json()["state"] == "running",
               10, "bob's first job runs")
    j = s.get(f"/v1/jobs/{b2}", headers=auth(BOB)).json()
    assert j["pending_reason"] == "quota" and "its max_running is 1" in j["quota"], j
    # An admin sees every owner's limits and what it holds (GET /v1/owners, `vramq owners`);
    # others get 403, and no token's hash ever leaves the server.
    r = s.get("/v1/owners", headers=auth(BOB))
    assert r.status_code == 403 and "admin" in r.json()["detail"], r.text
    r = s.get("/v1/owners", headers=auth(ROOT))
    assert r.status_code == 200 and "sha256" not in r.text, r.text
    o = {x["name"]: x for x in r.json()["owners"]}
    assert o["alice"]["limits"]["quota_mb"] == 8000 and o["alice"]["limits"]["limit_mb"] == 16000
    assert (o["alice"]["reserved_mb"], o["alice"]["borrowed_mb"]) == (12000, 6000), o["alice"]
    assert (o["alice"]["running"], o["alice"]["queued"], o["alice"]["tokens"]) == (2, 1, 1)
    assert (o["bob"]["running"], o["bob"]["queued"]) == (1, 1), o["bob"]
    assert o["bob"]["limits"]["max_running"] == 1 and o["bob"]["limits"]["quota_mb"] is None
    assert o["root"]["role"] == "admin" and o["root"]["runs_as"] is None
    cli = s.cli("owners", env={"VRAMQ_TOKEN": ROOT})
    assert cli.returncode == 0, cli.stderr
    alice_line = next(line.split() for line in cli.stdout.splitlines()
                      if line.startswith("alice"))
    assert alice_line[:7] == ["alice", "user", "-", "-", "12000", "6000", "8000"], cli.stdout
    assert s.cli("owners", env={"VRAMQ_TOKEN": BOB}).returncode != 0
    # What is borrowed survives a kill -9 (stored with the run).
    s.kill9()
    s.start()
    assert job(borrowed)["borrowed"] is True
    for i in (guaranteed, waits, borrowed):
        s.delete(f"/v1/jobs/{i}", headers=auth(ALICE))
    for i in (b1, b2):
        s.delete(f"/v1/jobs/{i}", headers=auth(BOB))
