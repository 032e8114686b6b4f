"""Jobs run as their owners (issue 24, item 6): a server started as root runs each job as its
owner's `run_as` user (else --run-as), so that one owner's job cannot read another's environment
or directory, nor the owners file or the store. Real Unix users (made here with useradd, removed
after), a real root server, real jobs; the oracle is what the kernel lets bob's job read."""
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, SLOW, eventually
from test_owners import hashed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="makes Unix users and runs as root")

ALICE, BOB = "alice-secret-0123456789", "bob-secret-0123456789ab"
USERS = ("vramq-t-alice", "vramq-t-bob", "vramq-t-jobs")


@pytest.fixture(scope="module")
def users():
    made = []
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", name], check=True)
            made.append(name)
    yield {name: pwd.getpwnam(name) for name in USERS}
    for name in made:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def place():
    """A directory every user may pass through (pytest's own tmp is root's alone), holding the
    data directory and the owners file."""
    base = Path(tempfile.mkdtemp(prefix="vramq-run-as-", dir="/tmp"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def owners(place, alice_as="vramq-t-alice"):
    path = place / "owners.toml"
    path.write_text(f'[owners.alice]\ntokens = ["{hashed(ALICE)}"]\nrun_as = "{alice_as}"\n'
                    f'[owners.bob]\ntokens = ["{hashed(BOB)}"]\n')
    path.chmod(0o600)
    return path


def start(make_server, place, *extra):
    return make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--owners",
                       str(owners(place)), "--run-as", "vramq-t-bob", *extra,
                       data_dir=place / "data")


def job_of(s, job_id, token=ALICE):
    return s.get(f"/v1/jobs/{job_id}", headers=auth(token)).json()


def job_process(job_dir):
    """The job's own process (the one whose working directory is its job directory) and its
    supervisor (that process's parent)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd") == str(job_dir):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                return ppid, int(entry.name)
        except OSError:
            continue
    raise AssertionError(f"no process runs in {job_dir}")


def test_one_owners_job_cannot_read_anothers(make_server, users, place):
    s = start(make_server, place)
    log = s.log_path.read_text()
    assert "jobs run as vramq-t-bob (1 owners as their own run_as)" in log, log
    assert "JOBS RUN AS ROOT" not in log
    data = place / "data"
    assert (data.stat().st_mode & 0o777) == 0o711, "others may pass, not list"
    # alice's job: a secret in its environment and in a file of its directory, while it runs.
    a = s.post("/v1/jobs", {"command": ["/bin/sh", "-c", "echo $ALICE_SECRET > secret.txt; "
                                        "exec sleep 60"],
                            "env": {"ALICE_SECRET": "alices-hf-token"}}, headers=auth(ALICE)).json()
    adir = data / "jobs" / str(a["id"])
    eventually(lambda: (adir / "secret.txt").exists(), 10, "alice's job wrote its file")
    sup, apid = job_process(adir)
    alice = users["vramq-t-alice"]
    assert os.stat(f"/proc/{apid}").st_uid == alice.pw_uid, "it runs as alice's user"
    assert adir.stat().st_uid == alice.pw_uid and (adir.stat().st_mode & 0o777) == 0o700
    assert (adir / "secret.txt").stat().st_uid == alice.pw_uid
    # bob's job (as --run-as: vramq-t-bob) tries everything a teammate's job might.
    targets = {"env": f"/proc/{apid}/environ", "supervisor": f"/proc/{sup}/environ",
               "file": str(adir / "secret.txt"), "owners": str(place / "owners.toml"),
               "store": str(data / "vramq.db")}
    script = "".join(f'cat "{path}" >/dev/null 2>&1 && echo "READ {name}" || echo "DENIED {name}"\n'
                     for name, path in targets.items())
    script += (f'ls "{adir}" >/dev/null 2>&1 && echo "READ dir" || echo "DENIED dir"\n'
               f'ls "{data}" >/dev/null 2>&1 && echo "READ data" || echo "DENIED data"\n'
               f'kill -0 {apid} 2>/dev/null && echo "READ signal" || echo "DENIED signal"\n'
               'echo "uid $(id -u) home $HOME user $USER"\n'
               'echo mine > own.txt && cat own.txt\n'
               'grep -c BOBS /proc/self/environ\n')
    b = s.post("/v1/jobs?wait=30", {"command": ["/bin/sh", "-c", script],
                                    "env": {"BOBS": "bobs-own"}}, headers=auth(BOB)).json()
    assert b["state"] == "succeeded", b
    out = b["output"]
    for name in list(targets) + ["dir", "data", "signal"]:
        assert f"DENIED {name}" in out, out
    bob = users["vramq-t-bob"]
    assert f"uid {bob.pw_uid} home /nonexistent user vramq-t-bob" in out, out
    assert "mine\n1\n" in out, "its own directory and environment are its own"
    # Still running, its secret untouched; cancelled like any job (the server signals it).
    assert (adir / "secret.txt").read_text().strip() == "alices-hf-token"
    assert job_of(s, a["id"])["state"] == "running"
    assert s.delete(f"/v1/jobs/{a['id']}", headers=auth(ALICE)).status_code in (200, 202)
    eventually(lambda: job_of(s, a["id"])["state"] == "cancelled", 10, "the cancel")


def test_without_run_as_a_root_server_warns_and_bad_users_stop_the_start(make_server, users,
                                                                           place, tmp_path):
    s = make_server("--gpus", "sim:24GiB", data_dir=tmp_path / "data")
    assert "JOBS RUN AS ROOT" in s.log_path.read_text()

    def serve(*args):
        return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--gpus", "sim:24GiB",
                               "--data-dir", str(place / "refused"), *args],
                              capture_output=True, text=True, timeout=20 * SLOW)
    r = serve("--run-as", "root")
    assert r.returncode == 2 and "--run-as 'root': a job run as root has the server's powers" \
        in r.stderr, r.stderr
    r = serve("--run-as", "vramq-t-nobody")
    assert r.returncode == 2 and "--run-as: no Unix user 'vramq-t-nobody'" in r.stderr, r.stderr
    r = serve("--owners", str(owners(place, alice_as="vramq-t-nobody")))
    assert r.returncode == 2 and "owners.alice.run_as: no Unix user" in r.stderr, r.stderr
    # A data directory the job users cannot reach is said at the start, not at each job's.
    hidden = Path(tempfile.mkdtemp(prefix="vramq-hidden-", dir="/tmp"))
    try:
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--gpus", "sim:24GiB",
                            "--data-dir", str(hidden / "data"), "--run-as", "vramq-t-jobs"],
                           capture_output=True, text=True, timeout=20 * SLOW)
        assert r.returncode == 2 and f"{hidden} (mode 0700) lets them not through" in r.stderr, \
            r.stderr
    finally:
        shutil.rmtree(hidden, ignore_errors=True)


def test_a_sighup_moves_an_owner_to_another_user(make_server, users, place):
    s = start(make_server, place)

    def uid_of_alices_job():
        j = s.post("/v1/jobs?wait=30", {"command": ["/usr/bin/id", "-u"]},
                   headers=auth(ALICE)).json()
        return int(j["output"])

    def reload(alice_as, logged):
        owners(place, alice_as=alice_as)
        os.kill(s.proc.pid, 1)
        eventually(lambda: logged in s.log_path.read_text(), 10, logged)

    assert uid_of_alices_job() == users["vramq-t-alice"].pw_uid
    reload("vramq-t-jobs", "SIGHUP: reloaded")
    assert uid_of_alices_job() == users["vramq-t-jobs"].pw_uid
    # A run_as that does not resolve is refused whole; the users in force are kept.
    reload("vramq-t-nobody", "the owners in force are kept")
    assert uid_of_alices_job() == users["vramq-t-jobs"].pw_uid


def test_warm_workers_serve_only_runs_of_their_user(make_server, users, place):
    s = start(make_server, place)

    def run(token):
        j = s.post("/v1/jobs?wait=60", {"task": "fake-worker", "params": {"vram_mb": 100}},
                   headers=auth(token)).json()
        assert j["state"] == "succeeded", j
        return j["worker"]
    first, again, bobs = run(ALICE), run(ALICE), run(BOB)
    assert first == again, "alice's second run is served by her warm worker"
    assert bobs != first, "bob's run is never served by alice's worker"
    workers = {w["id"]: w for w in s.get("/v1/workers", headers=auth(ALICE)).json()["workers"]}
    for wid, user in ((first, "vramq-t-alice"), (bobs, "vramq-t-bob")):
        wdir = place / "data" / "workers" / str(wid)
        assert wdir.stat().st_uid == users[user].pw_uid, (wid, user)
        assert os.stat(f"/proc/{workers[wid]['pid']}").st_uid == 0, "its supervisor stays root"


def test_the_server_never_writes_through_a_link_planted_in_a_job_directory(make_server, users,
                                                                            place):
    """A warm worker's result is written by the server (root) as the run's stdout.log, in a
    directory its user owns: a link planted there (by another process of that user) must not
    make root write where it points."""
    s = start(make_server, place)
    target = place / "root-only"
    target.write_text("untouched\n")
    target.chmod(0o600)
    j = s.post("/v1/jobs", {"task": "fake-worker", "params": {"seconds": 3, "vram_mb": 100,
                                                              "output": "mesh written"}},
               headers=auth(ALICE)).json()
    jdir = place / "data" / "jobs" / str(j["id"])
    eventually(lambda: job_of(s, j["id"])["state"] == "running", 30, "the run starts")
    link = jdir / "stdout.log"
    if link.exists() or link.is_symlink():
        link.unlink()
    os.symlink(target, link)
    os.lchown(link, users["vramq-t-alice"].pw_uid, users["vramq-t-alice"].pw_gid)
    ended = eventually(lambda: (lambda x: x if x["state"] not in ("queued", "running") else None)(
        job_of(s, j["id"])), 30, "the run ends")
    assert ended["state"] == "succeeded" and "mesh written" in ended["output"], ended
    assert target.read_text() == "untouched\n"
    assert link.is_symlink(), "refused, not replaced"


def test_an_uploaded_input_is_read_by_its_jobs_user_alone(make_server, users, place):
    """A file uploaded with alice's job (issue 25) is readable by her job's user and by no other
    job: it waits in the data directory's private uploads/, then sits in her job's directory."""
    import json

    import requests
    tasks = place / "tasks.toml"
    tasks.write_text('[tasks.readit]\nargv = ["/bin/sh", "-c", "id -u; cat \\"$1\\"", "sh", '
                     '"{doc}"]\n[tasks.readit.params]\ndoc = { type = "file" }\n'
                     '[tasks.readit.vram]\nbase_mb = 100\n')
    tasks.chmod(0o644)
    s = start(make_server, place, "--tasks", str(tasks))
    r = requests.post(s.url + "/v1/jobs?wait=30", headers=auth(ALICE), timeout=60 * SLOW,
                      files={"job": (None, json.dumps({"task": "readit"}), "application/json"),
                             "doc": ("doc.txt", b"alice's document\n", "text/plain")})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["state"] == "succeeded", a
    assert a["output"] == f"{users['vramq-t-alice'].pw_uid}\nalice's document\n"
    data = place / "data"
    doc = data / "jobs" / str(a["id"]) / "inputs" / "doc"
    assert doc.read_bytes() == b"alice's document\n"
    script = (f'cat "{doc}" >/dev/null 2>&1 && echo "READ doc" || echo "DENIED doc"\n'
              f'ls "{data}/uploads" >/dev/null 2>&1 && echo "READ uploads" || echo "DENIED uploads"\n')
    b = s.post("/v1/jobs?wait=30", {"command": ["/bin/sh", "-c", script]}, headers=auth(BOB)).json()
    assert b["state"] == "succeeded", b
    assert "DENIED doc" in b["output"] and "DENIED uploads" in b["output"], b["output"]
