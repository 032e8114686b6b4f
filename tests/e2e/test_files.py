"""Results over HTTP: GET /v1/jobs/{id}/files lists the job's directory, .../files/{path} downloads
a file (confined to that directory, symlinks never followed, one byte range), `vramq fetch`."""
import json
import os

import requests

from conftest import SLOW


def finished(server):
    job = server.submit(params={"seconds": 0, "output": "result text"}, wait=30).json()
    assert job["state"] == "succeeded", job
    return job


def test_listing_and_download(server):
    job = finished(server)
    d = server.data_dir / "jobs" / str(job["id"])
    (d / "mesh").mkdir()
    (d / "mesh" / "out.obj").write_bytes(bytes(range(256)) * 10)
    os.symlink("/etc/passwd", d / "passwd-link")
    os.symlink("/etc", d / "etc-link")
    listing = server.get(f"/v1/jobs/{job['id']}/files").json()
    by_path = {f["path"]: f for f in listing["files"]}
    assert by_path["stdout.log"]["type"] == "file" and by_path["mesh"]["type"] == "dir"
    assert by_path["mesh/out.obj"]["size"] == 2560 and by_path["result.json"]["type"] == "file"
    assert by_path["passwd-link"]["type"] == "symlink" and "etc-link/passwd" not in by_path
    assert listing["job_dir"] == str(d) and listing["truncated"] is False
    r = server.get(f"/v1/jobs/{job['id']}/files/result.json")
    assert r.status_code == 200 and json.loads(r.content)["output"] == "result text"
    assert r.headers["Content-Type"] == "application/octet-stream"
    url = f"{server.url}/v1/jobs/{job['id']}/files/mesh/out.obj"
    whole = requests.get(url, timeout=30 * SLOW)
    assert whole.content == bytes(range(256)) * 10
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=30 * SLOW)
    assert part.status_code == 206 and part.content == bytes(range(10, 20))
    assert part.headers["Content-Range"] == "bytes 10-19/2560"
    tail = requests.get(url, headers={"Range": "bytes=-6"}, timeout=30 * SLOW)
    assert tail.status_code == 206 and tail.content == bytes(range(250, 256))
    past = requests.get(url, headers={"Range": "bytes=5000-"}, timeout=30 * SLOW)
    assert past.status_code == 416 and past.headers["Content-Range"] == "bytes */2560"


def test_nothing_outside_the_job_directory_is_served(server):
    job = finished(server)
    d = server.data_dir / "jobs" / str(job["id"])
    os.symlink("/etc/passwd", d / "passwd-link")
    os.symlink("/etc", d / "etc-link")
    other = finished(server)
    base = f"{server.url}/v1/jobs/{job['id']}/files/"
    for path, status in [("passwd-link", 403), ("etc-link/passwd", 403),
                         ("..%2F" + str(other["id"]) + "%2Fstdout.log", 400),
                         ("%2Fetc%2Fpasswd", 400), ("a//b", 400), ("nope.txt", 404),
                         ("mesh%2F..%2F..%2F1%2Fstdout.log", 400)]:
        r = requests.get(base + path, timeout=30 * SLOW)
        assert r.status_code == status, (path, r.status_code, r.text)
        assert b"root:" not in r.content
    r = requests.get(f"{server.url}/v1/jobs/{job['id']}/files/", timeout=30 * SLOW)
    assert r.status_code == 200  # the listing
    assert server.get("/v1/jobs/999/files").status_code == 404


def test_cli_fetch(server, tmp_path):
    job = finished(server)
    d = server.data_dir / "jobs" / str(job["id"])
    (d / "mesh").mkdir()
    (d / "mesh" / "out.obj").write_text("v 0 0 0\n")
    os.symlink("/etc/passwd", d / "passwd-link")
    out = tmp_path / "fetched"
    r = server.cli("fetch", str(job["id"]), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "mesh" / "out.obj").read_text() == "v 0 0 0\n"
    assert json.loads((out / "result.json").read_text())["output"] == "result text"
    assert not (out / "passwd-link").exists()
    one = server.cli("fetch", str(job["id"]), "mesh/out.obj", "-o", str(tmp_path / "one"))
    assert one.returncode == 0 and (tmp_path / "one" / "out.obj").exists(), one.stderr
    missing = server.cli("fetch", str(job["id"]), "nope.txt", "-o", str(tmp_path))
    assert missing.returncode == 2 and "no file" in missing.stderr
