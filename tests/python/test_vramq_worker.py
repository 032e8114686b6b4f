"""The Python worker helper (python/vramq_worker.py) against a real worker process, spoken to
over its stdin/stdout exactly as vramq does."""
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent("""
    import os, sys, time
    from vramq_worker import Worker, RetryableError, serve

    class Demo(Worker):
        def setup(self):
            print("loading", flush=True)       # fd 1 is stderr now: the protocol stays clean
            if os.environ.get("FAIL_SETUP"):
                raise RuntimeError("weights not found")
            self.loaded = True

        def run(self, params, job_dir):
            mode = params.get("mode", "ok")
            print(f"run {self.job_id} in {job_dir}")
            os.write(1, b"native library noise\\n")
            if mode == "error":
                raise ValueError("bad image")
            if mode == "retry":
                raise RetryableError("remote store busy")
            if mode == "oom":
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            if mode == "slow":
                for _ in range(200):
                    self.check_cancelled()
                    time.sleep(0.01)
            self.progress(0.5, "halfway")
            with open(os.path.join(job_dir, "out.txt"), "w") as f:
                f.write("mesh")
            return {"ok": True, "params": params} if mode != "text" else "plain text"

        def teardown(self):
            print("teardown", flush=True)

    raise SystemExit(serve(Demo()))
""")


class Proc:
    def __init__(self, tmp_path, env=None):
        script = tmp_path / "worker.py"
        script.write_text(WORKER)
        self.stderr_path = tmp_path / "stderr.log"
        e = dict(os.environ, PYTHONPATH=str(REPO / "python"), **(env or {}))
        self.p = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=open(self.stderr_path, "wb"),
                                  env=e, text=True, bufsize=1)

    def send(self, **msg):
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()

    def recv(self):
        line = self.p.stdout.readline()
        assert line, f"no line; stderr: {self.stderr_path.read_text()}"
        return json.loads(line)

    def stderr(self):
        return self.stderr_path.read_text()


@pytest.fixture
def worker(tmp_path):
    w = Proc(tmp_path)
    w.send(type="init", protocol=1, worker=1, task="demo", gpu=0)
    assert w.recv() == {"type": "ready"}
    yield w
    if w.p.poll() is None:
        w.p.kill()
        w.p.wait()


def test_runs_results_and_a_clean_protocol(worker, tmp_path):
    worker.send(type="run", job=7, attempt=1, params={"x": 1}, job_dir=str(tmp_path),
                deadline_ms=0, vram_mb=100, env={})
    progress = worker.recv()
    assert progress == {"type": "progress", "job": 7, "message": "halfway", "fraction": 0.5}
    result = worker.recv()
    assert result["type"] == "result" and result["job"] == 7
    assert json.loads(result["output"]) == {"ok": True, "params": {"x": 1}}
    assert (tmp_path / "out.txt").read_text() == "mesh"
    worker.send(type="run", job=8, params={"mode": "text"}, job_dir=str(tmp_path))
    worker.recv()
    assert worker.recv() == {"type": "result", "job": 8, "output": "plain text"}
    # Prints and a native write to fd 1 went to stderr (the run's log), not the protocol.
    err = worker.stderr()
    assert "loading" in err and "run 7 in" in err and "native library noise" in err


def test_errors_are_the_runs_and_say_whether_to_retry(worker, tmp_path):
    for mode, retryable, text in [("error", False, "ValueError: bad image"),
                                  ("retry", True, "RetryableError: remote store busy"),
                                  ("oom", True, "CUDA out of memory")]:
        worker.send(type="run", job=3, params={"mode": mode}, job_dir=str(tmp_path))
        m = worker.recv()
        assert m["type"] == "error" and m["job"] == 3 and m["retryable"] is retryable, m
        assert text in m["message"]
    assert "Traceback" in worker.stderr()
    # The worker goes on after a failed run.
    worker.send(type="run", job=4, params={"mode": "text"}, job_dir=str(tmp_path))
    worker.recv()
    assert worker.recv()["type"] == "result"


def test_pings_are_answered_during_a_run_and_cancel_stops_it(worker, tmp_path):
    worker.send(type="run", job=5, params={"mode": "slow"}, job_dir=str(tmp_path))
    worker.send(type="ping", seq=41)
    assert worker.recv() == {"type": "pong", "seq": 41}
    worker.send(type="cancel", job=99)  # another run's: ignored, run 5 goes on
    time.sleep(0.3)  # the slow run looks for a cancel every 10 ms
    worker.send(type="ping", seq=42)
    assert worker.recv() == {"type": "pong", "seq": 42}, "a cancel for job 99 stopped run 5"
    worker.send(type="cancel", job=5)
    t0 = time.time()
    assert worker.recv() == {"type": "cancelled", "job": 5}
    assert time.time() - t0 < 1.5
    # A cancel that overtakes its run (read before the run begins) is not lost.
    worker.send(type="cancel", job=6)
    worker.send(type="run", job=6, params={"mode": "slow"}, job_dir=str(tmp_path))
    t0 = time.time()
    assert worker.recv() == {"type": "cancelled", "job": 6}
    assert time.time() - t0 < 1.0


def test_shutdown_and_end_of_input_exit_cleanly(worker, tmp_path):
    worker.send(type="shutdown")
    assert worker.p.wait(timeout=5) == 0
    assert "teardown" in worker.stderr()
    w2 = Proc(tmp_path / "..")
    w2.send(type="init", worker=2, task="demo", gpu=0)
    assert w2.recv()["type"] == "ready"
    w2.p.stdin.close()
    assert w2.p.wait(timeout=5) == 0


def test_a_setup_failure_is_fatal(tmp_path):
    w = Proc(tmp_path, env={"FAIL_SETUP": "1"})
    w.send(type="init", worker=1, task="demo", gpu=0)
    m = w.recv()
    assert m["type"] == "fatal" and "weights not found" in m["message"], m
    assert w.p.wait(timeout=5) == 1
