"""The Slurm executor (issue 14) against a real one-node cluster that this module starts and stops
(munged, slurmctld, slurmd; 2 fake 24 GiB GPUs as 24 shards of 1 GiB each; tests/e2e/slurm_cluster.py).
Nothing is mocked: sbatch, squeue, scontrol and scancel are Slurm's own."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, SLOW, eventually
from slurm_cluster import Cluster, available

pytestmark = pytest.mark.skipif(os.environ.get("VRAMQ_SKIP_SLURM") == "1",
                                reason="VRAMQ_SKIP_SLURM=1")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    assert available(), "Slurm is not installed: run scripts/install-deps.sh (as root)"
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    c.start()
    yield c
    c.stop()
    assert c.leftovers() == [], "processes of the test cluster were left behind"


@pytest.fixture
def slurm_server(make_server, cluster):
    def make(*args, data_dir=None):
        return make_server("--executor", "slurm", "--allow-raw-commands", "--slurm-poll-ms", "200",
                           "--kill-grace-s", "2", *args, data_dir=data_dir,
                           env={"SLURM_CONF": str(cluster.conf)})
    yield make
    # Jobs are the cluster's: none of this test's may hold GPUs in the next one.
    subprocess.run(["scancel", "--full", "-u", str(os.getuid())], env=cluster.env,
                   capture_output=True, timeout=30)
    eventually(lambda: squeue_states(cluster) <= {"CANCELLED", "COMPLETED", "FAILED", "TIMEOUT"},
               30, "the cluster's jobs did not end")


def squeue_states(cluster):
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%T"], env=cluster.env,
                         capture_output=True, text=True).stdout
    return set(out.split())


def raw(server, script, vram_mb, **fields):
    r = server.post("/v1/jobs", {"command": ["/bin/sh", "-c", script], "vram_mb": vram_mb,
                                 **fields})
    assert r.status_code in (201, 202), r.text
    return r.json()["id"]


def test_jobs_are_packed_by_vram_per_gpu_and_all_succeed(slurm_server, tmp_path):
    s = slurm_server()
    gpus = s.get("/v1/gpus").json()
    assert gpus["source"] == "slurm"
    assert [(g["node"], g["total_mb"]) for g in gpus["gpus"]] == [("node1", 24576)] * 2
    marks = tmp_path / "marks"
    marks.mkdir()
    # 14 GB each on 2 x 24 GiB GPUs: one per GPU at a time, never 3 at once.
    script = (f"date +%s.%N > {marks}/$VRAMQ_JOB_ID.start; sleep 1.5; "
              f"date +%s.%N > {marks}/$VRAMQ_JOB_ID.end; echo done on $CUDA_VISIBLE_DEVICES")
    ids = [raw(s, script, 14336) for _ in range(5)]
    waiting = eventually(lambda: [j for j in (s.job(i) for i in ids)
                                  if j["state"] == "queued" and j.get("slurm")
                                  and j["slurm"]["state"] == "PENDING"], 20,
                         "no job waited in Slurm's queue")
    assert waiting[0]["pending_reason"] == "cluster"
    jobs = [s.wait_job(i, timeout=60) for i in ids]
    for j in jobs:
        assert j["state"] == "succeeded", j
        assert j["output"].startswith("done on "), j
        assert j["exit_code"] == 0
        assert len(j["gpus"]) == 1
    spans = [(float((marks / f"{i}.start").read_text()), float((marks / f"{i}.end").read_text()))
             for i in ids]
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most == 2, spans


def test_a_request_no_gpu_can_take_is_refused(slurm_server):
    s = slurm_server()
    r = s.post("/v1/jobs", {"command": ["/bin/true"], "vram_mb": 40960})
    assert r.status_code == 422, r.text
    assert "no GPU of the cluster has more than 24" in r.json()["detail"]
    r = s.post("/v1/jobs", {"command": ["/bin/true"], "vram_mb": 1000, "gpus": 2})
    assert r.status_code == 422, r.text
    assert "partition of whole GPUs" in r.json()["detail"]
    assert s.get("/v1/jobs").json()["jobs"] == []


def test_a_failing_job_has_its_exit_code(slurm_server):
    s = slurm_server()
    j = s.wait_job(raw(s, "echo partial; exit 3", 1024), timeout=30)
    assert j["state"] == "failed", j
    assert j["exit_code"] == 3
    assert j["output"] == "partial\n"


def test_cancel_a_pending_and_a_running_job(slurm_server, cluster):
    s = slurm_server()
    a = raw(s, "echo started; sleep 60", 20480)
    b = raw(s, "sleep 60", 20480)
    c = raw(s, "sleep 60", 20480)  # both GPUs are taken: it waits in Slurm's queue
    s.wait_state(a, ["running"], timeout=20)
    s.wait_state(b, ["running"], timeout=20)
    # Slurm gives a pending job its reason at its next scheduling cycle (None until then).
    eventually(lambda: (j := s.job(c)).get("slurm") and j["slurm"]["state"] == "PENDING"
               and j["slurm"]["reason"] in ("Resources", "Priority") and j,
               20, "the third job never pended in Slurm for Resources or Priority")
    assert s.delete(f"/v1/jobs/{c}").status_code in (200, 202)
    assert s.wait_job(c, timeout=30)["state"] == "cancelled"
    assert s.delete(f"/v1/jobs/{a}").status_code in (200, 202)
    ended = s.wait_job(a, timeout=30)
    assert ended["state"] == "cancelled", ended
    # Slurm gave its GPU to nobody else of ours, and its own record says cancelled.
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%j %T"], env=cluster.env,
                         capture_output=True, text=True).stdout
    assert out.count("CANCELLED") >= 2, out


def test_a_timeout_stops_the_job(slurm_server):
    s = slurm_server()
    j = s.wait_job(raw(s, "sleep 60", 1024, timeout_s=2), timeout=30)
    assert j["state"] == "timed_out", j
    assert "timeout of 2 s" in j["error"]


def test_restart_with_kill9_reconciles_every_job(slurm_server, tmp_path):
    data = tmp_path / "data-restart"
    s = slurm_server(data_dir=data)
    quick = raw(s, "sleep 1; echo quick", 14336)   # ends while vramq is away
    longer = raw(s, "sleep 6; echo long", 14336)   # runs through the restart
    pending = raw(s, "sleep 1; echo later", 14336)  # waits in Slurm's queue through it
    failing = raw(s, "sleep 1; exit 4", 1024)       # ends with an error while vramq is away
    for i in (quick, longer):
        s.wait_state(i, ["running"], timeout=20)
    eventually(lambda: s.job(pending).get("slurm") and s.job(failing).get("slurm"), 20,
               "not all jobs reached Slurm")
    s.kill9()
    time.sleep(3)
    s2 = slurm_server(data_dir=data)
    results = {i: s2.wait_job(i, timeout=60) for i in (quick, longer, pending, failing)}
    assert results[quick]["state"] == "succeeded" and results[quick]["output"] == "quick\n"
    assert results[longer]["state"] == "succeeded" and results[longer]["output"] == "long\n"
    assert results[pending]["state"] == "succeeded" and results[pending]["output"] == "later\n"
    assert results[failing]["state"] == "failed" and results[failing]["exit_code"] == 4
    log = (tmp_path / "server1.log").read_text()
    assert "submitted to Slurm" not in log, "a job was submitted a second time"


def test_controller_down_makes_the_server_unready_then_it_recovers(slurm_server, cluster):
    s = slurm_server()
    assert s.get("/readyz").status_code == 200
    cluster.stop_controller()
    try:
        text = eventually(
            lambda: (r := s.get("/readyz", timeout=60)).status_code == 503 and r.text, 90,
            "/readyz stayed ready with the controller down")
        assert "GPU readings fail: Slurm: " in text, text
        # Accepted and kept while the cluster cannot take it.
        job = raw(s, "echo after", 1024)
        assert s.job(job)["state"] == "queued"
    finally:
        cluster.start_controller()
    eventually(lambda: s.get("/readyz", timeout=60).status_code == 200, 90,
               "/readyz did not recover with the controller back")
    j = s.wait_job(job, timeout=90)
    assert j["state"] == "succeeded", j
    assert j["output"] == "after\n"


def test_vram_is_measured_on_the_node_and_enforced(slurm_server, tmp_path):
    # The batch step (vramq batch-step) reads NVML on the node: here the fake driver, told by the
    # job itself what its process uses, exactly as the real driver would report it.
    nvml = tmp_path / "nvml"
    (nvml / "procs").mkdir(parents=True)
    (nvml / "devices").write_text("GPU-node1-0 24576 0 Fake GPU\nGPU-node1-1 24576 0 Fake GPU\n")
    lib = Path(BIN).parent / "fake-nvml" / "libnvidia-ml.so.1"
    s = slurm_server("--nvml-library", str(lib), "--vram-grace-ms", "300")
    env = {"FAKE_NVML_DIR": str(nvml)}
    ok = raw(s, f'echo "GPU-node1-0 3000" > {nvml}/procs/$$; sleep 3; echo done', 4096, env=env)
    measured = eventually(lambda: s.job(ok)["measured_vram_mb"], 20, "no measured use")
    assert measured == 3000
    j = s.wait_job(ok, timeout=30)
    assert j["state"] == "succeeded", j
    assert j["peak_vram_mb"] == 3000
    over = raw(s, f'echo "GPU-node1-0 9000" > {nvml}/procs/$$; sleep 60', 2048, env=env)
    j = s.wait_job(over, timeout=60)
    assert j["state"] == "failed" and j["reason"] == "vram_exceeded", j
    assert j["peak_vram_mb"] == 9000


def test_an_sbatch_without_a_clear_answer_is_never_submitted_twice(make_server, cluster,
                                                                    tmp_path):
    # The first sbatch goes through, but its answer is lost (as when the controller times out):
    # vramq must find the job by its name on the next try, not queue it a second time.
    fake = tmp_path / "fakebin"
    fake.mkdir()
    lied = tmp_path / "lied"
    real = subprocess.run(["sh", "-c", "command -v sbatch"], capture_output=True,
                          text=True).stdout.strip()
    (fake / "sbatch").write_text(f"""#!/bin/sh
