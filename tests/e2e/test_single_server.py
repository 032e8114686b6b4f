"""One server per data directory, and one per GPU on a host: a second `vramq serve` refuses to
start, at once, naming what is in use and the PID that holds it, and changes nothing: the first
server's running job runs on, and is not marked interrupted."""
import os
import subprocess

from conftest import BIN, SLOW, process_alive
from test_nvml import FakeGpus


def second_serve(*args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", *args], env=e,
                          capture_output=True, text=True, timeout=20 * SLOW)


def test_second_server_on_a_data_dir_in_use_exits_at_once(make_server, tmp_path):
    first = make_server("--gpus", "sim:24GiB")
    j = first.submit(params={"seconds": 30, "vram_mb": 1000}).json()
    first.wait_state(j["id"], ["running"])
    r = second_serve("--gpus", "sim:24GiB", "--data-dir", str(first.data_dir))
    assert r.returncode == 2, r.stderr
    assert str(first.data_dir) in r.stderr and f"PID {first.proc.pid}" in r.stderr, r.stderr
    assert "listening" not in r.stderr
    # Nothing was recovered or killed: the first server's job runs on.
    after = first.job(j["id"])
    assert after["state"] == "running" and after["attempt"] == 1, after
    first.delete(f"/v1/jobs/{j['id']}")
    assert first.wait_job(j["id"])["state"] == "cancelled"


def test_the_lock_dies_with_the_server(make_server, tmp_path):
    first = make_server("--gpus", "sim:24GiB")
    first.kill9()
    again = make_server("--gpus", "sim:24GiB", data_dir=first.data_dir)
    assert again.get("/healthz").status_code == 200
    assert (first.data_dir / "vramq.lock").read_text().strip() == str(again.proc.pid)


def test_second_server_on_the_same_gpus_is_refused(make_server, tmp_path):
    gpus = FakeGpus(tmp_path / "nvml")
    gpus.devices(("GPU-33333333-cccc", 24576, 0, "NVIDIA Fake L4"))
    locks = tmp_path / "locks"
    locks.mkdir()
    first = make_server("--gpus", "nvml", "--gpu-lock-dir", str(locks), env=gpus.env())
    r = second_serve("--gpus", "nvml", "--gpu-lock-dir", str(locks), "--data-dir",
                     str(tmp_path / "other"), env=gpus.env())
    assert r.returncode == 2, r.stderr
    assert "GPU-33333333-cccc" in r.stderr and f"PID {first.proc.pid}" in r.stderr, r.stderr
    assert process_alive(first.proc.pid)
