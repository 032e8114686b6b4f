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
    for url in (seed, vramq.url):
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            first = pool.submit(run, url, ["/bin/sleep", str(3 * SLOW)])
            time.sleep(0.5 * SLOW)
            second = pool.submit(run, url, ["/bin/sleep", "0"])
            time.sleep(0.5 * SLOW)
            third = run(url, ["/bin/echo", "x"])
            assert third == (429, b'{"detail":"Queue is full. Try again later."}'), url
            assert first.result()[0] == 200 and second.result()[0] == 200


def test_run_script_is_refused_without_raw_commands(server):
    r = requests.post(server.url + "/run-script", json={"command": ["/bin/true"]}, timeout=30)
    assert r.status_code == 403 and "allow-raw-commands" in r.json()["detail"]


def test_bad_bodies_get_fastapi_style_422(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    for body in [b"{}", b'{"command": "ls"}', b'{"command": [1]}', b"nope"]:
        r = requests.post(s.url + "/run-script", data=body, timeout=30)
        assert r.status_code == 422, body
        assert r.json()["detail"][0]["loc"] == ["body", "command"]
