"""POST /run-script answers exactly as the seed article's FastAPI service does: the same requests
go to the real seed (../shared/peers/seed_fastapi, run with Debian's FastAPI) and to vramq, and
the status codes and bodies must be byte for byte the same."""
import concurrent.futures
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import REPO, SLOW

SEED = REPO.parent / "shared" / "peers" / "seed_fastapi"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def make_seed(tmp_path):
    procs = []

    def make(free_mb, queue_max):
        d = tmp_path / f"seed{len(procs)}"
        d.mkdir()
        for f in ("main.py", "pynvml.py"):
            shutil.copy(SEED / f, d / f)
        port = free_port()
        env = dict(os.environ, FAKE_FREE_VRAM_MB=str(free_mb), QUEUE_MAX_SIZE=str(queue_max),
                   MODEL_VRAM_REQUIRED="2048", MODEL_EXEC_PATH=str(d))
        p = subprocess.Popen(["/usr/bin/python3", "-m", "uvicorn", "main:app", "--port", str(port),
                              "--log-level", "warning"], cwd=d, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(url + "/docs", timeout=1)
                return url
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the seed did not start")

    yield make
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def running(argv):
    """Whether a process with exactly this argv runs."""
    want = "\0".join(argv).encode() + b"\0"
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read() == want:
                    return True
        except OSError:
            continue
    return False


def wait_until(fn, what, timeout=10):
    deadline = time.time() + timeout * SLOW
    while not fn():
        assert time.time() < deadline, f"never: {what}"
        time.sleep(0.02)


def run(url, command):
    r = requests.post(url + "/run-script", json={"command": command}, timeout=60 * SLOW)
    return r.status_code, r.content


CASES = [
    ["/bin/echo", "hello", "world"],
    ["/bin/sh", "-c", "printf 'line1\\nline2\\n'; printf 'some warning\\n' >&2"],
    ["/bin/sh", "-c", "echo 'it'\"'\"'s broken' >&2; exit 3"],
    ["/bin/sh", "-c", "printf 'tab\\there \\\\ back\\001' >&2; exit 1"],
    ["/bin/sh", "-c", "kill -9 $$"],
]


@pytest.mark.skipif(not SEED.exists(), reason="the seed peer is not in ../shared/peers")
@pytest.mark.parametrize("command", CASES)
def test_same_answers_as_the_seed(make_seed, make_server, command):
    # A fresh seed per case: one failing job makes the seed's workers stop for good.
    seed = make_seed(free_mb=24576, queue_max=5)
    vramq = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    assert run(vramq.url, command) == run(seed, command)


@pytest.mark.skipif(not SEED.exists(), reason="the seed peer is not in ../shared/peers")
def test_queue_full_is_the_seeds_429(make_seed, make_server):
    # One slot (3 GiB free - 1 GiB buffer = one 2 GiB run) and a queue of one: the third
    # concurrent call is refused.
    seed = make_seed(free_mb=3072, queue_max=1)
    vramq = make_server("--gpus", "sim:3GiB", "--allow-raw-commands", "--queue-max", "1")
    for n, url in enumerate((seed, vramq.url)):
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            # A duration of its own, so that its process can be told apart from any other.
            duration = f"{3 * SLOW}.{os.getpid()}{n}"
            first = pool.submit(run, url, ["/bin/sleep", duration])
            wait_until(lambda: running(["/bin/sleep", duration]), "the first run to start")
            second = pool.submit(run, url, ["/bin/sleep", "0"])
            if url == vramq.url:
                wait_until(lambda: vramq.get("/v1/jobs?state=queued").json()["jobs"],
                           "the second run to be queued")
            else:
                time.sleep(0.5 * SLOW)  # the seed shows nothing to wait on: its queue is opaque
            third = run(url, ["/bin/echo", "x"])
            assert third == (429, b'{"detail":"Queue is full. Try again later."}'), url
            assert first.result()[0] == 200 and second.result()[0] == 200


def test_run_script_is_refused_without_raw_commands(server):
    r = requests.post(server.url + "/run-script", json={"command": ["/bin/true"]}, timeout=30)
    assert r.status_code == 403 and "allow-raw-commands" in r.json()["detail"]


@pytest.mark.skipif(not SEED.exists(), reason="the seed peer is not in ../shared/peers")
def test_bad_bodies_side_by_side_with_the_seed(make_seed, make_server):
    """Bad bodies, both services asked: the same bytes where vramq can give them; each
    difference is deliberate and documented in docs/api.md."""
    seed = make_seed(free_mb=24576, queue_max=5)
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")

    def both(body):
        return [requests.post(url + "/run-script", data=body, timeout=30 * SLOW,
                              headers={"Content-Type": "application/json"})
                for url in (seed, s.url)]

    for body in [b"{}", b'{"command": "ls"}']:  # the same bytes
        a, b = both(body)
        assert (a.status_code, a.content) == (b.status_code, b.content), body
    # Not JSON: both 422 at ["body", 0], type value_error.jsondecode; the message is Python's
    # json module's on the seed ("Expecting value: line 1 column 1 (char 0)"), vramq's own here.
    a, b = both(b"nope")
    assert a.status_code == b.status_code == 422
    for r in (a, b):
        d = r.json()["detail"][0]
        assert d["loc"] == ["body", 0] and d["type"] == "value_error.jsondecode", r.text
    # The seed coerces 1 to "1" and crashes running it, or crashes on an empty argv (500s with
    # Python's exception text); vramq refuses these bodies as invalid (422, pydantic's shape).
    for body in [b'{"command": [1]}', b'{"command": []}', b'{"command": [""]}']:
        a, b = both(body)
        assert a.status_code == 500 and b.status_code == 422, (body, a.text, b.text)
        assert b.json()["detail"][0]["loc"] == ["body", "command"]
