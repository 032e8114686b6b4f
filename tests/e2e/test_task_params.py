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
