"""The CLI against a real server: output for people and scripts, and DESIGN's exit codes."""
import json
import os
import re
import subprocess

from conftest import BIN


def test_submit_wait_prints_the_output_and_exits_0(server):
    r = server.cli("submit", "fake-model", "--param", "seconds=0.2", "--param", "output=from-cli",
                   "--wait")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip())["output"] == "from-cli"


def test_submit_wait_of_a_failing_job_exits_with_its_code(server):
    r = server.cli("submit", "fake-model", "-p", "exit_code=4", "-p", "seconds=0", "--wait")
    assert r.returncode == 4, r.stderr  # the job's own code, as srun does
    assert "failed (nonzero_exit): exited with code 4" in r.stderr, r.stderr
    # A failure without an exit code of its own (here: a timeout) is 1.
    t = server.cli("submit", "fake-model", "-p", "seconds=30", "--timeout", "1", "--wait")
    assert t.returncode == 1 and "timed_out" in t.stderr, t.stderr


def test_submit_wait_names_the_job_at_once_and_ctrl_c_says_it_runs_on(server):
    import signal
    import subprocess as sp
    p = sp.Popen([BIN, "submit", "fake-model", "-p", "seconds=30", "--wait"], text=True,
                 stdout=sp.PIPE, stderr=sp.PIPE, env=dict(os.environ, VRAMQ_SERVER=server.url))
    first = p.stderr.readline()  # printed before any waiting
    m = re.match(r"job (\d+) (queued|running)", first)
    assert m, first
    job_id = int(m.group(1))
    server.wait_state(job_id, ["running"])
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 130, (p.returncode, err)
    assert f"job {job_id} keeps running" in err and f"vramq cancel {job_id}" in err, err
    assert server.job(job_id)["state"] == "running"
    server.delete(f"/v1/jobs/{job_id}")


