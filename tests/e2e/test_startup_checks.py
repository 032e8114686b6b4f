"""`vramq serve` refuses configurations that cannot work, at once, with exit 2 and a message naming
the key: catalog defaults the catalog itself forbids, a VRAM rule no GPU can satisfy, a buffer as
large as the GPU, an ambiguous tolerance, a bad --gpus spec. Warnings for what only some
submissions would hit."""
import subprocess
import time

from conftest import BIN, SLOW


def serve(tmp_path, *args):
    return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                           str(tmp_path / "data"), "--gpu-lock-dir", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=20 * SLOW)


def catalog(tmp_path, text):
    p = tmp_path / "tasks.toml"
    p.write_text(text)
    return str(p)


def test_default_outside_its_bounds_is_refused(tmp_path):
    tasks = catalog(tmp_path, """
[tasks.a]
argv = ["/bin/true"]
[tasks.a.params]
steps = { type = "int", min = 1, max = 10, default = 50 }
[tasks.a.vram]
base_mb = 100
""")
    r = serve(tmp_path, "--gpus", "sim:24GiB", "--tasks", tasks)
    assert r.returncode == 2, r.stderr
    assert "tasks.a.params.steps.default: must be <= 10" in r.stderr, r.stderr


def test_vram_rule_no_gpu_can_satisfy_is_refused_and_a_large_default_warned(tmp_path):
    tasks = catalog(tmp_path, """
[tasks.huge]
argv = ["/bin/true"]
[tasks.huge.vram]
base_mb = 40000
""")
    r = serve(tmp_path, "--gpus", "sim:24GiB", "--tasks", tasks)
    assert r.returncode == 2, r.stderr
    assert "tasks.huge.vram: the rule asks for at least 40000 MiB" in r.stderr, r.stderr


def test_large_default_only_warns(make_server, tmp_path):
    tasks = catalog(tmp_path, """
[tasks.grid]
argv = ["/bin/true"]
[tasks.grid.params]
res = { type = "int", min = 32, max = 1024, default = 1024 }
[tasks.grid.vram]
base_mb = 1000
per_unit_mb = 0.0001
unit = "res^3"
""")
    s = make_server("--gpus", "sim:24GiB", "--tasks", tasks)
    assert "tasks.grid.vram: with its default parameters the rule asks for" in \
        s.log_path.read_text()
    assert s.submit("grid", params={}).status_code == 422
    assert s.submit("grid", params={"res": 256}).status_code == 202


def test_flags_that_make_no_sense_for_the_gpus(tmp_path):
    r = serve(tmp_path, "--gpus", "sim:24GiB", "--vram-buffer-mb", "30000")
    assert r.returncode == 2 and "--vram-buffer-mb" in r.stderr, r.stderr
    r = serve(tmp_path, "--gpus", "sim:24GiB", "--vram-tolerance", "10")
    assert r.returncode == 2 and "10%" in r.stderr, r.stderr
    conf = tmp_path / "vramq.toml"
    conf.write_text('vram_tolerance = 10\n')
    r = serve(tmp_path, "--gpus", "sim:24GiB", "--config", str(conf))
    assert r.returncode == 2 and "vram_tolerance" in r.stderr, r.stderr


def test_bad_gpu_spec_and_missing_driver_exit_2(tmp_path):
    r = serve(tmp_path, "--gpus", "sim:24XB")
    assert r.returncode == 2 and "--gpus sim:24XB" in r.stderr, r.stderr
    # The library named is not there (whatever driver the host has).
    r = serve(tmp_path, "--gpus", "nvml", "--nvml-library", str(tmp_path / "none.so.1"))
    assert r.returncode == 2 and "--gpus sim:" in r.stderr, r.stderr


def test_port_in_use_exits_2(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB")
    port = s.url.rsplit(":", 1)[1]
    r = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                        str(tmp_path / "d3"), "--gpus", "sim:24GiB"], capture_output=True,
                       text=True, timeout=20 * SLOW)
    assert r.returncode == 2, r.stderr


def test_a_task_whose_program_is_missing_is_warned_about(make_server, tmp_path):
    tasks = catalog(tmp_path, """
[tasks.gone]
argv = ["/nonexistent/bin/model", "--x"]
[tasks.gone.vram]
base_mb = 100
[tasks.here]
argv = ["true"]
[tasks.here.vram]
base_mb = 100
""")
    s = make_server("--gpus", "sim:24GiB", "--tasks", tasks)
    log = s.log_path.read_text()
    assert "tasks.gone.argv: '/nonexistent/bin/model' is not an executable file" in log, log
    assert "tasks.here.argv" not in log  # found on PATH


def test_tasks_show_string_parameters_max_length(server):
    task = server.get("/v1/tasks").json()["tasks"][0]
    params = {p["name"]: p for p in task["params"]}
    assert params["output"]["max_length"] == 256
    assert "max_length" not in params["seconds"]  # numbers have none


def test_raw_commands_without_tokens_on_an_open_address_are_refused(tmp_path):
    r = subprocess.run([BIN, "serve", "--listen", "0.0.0.0:0", "--data-dir", str(tmp_path / "data"),
                        "--gpu-lock-dir", str(tmp_path), "--gpus", "sim:24GiB",
                        "--allow-raw-commands"], capture_output=True, text=True, timeout=20 * SLOW)
    assert r.returncode == 2, r.stderr
    assert "--unsafe-raw-commands-without-tokens" in r.stderr and "0.0.0.0:0" in r.stderr, r.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was touched


def test_unsafe_flag_starts_with_a_loud_warning_and_a_readable_token_file_is_warned(make_server,
                                                                                   tmp_path):
    log = tmp_path / "open.log"
    with open(log, "w") as out:
        p = subprocess.Popen([BIN, "serve", "--listen", "0.0.0.0:0", "--data-dir",
                              str(tmp_path / "open"), "--gpu-lock-dir", str(tmp_path), "--gpus",
                              "sim:24GiB", "--allow-raw-commands",
                              "--unsafe-raw-commands-without-tokens"], stdout=out, stderr=out)
    try:
        deadline = time.time() + 20 * SLOW
        while "listening on" not in log.read_text() and time.time() < deadline:
            assert p.poll() is None, log.read_text()
            time.sleep(0.05)
        assert "UNSAFE: raw commands are on and no tokens are required" in log.read_text()
    finally:
        p.terminate()
        p.wait(timeout=30 * SLOW)
    tokens = tmp_path / "tokens"
    tokens.write_text("a-secret-of-sixteen-chars:alice\n")
    tokens.chmod(0o644)
    t = make_server("--gpus", "sim:24GiB", "--token-file", str(tokens))
    assert f"--token-file {tokens}: readable by other users (mode 0644)" in t.log_path.read_text()
