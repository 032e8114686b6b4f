"""Files uploaded with a job (issue 25, item 1): a multipart/form-data submit (the job's JSON as
the part "job", then a part per file parameter) or a data: URL in the JSON; each file checked as
it arrives (its parameter, its size, its media type by content), kept before the job is stored,
moved into the job's directory at its start. A refused upload stores nothing and leaves no file
behind."""
import base64
import hashlib
import json
import os
import socket
import time

import requests

from conftest import SLOW, check_contract, eventually

# A real 1x1 PNG (its signature is what counts).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def write_catalog(tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text("""
[tasks.digest]
argv = ["/bin/sh", "-c", "sha256sum < \\"$1\\" | cut -c1-64; wc -c < \\"$1\\"; stat -c %a \\"$1\\"; cat \\"$2\\"", "sh", "{image}", "{note}"]
[tasks.digest.params]
image = { type = "file", max_bytes = 100000, media_types = ["image/png", "image/jpeg"] }
note = { type = "file", media_types = ["text/plain"], default = "/dev/null" }
[tasks.digest.vram]
base_mb = 1024
""")
    return tasks


def upload(s, job, files, wait=None, headers=None, boundary=None):
    """POST /v1/jobs as multipart/form-data: the job part first, then the files in order."""
    boundary = boundary or "vramq-test-" + os.urandom(8).hex()
    body = b""
    parts = [("job", None, json.dumps(job).encode(), "application/json")] + [
        (name, name + ".bin", data, "application/octet-stream") for name, data in files]
    for name, filename, data, ctype in parts:
        body += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        body += f"Content-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    path = "/v1/jobs" + (f"?wait={wait}" if wait else "")
    r = requests.post(s.url + path, data=body, timeout=30 * SLOW + (wait or 0),
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                               **(headers or {})})
    check_contract("POST", "/v1/jobs", r)
    return r


def uploads_left(s):
    return sorted(os.listdir(s.data_dir / "uploads"))


def test_a_file_uploaded_with_its_job_reaches_the_job(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path)))
    image = PNG + os.urandom(5000)  # a PNG by its signature, 5 kB of anything after
    r = upload(s, {"task": "digest"}, [("image", image), ("note", b"a note\n")], wait=30)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["state"] == "succeeded", job
    digest, size, mode, note = job["output"].split("\n")[:4]
    assert digest == hashlib.sha256(image).hexdigest()
    assert int(size) == len(image)
    assert mode == "644"
    assert note == "a note"
    where = s.data_dir / "jobs" / str(job["id"]) / "inputs" / "image"
    assert job["params"]["image"] == str(where)
    assert where.read_bytes() == image
    assert uploads_left(s) == []  # moved into the job's directory at its start
    # A file parameter not uploaded takes its default; a data: URL is an upload too.
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    r = s.submit("digest", params={"image": url}, wait=30)
    assert r.status_code == 200, r.text
    digest, size = r.json()["output"].split("\n")[:2]
    assert digest == hashlib.sha256(PNG).hexdigest() and int(size) == len(PNG)
    assert r.json()["params"]["note"] == "/dev/null"


def test_a_refused_upload_stores_nothing(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path)),
                    "--max-upload-bytes", "150000")

    def refused(status, field, text, job=None, files=None, boundary=None):
        r = upload(s, job or {"task": "digest"}, files or [], boundary=boundary)
        assert r.status_code == status, r.text
        if field:
            assert r.json().get("field") == field, r.text
        assert text in r.json()["detail"], r.text

    refused(413, "params.image", "over its limit of 100000 bytes",
            files=[("image", PNG + b"x" * 100000)])
    refused(413, "params.note", "--max-upload-bytes",
            files=[("image", PNG), ("note", b"n" * 150000)])
    refused(415, "params.image", "is text/plain by its content",
            files=[("image", b"not an image at all\n")])
    refused(415, "params.note", "is application/octet-stream by its content",
            files=[("image", PNG), ("note", b"\x00\x01\x02")])
    refused(422, "params.other", "no file parameter 'other'", files=[("other", PNG)])
    refused(422, "task", "unknown task 'nope'", job={"task": "nope"}, files=[("image", PNG)])
    refused(400, "params.image", "given twice", files=[("image", PNG), ("image", PNG)])
    refused(422, "params.image", "is required: upload a file as the part 'image'")
    # A client may not name a file on the server for a file parameter.
    r = s.submit("digest", params={"image": "/etc/shadow"})
    assert r.status_code == 422 and "upload it with the job" in r.json()["detail"], r.text
    r = s.submit("digest", params={"image": "data:image/png;base64,!!!"})
    assert r.status_code == 400 and r.json()["field"] == "params.image", r.text
    # The job part first, and whole.
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\"\r\n\r\n"
            f"x\r\n--{boundary}--\r\n").encode()
    r = requests.post(s.url + "/v1/jobs", data=body, timeout=30 * SLOW,
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 400 and "the first part must be the job" in r.json()["detail"], r.text
    r = requests.post(s.url + "/v1/jobs", data=body[:-8], timeout=30 * SLOW,
                      headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400 and "boundary" in r.json()["detail"], r.text
    # Over the whole limit by its Content-Length: refused before a byte of it is read.
    host, port = s.url.replace("http://", "").split(":")
    with socket.create_connection((host, int(port))) as c:
        c.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n"
                  b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")
        c.settimeout(10 * SLOW)
        assert b" 413 " in c.recv(4096).split(b"\r\n")[0]

    assert s.get("/v1/jobs").json()["jobs"] == []
    eventually(lambda: uploads_left(s) == [], 10, "the refused uploads' files removed")


def test_a_stored_upload_survives_kill_9_and_a_cancelled_one_is_removed(make_server, tmp_path):
    tasks = write_catalog(tmp_path)
    s = make_server("--gpus", "sim:2GiB", "--tasks", str(tasks), "--allow-raw-commands",
                    "--vram-buffer-mb", "0")
    blocker = s.post("/v1/jobs", {"command": ["/bin/sleep", "3600"], "vram_mb": 2048})
    assert blocker.status_code in (200, 202), blocker.text
    s.wait_state(blocker.json()["id"], ["running"])
    image = PNG + os.urandom(3000)
    waiting = upload(s, {"task": "digest"}, [("image", image)])
    assert waiting.status_code == 202, waiting.text
    dropped = upload(s, {"task": "digest"}, [("image", PNG)])
    assert dropped.status_code == 202, dropped.text
    assert uploads_left(s) == [f"job-{waiting.json()['id']}", f"job-{dropped.json()['id']}"]
    s.kill9()
    s2 = make_server("--gpus", "sim:2GiB", "--tasks", str(tasks), "--allow-raw-commands",
                     "--vram-buffer-mb", "0", data_dir=s.data_dir)
    assert s2.delete(f"/v1/jobs/{dropped.json()['id']}").status_code in (200, 202)
    eventually(lambda: uploads_left(s2) == [f"job-{waiting.json()['id']}"], 10,
               "the cancelled job's upload removed, the waiting one's kept")
    assert s2.delete(f"/v1/jobs/{blocker.json()['id']}").status_code in (200, 202)
    job = s2.wait_job(waiting.json()["id"], timeout=60)
    assert job["state"] == "succeeded", job
    assert job["output"].split("\n")[0] == hashlib.sha256(image).hexdigest()


def test_a_retried_upload_gets_the_first_job(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path)))
    image = PNG + b"first"
    key = {"Idempotency-Key": "upload-1"}
    first = upload(s, {"task": "digest"}, [("image", image)], headers=key)
    assert first.status_code in (200, 202), first.text
    # Another boundary, the same job and bytes: the same request.
    again = upload(s, {"task": "digest"}, [("image", image)], headers=key)
    assert again.status_code in (200, 202), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = upload(s, {"task": "digest"}, [("image", PNG + b"other")], headers=key)
    assert other.status_code == 409, other.text
    assert len(s.get("/v1/jobs").json()["jobs"]) == 1
    eventually(lambda: len([d for d in uploads_left(s) if d.startswith("tmp-")]) == 0, 10,
               "the retries' staged files removed")


def test_the_token_is_checked_before_the_upload_is_read(make_server, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("secret-a-0123456789abcdef:alice\n")
    os.chmod(tokens, 0o600)
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path)),
                    "--token-file", str(tokens))
    host, port = s.url.replace("http://", "").split(":")
    with socket.create_connection((host, int(port))) as c:
        c.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n"
                  b"Content-Type: multipart/form-data; boundary=x\r\n\r\n" + b"x" * 1000)
        c.settimeout(10 * SLOW)
        started = time.time()
        assert b" 401 " in c.recv(4096).split(b"\r\n")[0]
        assert time.time() - started < 5 * SLOW
    assert uploads_left(s) == []
    r = upload(s, {"task": "digest"}, [("image", PNG)], wait=30,
               headers={"Authorization": "Bearer secret-a-0123456789abcdef"})
    assert r.status_code == 200 and r.json()["owner"] == "alice", r.text


def test_the_cli_uploads_files(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path)))
    image = tmp_path / "cat.png"
    image.write_bytes(PNG + b"\r\n--vramq-" * 100)  # boundary-like bytes inside
    r = s.cli("submit", "digest", "--file", f"image={image}", "--wait", "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["output"].split("\n")[0] == hashlib.sha256(image.read_bytes()).hexdigest()
    r = s.cli("submit", "digest", "--file", f"image={tmp_path / 'missing.png'}")
    assert r.returncode == 2 and "cannot read" in r.stderr, r.stderr
    r = s.cli("submit", "digest", "--file", "image")
    assert r.returncode == 2 and "expected NAME=PATH" in r.stderr, r.stderr
    text = tmp_path / "note.txt"
    text.write_text("just text\n")
    r = s.cli("submit", "digest", "--file", f"image={text}")
    assert r.returncode != 0 and "params.image" in r.stderr + r.stdout, r.stderr


def test_other_multipart_types_and_trickled_uploads_are_refused(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path)),
                    "--http-timeout-s", "1")
    r = requests.post(s.url + "/v1/jobs", data=b"--x--\r\n", timeout=30 * SLOW,
                      headers={"Content-Type": "multipart/mixed; boundary=x"})
    assert r.status_code == 415 and "not multipart/form-data" in r.json()["detail"], r.text
    # A byte every 0.2 s: past the read timeout (1 s) that is far under 16 KiB/s.
    host, port = s.url.replace("http://", "").split(":")
    with socket.create_connection((host, int(port))) as c:
        c.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                  b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")
        c.settimeout(0.2)
        answer = b""
        for _ in range(100):
            try:
                c.sendall(b"x")
                answer += c.recv(4096)
                if answer:
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        assert b" 408 " in answer.split(b"\r\n")[0], answer[:200]
    eventually(lambda: uploads_left(s) == [], 10, "the trickled upload's staging removed")
