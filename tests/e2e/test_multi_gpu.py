"""Multi-GPU jobs (Slurm --gres=gpu:2, Ray num_gpus=2): `"gpus": N` starts a job only when N GPUs
each have `vram_mb` free; it sees all N in CUDA_VISIBLE_DEVICES and the job object lists them."""
import json

from conftest import result_of


def env_of(job):
    return dict(line.split("=", 1) for line in job["output"].splitlines() if "=" in line)


def test_a_two_gpu_job_runs_on_two_gpus_and_sees_both(make_server):
    s = make_server("--gpus", "sim:3x24GiB", "--allow-raw-commands")
    uuids = [g["uuid"] for g in s.get("/v1/gpus").json()["gpus"]]
    blocker = s.submit(params={"seconds": 30, "vram_mb": 20000}).json()  # best fit: GPU 0
    s.wait_state(blocker["id"], ["running"])
    r = s.post("/v1/jobs?wait=30", {"command": ["/usr/bin/env"], "vram_mb": 8000, "gpus": 2})
    job = r.json()
    assert job["state"] == "succeeded", job
    assert job["gpus"] == [1, 2] and job["gpu"] == 1 and job["gpu_count"] == 2, job
    env = env_of(job)
    assert env["CUDA_VISIBLE_DEVICES"] == f"{uuids[1]},{uuids[2]}"
    assert env["VRAMQ_GPUS"] == "1,2" and env["VRAMQ_GPU"] == "1"
    s.delete(f"/v1/jobs/{blocker['id']}")


def test_it_waits_until_n_gpus_have_room_and_others_backfill(make_server):
    s = make_server("--gpus", "sim:2x24GiB")
    blocker = s.submit(params={"seconds": 2, "vram_mb": 20000}).json()
    s.wait_state(blocker["id"], ["running"])
    pair = s.submit(params={"seconds": 0.5, "vram_mb": 8000}, gpus=2).json()
    assert pair["state"] == "queued" and pair["pending_reason"] == "vram", pair
    single = s.submit(params={"seconds": 0.2, "vram_mb": 8000}).json()  # fits on GPU 1 now
    assert s.wait_job(single["id"])["state"] == "succeeded"
    gpus = s.get("/v1/gpus").json()["gpus"]
    assert gpus[0]["jobs"] == [blocker["id"]]
    done = s.wait_job(pair["id"])
    assert done["state"] == "succeeded" and done["gpus"] == [0, 1], done
    first = s.wait_job(blocker["id"])
    # The runs' own clocks: the pair started after the blocker's process had ended (the
    # blocker's finished_at is stamped a moment later, once its output is read).
    assert result_of(done)["started_ms"] >= result_of(first)["finished_ms"]


def test_both_gpus_show_the_job_and_its_reservation(make_server):
    s = make_server("--gpus", "sim:2x24GiB")
    job = s.submit(params={"seconds": 30, "vram_mb": 5000}, gpus=2).json()
    s.wait_state(job["id"], ["running"])
    for g in s.get("/v1/gpus").json()["gpus"]:
        assert g["jobs"] == [job["id"]] and g["reserved_mb"] == 5000, g
    d = s.post("/v1/jobs?dry_run=1", {"task": "fake-model", "gpus": 2,
                                      "params": {"vram_mb": 4000}}).json()
    assert d["decision"] == "admit" and d["gpus"] == [0, 1], d
    out = s.cli("ls").stdout
    assert "0,1" in out, out
    s.delete(f"/v1/jobs/{job['id']}")


def test_impossible_gpu_counts_are_refused(make_server):
    s = make_server("--gpus", "sim:24GiB,80GiB")
    r = s.submit(params={"vram_mb": 1000}, gpus=3)
    assert r.status_code == 422 and r.json()["field"] == "gpus", r.text
    r = s.submit(params={"vram_mb": 40000}, gpus=2)  # fits the 80 GiB GPU, not two GPUs
    assert r.status_code == 422 and r.json()["field"] == "vram_mb", r.text
    assert "each of 2 GPUs" in r.json()["detail"]
    r = s.post("/v1/jobs", {"task": "fake-model", "gpus": 0})
    assert r.status_code == 400 and r.json()["field"] == "gpus"
    cli = s.cli("submit", "fake-model", "-p", "seconds=0", "--gpus", "2", "--json")
    assert cli.returncode == 0 and json.loads(cli.stdout)["gpu_count"] == 2, cli.stderr
