"""A job's life over real HTTP: it runs, returns its output, fails without harming others, and is
stopped with its whole process group when it runs past its timeout."""
import time

from conftest import all_gone, helper_pids, process_alive, result_of


def test_a_task_runs_and_returns_its_output(server):
    r = server.submit(params={"seconds": 1.2, "vram_mb": 4000, "output": "hello"}, wait=30)
    assert r.status_code == 200, r.text
    job = r.json()
    assert r.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["state"] == "succeeded" and job["reason"] is None and job["exit_code"] == 0
    assert result_of(job)["output"] == "hello"
    assert job["vram_mb"] == 4000 and job["gpu"] == 0
    assert job["peak_vram_mb"] == 4000  # reported through VRAMQ_SIM_VRAM_FILE
    assert job["started_at"] >= job["submitted_at"] and job["finished_at"] >= job["started_at"]
    # The same final record from GET, and the job's files in its own directory.
    assert server.job(job["id"])["output"] == job["output"]
    job_dir = server.data_dir / "jobs" / str(job["id"])
    assert (job_dir / "result.json").exists()
    assert "progress 100%" in (job_dir / "stderr.log").read_text()


def test_submit_answers_202_with_the_queued_job(server):
    r = server.submit(params={"seconds": 0.5})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running")
    assert server.wait_job(job["id"])["state"] == "succeeded"


def test_jobs_see_their_gpu_and_reservation(make_server, tmp_path):
    s = make_server("--gpus", "sim:2x24GiB", "--allow-raw-commands")
    r = s.post("/v1/jobs?wait=30", {"command": ["/usr/bin/env"], "vram_mb": 1234})
    job = r.json()
    assert job["state"] == "succeeded", job
    env = dict(line.split("=", 1) for line in job["output"].splitlines() if "=" in line)
    assert env["VRAMQ_JOB_ID"] == str(job["id"])
    assert env["VRAMQ_VRAM_MB"] == "1234"
    assert env["VRAMQ_GPU"] == str(job["gpu"])
    gpus = s.get("/v1/gpus").json()["gpus"]
    assert env["CUDA_VISIBLE_DEVICES"] == gpus[job["gpu"]]["uuid"]
    assert env["VRAMQ_SIM_VRAM_FILE"].endswith("sim-vram-mb")


def test_a_failing_job_does_not_stop_the_ones_after_it(server):
    # The seed's worker shut the whole service down on one failure.
    bad = server.submit(params={"seconds": 0.1, "exit_code": 3}).json()
    good = server.submit(params={"seconds": 0.1, "output": "still here"}).json()
    bad = server.wait_job(bad["id"])
    assert bad["state"] == "failed" and bad["reason"] == "nonzero_exit" and bad["exit_code"] == 3
    assert "code 3" in bad["error"]
    good = server.wait_job(good["id"])
    assert good["state"] == "succeeded" and result_of(good)["output"] == "still here"
    assert server.get("/healthz").status_code == 200
    assert server.get("/readyz").status_code == 200


def test_a_job_that_cannot_start_fails_with_spawn_failed(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.post("/v1/jobs?wait=30", {"command": ["/nonexistent/model"]}).json()
    assert job["state"] == "failed" and job["reason"] == "spawn_failed", job
    assert "/nonexistent/model" in job["error"]
    after = s.post("/v1/jobs?wait=30", {"command": ["/bin/true"]}).json()
    assert after["state"] == "succeeded"


def test_timeout_ends_the_job_with_its_whole_process_group(make_server):
    s = make_server("--gpus", "sim:24GiB", "--kill-grace-s", "1")
    job = s.submit(params={"seconds": 60, "children": 2}, timeout_s=1).json()
    running = s.wait_state(job["id"], ["running"])
    helpers = helper_pids(s.data_dir, job["id"], 2)
    assert all(process_alive(p) for p in helpers)
    job = s.wait_job(job["id"])
    assert job["state"] == "timed_out" and job["reason"] == "timeout", job
    assert job["signal"] is not None or job["exit_code"] is not None
    assert all_gone(helpers), "a helper outlived its timed-out job"
    assert running["started_at"] is not None


def test_retries_run_a_failing_job_again(server):
    job = server.submit(params={"seconds": 0.1, "exit_code": 1}, max_retries=2).json()
    job = server.wait_job(job["id"])
    assert job["state"] == "failed" and job["attempt"] == 3, job


def test_numbers_print_as_a_person_writes_them(server):
    """No exponent forms (2E0, 2.55E2) anywhere: integers as integers, others plainly."""
    import re
    tasks = server.get("/v1/tasks").text
    job = server.submit(params={"seconds": 2, "vram_mb": 100}, vram_mb=100)
    gpus = server.get("/v1/gpus").text
    for text in (tasks, job.text, gpus):
        assert not re.search(r"\d[eE][+-]?\d", text), text
    assert '"seconds":2,' in job.text and '"min":0,' in tasks and '"max":255,' in tasks
    show = server.cli("show", str(job.json()["id"]), "--json").stdout
    assert not re.search(r"\d[eE][+-]?\d", show), show
    server.delete(f"/v1/jobs/{job.json()['id']}")


def test_output_cut_at_the_cap_says_so(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    r = s.post("/v1/jobs?wait=30", {"command": ["/usr/bin/seq", "1", "30000"], "vram_mb": 0})
    job = r.json()
    assert job["state"] == "succeeded", job
    assert job["output_truncated"] is True and len(job["output"]) == 64 * 1024
    assert job["output"].endswith("29999\n30000\n")
    small = s.post("/v1/jobs?wait=30", {"command": ["/usr/bin/seq", "1", "3"], "vram_mb": 0})
    assert small.json()["output_truncated"] is False
    cli = s.cli("submit", "--vram-mb", "0", "--wait", "--", "/usr/bin/seq", "1", "30000")
    assert cli.returncode == 0 and "vramq logs" in cli.stderr, cli.stderr
    show = s.cli("show", str(job["id"])).stdout
    assert f"vramq logs {job['id']} prints all of it" in show
    full = s.get(f"/v1/jobs/{job['id']}/log").text
    assert full.startswith("1\n2\n") and full.endswith("30000\n")
