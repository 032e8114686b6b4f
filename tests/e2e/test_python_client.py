"""The Python client (python/vramq, issue 25 item 3) against a real vramq: submit with files,
wait, logs (followed), events, files and download, cancel, listings, errors as exceptions with the
problem details, retries that never make a second job; webhook signatures; and that
`pip install ./python` installs it."""
import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, SLOW

sys.path.insert(0, str(REPO / "python"))
import vramq  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def write_catalog(tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text("""
[tasks.digest]
argv = ["/bin/sh", "-c", "for i in 1 2 3; do echo step $i >&2; sleep 0.2; done; sha256sum < \\"$1\\" | cut -c1-64; cp \\"$1\\" copy.bin", "sh", "{image}"]
[tasks.digest.params]
image = { type = "file", media_types = ["image/png"] }
[tasks.digest.vram]
base_mb = 1024
[tasks.nap]
argv = ["/bin/sleep", "{seconds}"]
[tasks.nap.params]
seconds = { type = "int", default = 60 }
[tasks.nap.vram]
base_mb = 1024
""")
    return tasks


@pytest.fixture
def vq(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path)))
    return vramq.Client(s.url, timeout=30 * SLOW)


def test_a_job_with_a_file_followed_to_its_end_and_its_output_downloaded(vq, tmp_path):
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    job = vq.submit("digest", files={"image": str(image)})
    assert job.state in ("queued", "running") and job.id == 1
    lines = list(job.logs(stream="stderr", follow=True))
    assert lines == ["step 1", "step 2", "step 3"]
    job.wait(timeout=30 * SLOW)
    assert job.state == "succeeded" and job.ended
    assert job.output.strip() == hashlib.sha256(PNG).hexdigest()
    assert {f["path"] for f in job.files()} >= {"copy.bin", "inputs/image", "stdout.log"}
    job.download("copy.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == PNG
    assert [j.id for j in vq.jobs(state="succeeded")] == [1]
    assert vq.job(1).state == "succeeded"
    assert vq.gpus()["gpus"][0]["index"] == 0
    # Bytes work as well as paths.
    again = vq.submit("digest", files={"image": PNG}, wait=30 * SLOW)
    assert again.state == "succeeded", again.data


def test_events_until_the_job_ends_and_cancel(vq):
    job = vq.submit("nap", params={"seconds": 60})
    seen = []

    def follow():
        for event, data, _ in job.events():
            seen.append((event, data.get("state")))

    reader = threading.Thread(target=follow)
    reader.start()
    deadline = time.time() + 10 * SLOW
    while vq.job(job.id).state != "running" and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    job.cancel()
    reader.join(timeout=30 * SLOW)
    assert not reader.is_alive(), "events() ends when the job ends"
    assert seen[-1] == ("job", "cancelled"), seen
    assert list(job.events()) == []  # ended already: nothing more


def test_errors_carry_the_problem_details(vq):
    with pytest.raises(vramq.VramqError) as e:
        vq.submit("digest", files={"image": b"not a picture"})
    assert e.value.status == 415 and e.value.field == "params.image"
    assert "text/plain" in e.value.detail
    with pytest.raises(vramq.VramqError) as e:
        vq.job(999)
    assert e.value.status == 404
    with pytest.raises(vramq.VramqError) as e:
        vramq.Client("http://127.0.0.1:9", retries=0).gpus()
    assert e.value.status == 0 and "cannot reach" in e.value.detail


def test_a_submit_retried_after_429_makes_one_job(make_server, tmp_path):
    s = make_server("--gpus", "sim:1GiB", "--vram-buffer-mb", "0", "--queue-max", "1",
                    "--tasks", str(write_catalog(tmp_path)))
    vq = vramq.Client(s.url, retries=8)
    blocker = vq.submit("nap", params={"seconds": 60})
    waiting = vq.submit("nap", params={"seconds": 1})  # fills the queue

    def free_the_queue():
        time.sleep(1.5)
        blocker.cancel()

    threading.Thread(target=free_the_queue).start()
    started = time.time()
    third = vq.submit("nap", params={"seconds": 1})  # 429 until the queue has room
    assert time.time() - started >= 1.0
    assert third.id == 3
    assert sorted(j.id for j in vq.jobs()) == [1, 2, 3]
    assert waiting.wait(timeout=30 * SLOW).state == "succeeded"


def test_webhook_signatures(tmp_path):
    secret = "whsec_" + __import__("base64").b64encode(b"0123456789abcdef0123456789abcdef").decode()
    body = b'{"type":"job.ended","data":{"id":7}}'
    now = int(time.time())
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(now),
               "Webhook-Signature": "v1,bm90IGl0 " + vramq.sign_webhook(secret, "msg_1", now, body)}
    assert vramq.verify_webhook(secret, headers, body) == {"type": "job.ended", "data": {"id": 7}}
    for bad_headers, bad_body, why in [
            (headers, body + b" ", "no signature"),
            ({**headers, "Webhook-Id": "msg_2"}, body, "no signature"),
            ({**headers, "Webhook-Timestamp": str(now - 600)}, body, "from now"),
            ({k: v for k, v in headers.items() if k != "Webhook-Signature"}, body, "missing")]:
        with pytest.raises(vramq.WebhookError, match=why):
            vramq.verify_webhook(secret, bad_headers, bad_body)
    with pytest.raises(vramq.WebhookError):
        vramq.verify_webhook("whsec_" + "A" * 44, headers, body)


def test_pip_installs_the_client(tmp_path):
    import shutil
    source = tmp_path / "source"  # setuptools writes build/ and egg-info/ beside the sources
    shutil.copytree(REPO / "python", source, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                        "--no-deps", "--no-index", "--target", str(target), str(source)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", "import vramq, vramq_worker; print(vramq.Client)"],
                       env=dict(os.environ, PYTHONPATH=str(target)), capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0 and "Client" in r.stdout, r.stderr