out=$("{real}" "$@") || exit $?
if [ ! -e "{lied}" ]; then
  touch "{lied}"
  echo "sbatch: error: Socket timed out on send/recv operation" >&2
  exit 1
fi
echo "$out"
""")
    (fake / "sbatch").chmod(0o755)
    s = make_server("--executor", "slurm", "--allow-raw-commands", "--slurm-poll-ms", "200",
                    env={"SLURM_CONF": str(cluster.conf),
                         "PATH": f"{fake}:{os.environ['PATH']}"})
    runs = tmp_path / "runs"
    job = s.wait_job(raw(s, f"echo ran >> {runs}; echo done", 1024), timeout=60)
    assert lied.exists(), "the fake sbatch was not used"
    assert job["state"] == "succeeded" and job["output"] == "done\n", job
    assert job["attempt"] == 1
    assert runs.read_text() == "ran\n", "the job ran twice"
    # And Slurm saw one job of that name (names are the data directory's hash, job and attempt).
    h = 1469598103934665603
    for byte in os.path.normpath(os.path.abspath(s.data_dir)).encode():
        h = ((h ^ byte) * 1099511628211) % (1 << 64)
    name = f"vramq-{h & 0xffffffff:08x}-{job['id']}.1"
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%j"], env=cluster.env,
                         capture_output=True, text=True).stdout.split()
    assert out.count(name) == 1, (name, out)
