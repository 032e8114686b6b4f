"""A warm worker written with the Python helper (python/vramq_worker.py), served by the real
binary: the helper, the protocol and the server agree."""
import textwrap
from pathlib import Path

from conftest import REPO, eventually

WORKER = textwrap.dedent("""
    import os, time
    from vramq_worker import Worker, serve

    class Echo(Worker):
        def setup(self):
            time.sleep(0.3)
            self.runs = 0
            print("model loaded", flush=True)

        def run(self, params, job_dir):
            self.runs += 1
            print(f"echo run {self.runs} for job {self.job_id}", flush=True)
            for _ in range(int(params["seconds"] * 100)):
                self.check_cancelled()
                time.sleep(0.01)
            with open(os.path.join(job_dir, "echo.txt"), "w") as f:
                f.write(params["text"])
            return {"text": params["text"], "runs_on_this_worker": self.runs, "pid": os.getpid()}

    raise SystemExit(serve(Echo()))
""")


def test_a_python_worker_serves_runs_through_vramq(make_server, tmp_path):
    script = tmp_path / "echo_worker.py"
    script.write_text(WORKER)
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f"""
[tasks.echo]
env = {{ PYTHONPATH = "{REPO / 'python'}" }}
[tasks.echo.worker]
argv = ["/usr/bin/python3", "{script}"]
[tasks.echo.params]
text = {{ type = "string", max_length = 64 }}
seconds = {{ type = "float", min = 0, max = 60, default = 0 }}
[tasks.echo.vram]
base_mb = 1024
""")
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(tasks))
    jobs = [s.wait_job(s.submit("echo", params={"text": f"t{i}"}).json()["id"]) for i in range(3)]
    assert [j["state"] for j in jobs] == ["succeeded"] * 3, [j["error"] for j in jobs]
    import json
    outs = [json.loads(j["output"]) for j in jobs]
    assert [o["runs_on_this_worker"] for o in outs] == [1, 2, 3]
    assert len({o["pid"] for o in outs}) == 1
    assert Path(jobs[2]["job_dir"], "echo.txt").read_text() == "t2"
    err = s.get(f"/v1/jobs/{jobs[1]['id']}/log?stream=stderr").text
    assert f"echo run 2 for job {jobs[1]['id']}" in err and "model loaded" not in err, err
    # The worker is idle again a moment after its run's end is recorded: a job submitted before
    # that would start a second worker (seen under load), and this test is about the first one.
    eventually(lambda: [w["state"] for w in s.get("/v1/workers").json()["workers"]] == ["idle"],
               10, "the worker idle again")
    long = s.submit("echo", params={"text": "x", "seconds": 30}).json()["id"]
    s.wait_state(long, ["running"])
    # `running` is said when the run is assigned, before it is sent: a cancel before the send
    # ends it without the worker seeing it (seen under load). Wait for the worker's own line.
    eventually(lambda: f"for job {long}" in s.get(f"/v1/jobs/{long}/log?stream=stderr").text, 10,
               "the run sent to the worker")
    s.delete(f"/v1/jobs/{long}")
    assert s.wait_job(long, timeout=10)["state"] == "cancelled"
    eventually(lambda: [w["state"] for w in s.get("/v1/workers").json()["workers"]] == ["idle"],
               10, "the worker idle after the cancel")
    after = s.wait_job(s.submit("echo", params={"text": "y"}).json()["id"])
    assert json.loads(after["output"])["runs_on_this_worker"] == 5  # the cancelled run counted
