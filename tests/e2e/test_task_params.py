"""Task parameters through the real server: `path` parameters stay inside their directory once
resolved (symlinks, `..`, absolute values), the job gets the resolved path, and a refused
submission changes nothing."""
import os

from conftest import result_of  # noqa: F401  (shared helpers)


def write_catalog(tmp_path, inputs):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f"""
[tasks.show]
argv = ["/bin/cat", "{{image}}"]
[tasks.show.params]
image = {{ type = "path", under = "{inputs}", description = "an input image" }}
[tasks.show.vram]
base_mb = 100
""")
    return tasks


def test_path_parameter_cannot_escape_through_a_symlink(make_server, tmp_path):
    inputs = tmp_path / "inputs"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "sub" / "cat.png").write_text("meow\n")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd").write_text("root:x:0:0\n")
    os.symlink(secret, inputs / "etc-link")
    os.symlink(inputs / "sub", inputs / "sub-link")
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(write_catalog(tmp_path, inputs)))

    for bad in ["etc-link/passwd", "../secret/passwd", str(secret / "passwd"),
                "sub-link/../../secret/passwd"]:
        r = s.submit("show", params={"image": bad})
        assert r.status_code == 422, (bad, r.text)
        assert "params.image" in r.json()["detail"], r.text
    assert s.get("/v1/jobs").json()["jobs"] == []  # refused: nothing stored

    r = s.submit("show", params={"image": "sub-link/cat.png"}, wait=30)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["id"] == 1  # the refused requests used up no id
    assert job["command"] == ["/bin/cat", str(inputs / "sub" / "cat.png")]  # resolved
    assert job["params"]["image"] == str(inputs / "sub" / "cat.png")
    assert job["output"] == "meow\n"


def test_catalog_patterns_cannot_crash_the_server(make_server, tmp_path):
    """The review's two crashes (issue 11, item 5): a recursive regex engine overflowed its stack
    on a long value in a dry run. With RE2 both answer, and the server stays up."""
    tasks = tmp_path / "patterns.toml"
    tasks.write_text("""
[tasks.echo]
argv = ["/bin/echo", "{a}", "{b}"]
[tasks.echo.params]
a = { type = "string", pattern = "(.|\\\\n)*", max_length = 65536, default = "x" }
b = { type = "string", pattern = "([a-z]+ ?)*", max_length = 65536, default = "x" }
[tasks.echo.vram]
base_mb = 100
""")
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(tasks))
    r = s.post("/v1/jobs?dry_run=1", {"task": "echo", "params": {"a": "ab\n" * 5461}})
    assert r.status_code == 200 and r.json()["decision"] == "admit", r.text
    r = s.post("/v1/jobs?dry_run=1", {"task": "echo", "params": {"b": "abc " * 7500}})
    assert r.status_code == 200 and r.json()["decision"] == "admit", r.text
    r = s.post("/v1/jobs?dry_run=1", {"task": "echo", "params": {"b": "a" * 30000 + "!"}})
    assert r.json()["decision"] == "reject" and r.json()["problem"]["field"] == "params.b", r.text
    assert s.get("/healthz").status_code == 200


def test_a_pattern_outside_re2_stops_the_catalog_from_loading(tmp_path):
    import subprocess

    from conftest import BIN
    tasks = tmp_path / "bad.toml"
    tasks.write_text("""
[tasks.t]
argv = ["/bin/true"]
[tasks.t.params]
s = { type = "string", pattern = '(a)\\1' }
[tasks.t.vram]
base_mb = 1
""")
    r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                        str(tmp_path / "d"), "--gpus", "sim:24GiB", "--tasks", str(tasks)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "tasks.t.params.s.pattern" in r.stderr and "RE2" in r.stderr, r.stderr