def test_submit_without_wait_then_wait_and_show(server):
    r = server.cli("submit", "fake-model", "-p", "seconds=0.2", "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["state"] in ("queued", "running")
    w = server.cli("wait", str(job["id"]))
    assert w.returncode == 0, w.stderr
    s = server.cli("show", str(job["id"]))
    assert s.returncode == 0 and "succeeded" in s.stdout and "peak_vram_mb" in s.stdout
    for field in ("params", "seconds=0.2", "timeout_s", "max_retries", "job_dir"):
        assert field in s.stdout, (field, s.stdout)
    assert str(server.data_dir / "jobs" / str(job["id"])) in s.stdout
    sj = server.cli("show", str(job["id"]), "--json")
    assert json.loads(sj.stdout)["id"] == job["id"]


def test_bad_parameter_is_a_usage_error_naming_it(server):
    r = server.cli("submit", "fake-model", "-p", "seconds=-5")
    assert r.returncode == 2
    assert "params.seconds" in r.stderr


def test_gpus_and_tasks_tables(server):
    g = server.cli("gpus")
    assert g.returncode == 0 and "24 GiB" in g.stdout and "[" in g.stdout
    gj = json.loads(server.cli("gpus", "--json").stdout)
    assert gj["gpus"][0]["total_mb"] == 24576
    t = server.cli("tasks")
    assert t.returncode == 0 and "fake-model" in t.stdout and "vram_mb" in t.stdout


def test_unreachable_server_exits_3_with_one_line():
    r = subprocess.run([BIN, "gpus", "--server", "http://127.0.0.1:1"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 3
    assert r.stderr.count("\n") == 1 and "cannot reach" in r.stderr


def test_usage_errors_exit_2():
    r = subprocess.run([BIN, "submit"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "vramq tasks lists them" in r.stderr, r.stderr
    assert subprocess.run([BIN, "frobnicate"], capture_output=True, timeout=30).returncode == 2
    assert subprocess.run([BIN, "show", "x"], capture_output=True, timeout=30).returncode == 2


def test_serve_with_nvml_and_no_driver_names_the_sim_option(tmp_path):
    # Whatever the host has: the library named is not there.
    r = subprocess.run([BIN, "serve", "--gpus", "nvml", "--data-dir", str(tmp_path / "d"),
                        "--nvml-library", str(tmp_path / "no-libnvidia-ml.so.1"),
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "--gpus sim:" in r.stderr


def test_config_file_applies_and_flags_override_it(make_server, tmp_path):
    cfg = tmp_path / "vramq.toml"
    cfg.write_text('gpus = "sim:2x16GiB"\nvram_buffer_mb = 512\nqueue_max = 7\n'
                   'listen = "127.0.0.1:1"\n')
    # The harness passes --listen and --data-dir, which must win over the file.
    s = make_server("--config", str(cfg), "--vram-buffer-mb", "256")
    g = s.get("/v1/gpus").json()
    assert [x["total_mb"] for x in g["gpus"]] == [16384, 16384]
    assert g["buffer_mb"] == 256


def test_a_bad_config_file_is_refused_naming_the_key(tmp_path):
    cfg = tmp_path / "vramq.toml"
    cfg.write_text("queue_maks = 5\n")
    r = subprocess.run([BIN, "serve", "--config", str(cfg), "--gpus", "sim:24GiB",
                        "--data-dir", str(tmp_path / "d")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "queue_maks" in r.stderr


def test_a_broken_task_catalog_is_refused_naming_the_key(tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[tasks.x]\nargv = ["/bin/true", "{nope}"]\n[tasks.x.vram]\nbase_mb = 1\n')
    r = subprocess.run([BIN, "serve", "--tasks", str(tasks), "--gpus", "sim:24GiB",
                        "--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "{nope}" in r.stderr


def test_submit_takes_a_raw_argv_with_its_own_options_after_double_dash(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    r = s.cli("submit", "--vram-mb", "0", "--wait", "--", "/bin/echo", "--vram-mb", "7", "-p",
              "x=1", "--")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("--vram-mb 7 -p x=1 --"), r.stdout
    both = s.cli("submit", "--command", "/bin/true", "--", "/bin/echo")
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_bad_vram_tolerance_is_a_usage_error_naming_it(tmp_path):
    r = subprocess.run([BIN, "serve", "--gpus", "sim:24GiB", "--data-dir", str(tmp_path / "d"),
                        "--vram-tolerance", "ten"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--vram-tolerance" in r.stderr, r.stderr


def test_logs_json_prints_json(server):
    job = server.submit(params={"seconds": 0, "output": "hello"}, wait=30).json()
    r = server.cli("logs", str(job["id"]), "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["id"] == job["id"] and body["stream"] == "stdout"
    assert '"output": "hello"' in body["text"]
    r = server.cli("logs", str(job["id"]), "--json", "--stderr", "-f")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines and all(x["stream"] == "stderr" for x in lines)
    assert "progress 100%" in "".join(x["text"] for x in lines)


def test_a_bare_program_name_is_found_on_the_jobs_path(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    r = s.cli("submit", "--vram-mb", "0", "--wait", "--", "echo", "hello from PATH")
    assert r.returncode == 0 and r.stdout.strip() == "hello from PATH", r.stdout + r.stderr
    missing = s.cli("submit", "--vram-mb", "0", "--", "no-such-program-xyz")
    assert missing.returncode == 2 and "not on the job's PATH" in missing.stderr, missing.stderr
    # The job's own PATH (from its env) is the one searched, not the server's.
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "my-tool").write_text("#!/bin/sh\necho mine\n")
    (tools / "my-tool").chmod(0o755)
    r = s.post("/v1/jobs?wait=30", {"command": ["my-tool"], "vram_mb": 0,
                                    "env": {"PATH": f"{tools}:/usr/bin:/bin"}})
    assert r.status_code == 200 and r.json()["output"] == "mine\n", r.text


def test_ls_shows_exact_mib_run_times_and_pages_with_before(server):
    ids = [server.submit(params={"seconds": 0, "vram_mb": 10000}).json()["id"] for _ in range(3)]
    for i in ids:
        server.wait_job(i)
    r = server.cli("ls", "--limit", "2")
    assert r.returncode == 0, r.stderr
    assert "10000 MiB" in r.stdout and "GiB" not in r.stdout.split("\n")[1]
    assert "RUN TIME" in r.stdout and f"(more: vramq ls --before {ids[1]})" in r.stdout, r.stdout
    rest = server.cli("ls", "--before", str(ids[1]), "--json")
    assert [j["id"] for j in json.loads(rest.stdout)["jobs"]] == [ids[0]]


def test_tasks_fit_in_100_columns(server):
    r = server.cli("tasks")
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) <= 100, r.stdout
    assert "fake-model" in r.stdout and "vram_mb: int 0..1048576 = 2048" in r.stdout
