"""vramq --gpus nvml against the fake NVML driver (tests/fakes/fake_nvml.c, loaded through
LD_LIBRARY_PATH exactly as the real libnvidia-ml.so.1 would be): device readings, attribution of
GPU processes to jobs, foreign memory in admission, start-up failures, enforcement, out-of-memory
retries and learned footprints; readings on the current, the v2 and the oldest NVML entry points."""
import os
from datetime import datetime
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, SLOW, descendants, process_alive

BUILD = Path(BIN).parent
FAKE_MODEL = str(BUILD / "vramq-fake-model")


class FakeGpus:
    """The fake driver's state directory: devices, and processes using GPU memory."""

    def __init__(self, root):
        self.dir = Path(root)
        (self.dir / "procs").mkdir(parents=True)
        self.foreign = []

    def devices(self, *devs):
        """devs: (uuid, total_mib, driver_mib, name)"""
        (self.dir / "devices").write_text(
            "".join(f"{u} {t} {d} {n}\n" for u, t, d, n in devs))

    def start_foreign(self, uuid, mib):
        """A process vramq did not start that holds `mib` on GPU `uuid`."""
        p = subprocess.Popen(["sleep", "300"])
        self.foreign.append(p)
        (self.dir / "procs" / str(p.pid)).write_text(f"{uuid} {mib}\n")
        return p

    def stop(self, p):
        p.kill()
        p.wait()

    def env(self, variant="fake-nvml"):
        lib = BUILD / variant
        return {"FAKE_NVML_DIR": str(self.dir), "LD_LIBRARY_PATH": str(lib)}

    def close(self):
        for p in self.foreign:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def gpus(tmp_path):
    g = FakeGpus(tmp_path / "nvml")
    g.devices(("GPU-11111111-aaaa", 24576, 300, "NVIDIA Fake L4"),
              ("GPU-22222222-bbbb", 81920, 0, "NVIDIA Fake H100 80GB HBM3"))
    yield g
    g.close()


def job_cmd(gpus, mib, seconds):
    return [FAKE_MODEL, "--nvml-dir", str(gpus.dir), "--vram-mb", str(mib), "--seconds",
            str(seconds)]


def wait_for(what, fn, timeout=10):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


@pytest.mark.parametrize("variant,versions", [
    ("fake-nvml", "memory v2, processes v3"),
    ("fake-nvml-v2", "memory v2, processes v2"),
    ("fake-nvml-legacy", "memory v1, processes v1"),
])
def test_reads_devices_and_driver_memory(make_server, gpus, variant, versions):
    s = make_server("--gpus", "nvml", env=gpus.env(variant))
    body = s.get("/v1/gpus").json()
    assert body["source"] == "nvml"
    g0, g1 = body["gpus"]
    assert (g0["uuid"], g0["name"], g0["total_mb"]) == ("GPU-11111111-aaaa", "NVIDIA Fake L4",
                                                        24576)
    assert (g1["name"], g1["total_mb"]) == ("NVIDIA Fake H100 80GB HBM3", 81920)
    # Driver memory no process accounts for is foreign and comes off what admission may give.
    assert g0["used_mb"] == 300 and g0["foreign_mb"] == 300
    assert g0["available_mb"] == 24576 - 300 - 1024
    assert g0["foreign_processes"] == []
    log = s.log_path.read_text()
    assert versions in log


def test_attributes_job_processes_and_records_their_peak(make_server, gpus):
    s = make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "100",
                    env=gpus.env())
    j = s.post("/v1/jobs", {"command": job_cmd(gpus, 3000, 2 * SLOW), "vram_mb": 20000}).json()
    s.wait_state(j["id"], ["running"])
    # Best fit puts 20 GB on the 24 GB card; its 3000 MiB are the job's, not foreign.
    g0 = wait_for("the job's use is read", lambda: (
        lambda g: g if g["used_mb"] == 3300 else None)(s.get("/v1/gpus").json()["gpus"][0]))
    assert g0["foreign_mb"] == 300 and g0["jobs"] == [j["id"]]
    assert g0["committed_mb"] == 20000  # max(reservation, measured)
    done = s.wait_job(j["id"])
    assert done["state"] == "succeeded", done
    assert done["peak_vram_mb"] == 3000
    assert done["gpu"] == 0


def test_foreign_process_is_listed_and_blocks_admission_until_it_goes(make_server, gpus):
    s = make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "100",
                    env=gpus.env())
    hog = gpus.start_foreign("GPU-22222222-bbbb", 70000)
    g1 = wait_for("the foreign process is seen", lambda: (
        lambda g: g if g["foreign_processes"] else None)(s.get("/v1/gpus").json()["gpus"][1]))
    assert g1["foreign_processes"] == [{"pid": hog.pid, "name": "sleep", "used_mb": 70000}]
    assert g1["foreign_mb"] == 70000
    table = s.cli("gpus").stdout
    assert f"GPU 1: foreign process {hog.pid} (sleep) uses" in table, table
    # 30 GB fits neither GPU while the hog holds 70 GB of the 80 GB one.
    j = s.post("/v1/jobs", {"command": job_cmd(gpus, 100, 0.2), "vram_mb": 30000}).json()
    assert j["state"] == "queued" and j["pending_reason"] == "vram", j
    time.sleep(0.5 * SLOW)
    assert s.job(j["id"])["state"] == "queued"
    gpus.stop(hog)  # the driver frees a dead process's memory; the next reading admits the job
    done = s.wait_job(j["id"])
    assert done["state"] == "succeeded" and done["gpu"] == 1, done


def test_gpu_lost_stops_admission_and_recovers(make_server, gpus):
    s = make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "100",
                    env=gpus.env())
    (gpus.dir / "fail").write_text("")
    wait_for("readings fail", lambda: s.get("/readyz").status_code == 503)
    j = s.post("/v1/jobs", {"command": job_cmd(gpus, 100, 0.2), "vram_mb": 1000}).json()
    assert j["state"] == "queued" and j["pending_reason"] == "gpu_unknown", j
    (gpus.dir / "fail").unlink()
    assert s.wait_job(j["id"])["state"] == "succeeded"


def test_one_lost_gpu_stays_unknown_while_the_other_serves(make_server, gpus):
    """A GPU that falls off the bus (NVML_ERROR_GPU_IS_LOST for it alone): it keeps its identity,
    shows unknown with the error, nothing is admitted to it, /readyz names it, the other GPU
    keeps serving; after a reset (the library re-initialised) it answers again."""
    s = make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "100",
                    env=gpus.env())
    (gpus.dir / "lost").write_text("GPU-11111111-aaaa\n")
    lost = wait_for("GPU 0 lost", lambda: (lambda g: g if not g["known"] else None)(
        s.get("/v1/gpus").json()["gpus"][0]))
    assert lost["uuid"] == "GPU-11111111-aaaa" and lost["total_mb"] == 24576
    assert "GPU is lost" in lost["error"], lost
    other = s.get("/v1/gpus").json()["gpus"][1]
    assert other["known"] and "error" not in other
    ready = s.get("/readyz")
    assert ready.status_code == 200, ready.text  # GPU 1 still takes jobs
    assert any("GPU 0 (GPU-11111111-aaaa) cannot be read" in d for d in ready.json()["degraded"])
    # Best fit would pick the smaller GPU 0: while it is unknown the job runs on GPU 1.
    small = s.post("/v1/jobs?wait=30", {"command": job_cmd(gpus, 100, 0.2), "vram_mb": 1000})
    assert small.json()["state"] == "succeeded" and small.json()["gpu"] == 1, small.text
    (gpus.dir / "lost").unlink()
    wait_for("GPU 0 back", lambda: s.get("/v1/gpus").json()["gpus"][0]["known"], timeout=20)
    assert "degraded" not in s.get("/readyz").json()
    assert "GPU 0 (GPU-11111111-aaaa) answers again" in s.log_path.read_text()


def run_serve(args, env):
    return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", *args],
                          env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=30 * SLOW)


def test_nvml_without_a_driver_refuses_to_start(tmp_path):
    missing = str(tmp_path / "libnvidia-ml.so.1")  # not there, whatever driver the host has
    r = run_serve(["--gpus", "nvml", "--data-dir", str(tmp_path / "d"), "--nvml-library",
                   missing], {})
    assert r.returncode == 2
    assert f"cannot load {missing}" in r.stderr + r.stdout
    assert "--gpus sim:24GiB" in r.stderr + r.stdout


def test_nvml_with_no_gpu_refuses_to_start(tmp_path, gpus):
    gpus.devices()
    r = run_serve(["--gpus", "nvml", "--data-dir", str(tmp_path / "d")], gpus.env())
    assert r.returncode == 2
    assert "NVML sees no GPU" in r.stderr + r.stdout


def test_auto_falls_back_to_simulation_with_a_banner(make_server, tmp_path):
    s = make_server("--gpus", "auto", "--nvml-library", str(tmp_path / "libnvidia-ml.so.1"))
    assert s.get("/v1/gpus").json()["source"] == "sim"
    assert "SIMULATING" in s.log_path.read_text()


def test_auto_uses_nvml_when_there_is_a_gpu(make_server, gpus):
    s = make_server("--gpus", "auto", env=gpus.env())
    assert s.get("/v1/gpus").json()["source"] == "nvml"


def guarded_server(make_server, gpus, *extra):
    return make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "100",
                       "--vram-grace-ms", "300", *extra, env=gpus.env())


def test_a_job_growing_past_its_reservation_is_killed(make_server, gpus):
    s = guarded_server(make_server, gpus)
    cmd = job_cmd(gpus, 1000, 20) + ["--grow-to-mb", "8000"]
    j = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000}).json()
    done = s.wait_job(j["id"], timeout=20)
    assert done["state"] == "failed" and done["reason"] == "vram_exceeded", done
    assert "above its reservation of 1000 MiB plus 10% for more than 300 ms" in done["error"]
    assert "--vram-policy kill" in done["error"]
    assert done["peak_vram_mb"] > 1100
    # Stopped long before its 20 s run would have ended.
    ran = (datetime.fromisoformat(done["finished_at"].replace("Z", "+00:00"))
           - datetime.fromisoformat(done["started_at"].replace("Z", "+00:00")))
    assert ran.total_seconds() < 15, done


def test_under_warn_a_growing_job_is_only_reported(make_server, gpus):
    s = guarded_server(make_server, gpus, "--vram-policy", "warn", "--vram-tolerance", "20%")
    cmd = job_cmd(gpus, 1000, 1.5 * SLOW) + ["--grow-to-mb", "3000"]
    j = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000}).json()
    done = s.wait_job(j["id"])
    assert done["state"] == "succeeded", done
    assert len(done["warnings"]) == 1, done
    assert "above its reservation of 1000 MiB plus 20%" in done["warnings"][0]
    # The warning quotes the peak of the run, not the reading that first crossed the limit.
    assert done["peak_vram_mb"] > 2000, done
    assert f"used up to {done['peak_vram_mb']} MiB" in done["warnings"][0], done
    assert done["reason"] is None
    shown = s.cli("show", str(j["id"])).stdout
    assert any(line.startswith("warning") and "above its reservation" in line
               for line in shown.splitlines()), shown


def test_gpu_oom_is_retried_with_a_larger_reservation_and_then_succeeds(make_server, gpus):
    s = guarded_server(make_server, gpus)
    # Dies of a CUDA out-of-memory error whenever it is given less than 1400 MiB.
    cmd = job_cmd(gpus, 500, 0.3) + ["--oom-below-mb", "1400"]
    j = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000, "max_retries": 1}).json()
    done = s.wait_job(j["id"])
    assert done["state"] == "succeeded", done
    assert done["attempt"] == 2 and done["vram_mb"] == 1500, done
    assert len(done["warnings"]) == 1
    assert done["warnings"][0].startswith("attempt 1: CUDA out of memory")
    assert "reservation 1000 -> 1500 MiB" in done["warnings"][0]


def test_gpu_oom_without_retries_says_who_pushed_the_gpu_over(make_server, gpus):
    s = guarded_server(make_server, gpus)
    cmd = job_cmd(gpus, 500, 0.6 * SLOW) + ["--oom-below-mb", "1400"]
    j = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000}).json()
    done = s.wait_job(j["id"])
    assert done["state"] == "failed" and done["reason"] == "gpu_oom", done
    # It was seen using 500 of its 1000 MiB: the GPU was filled by someone else.
    assert "a neighbour or a foreign process" in done["error"], done


def learning_catalog(tmp_path, gpus):
    """A task that declares 4000 MiB + size but really uses `size` MiB, and the same task with
    learning switched off."""
    path = tmp_path / "tasks.toml"
    body = ""
    for name, learn in (("model", "true"), ("fixed", "false")):
        body += f"""
[tasks.{name}]
argv = ["{FAKE_MODEL}", "--nvml-dir", "{gpus.dir}", "--vram-mb", "{{size}}", "--seconds", "0.4"]
learn = {learn}
[tasks.{name}.params]
size = {{ type = "int", min = 0, max = 20000, default = 1000 }}
[tasks.{name}.vram]
base_mb = 4000
per_unit_mb = 1
unit = "size"
"""
    path.write_text(body)
    return path


def test_after_five_runs_the_reservation_follows_the_measured_peaks(make_server, gpus, tmp_path):
    tasks = learning_catalog(tmp_path, gpus)
    args = ("--gpus", "nvml", "--tasks", str(tasks), "--gpu-poll-ms", "100")
    s = make_server(*args, env=gpus.env())
    for _ in range(5):
        j = s.submit("model", params={"size": 1000}).json()
        assert j["vram_mb"] == 5000  # the declared rule: 4000 + size
        done = s.wait_job(j["id"])
        assert done["state"] == "succeeded" and done["peak_vram_mb"] == 1000, done
        s.wait_job(s.submit("fixed", params={"size": 1000}).json()["id"])
    learned = {t["name"]: t for t in s.get("/v1/tasks").json()["tasks"]}
    assert learned["model"]["learned"] == [
        {"bucket": "size=1000", "samples": 5, "p95_mb": 1000, "reserve_mb": 1100}]
    assert learned["model"]["learn"] is True and learned["fixed"]["learn"] is False
    assert learned["fixed"]["learned"] == []
    table = s.cli("tasks").stdout
    assert "size=1000: 1100 MiB (5 runs)" in table and "off" in table, table
    # The sixth run of the bucket reserves p95 + 10 %; another bucket keeps the declared rule;
    # a client's explicit vram_mb wins; a task with learning off keeps its rule.
    assert s.submit("model", params={"size": 1000}).json()["vram_mb"] == 1100
    assert s.submit("model", params={"size": 2000}).json()["vram_mb"] == 6000
    assert s.submit("model", params={"size": 1000}, vram_mb=3000).json()["vram_mb"] == 3000
    assert s.submit("fixed", params={"size": 1000}).json()["vram_mb"] == 5000
    # What was learned survives a restart (kept in the store with each run's final row).
    data = s.data_dir
    s.kill9()
    s2 = make_server(*args, data_dir=data, env=gpus.env())
    assert s2.submit("model", params={"size": 1000}).json()["vram_mb"] == 1100


def test_learned_reservations_converge_for_jobs_that_use_what_they_are_given(make_server, gpus,
                                                                             tmp_path):
    """Two shapes whose peak sits at the reservation: a job that uses what it is given
    ($VRAMQ_VRAM_MB, as a framework grabbing its share does) and an exact rule (the run uses
    exactly the declared figure). Neither is evidence for more: the reservation stays put run
    after run instead of ratcheting up 10 % at a time."""
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f"""
[tasks.follower]
argv = ["{FAKE_MODEL}", "--nvml-dir", "{gpus.dir}", "--vram-mb", "reservation", "--seconds", "0.3"]
[tasks.follower.vram]
base_mb = 1501
[tasks.exact]
argv = ["{FAKE_MODEL}", "--nvml-dir", "{gpus.dir}", "--vram-mb", "{{size}}", "--seconds", "0.3"]
[tasks.exact.params]
size = {{ type = "int", min = 0, max = 20000, default = 1000 }}
[tasks.exact.vram]
base_mb = 0
per_unit_mb = 1
unit = "size"
""")
    s = make_server("--gpus", "nvml", "--tasks", str(tasks), "--gpu-poll-ms", "50",
                    env=gpus.env())
    for run in range(8):
        follower = s.submit("follower", params={}).json()
        exact = s.submit("exact", params={"size": 3000}).json()
        assert (follower["vram_mb"], exact["vram_mb"]) == (1501, 3000), (run, follower, exact)
        assert s.wait_job(follower["id"])["peak_vram_mb"] == 1501
        assert s.wait_job(exact["id"])["peak_vram_mb"] == 3000
    learned = {t["name"]: t["learned"] for t in s.get("/v1/tasks").json()["tasks"]}
    assert learned["follower"][0]["reserve_mb"] == 1501, learned
    assert learned["exact"][0]["reserve_mb"] == 3000, learned


def test_a_gpu_that_lists_no_processes_counts_jobs_as_their_reservations(make_server, gpus):
    (gpus.dir / "no_processes").write_text("")
    s = guarded_server(make_server, gpus)
    assert "does not list its processes" in s.log_path.read_text()
    j = s.post("/v1/jobs", {"command": job_cmd(gpus, 3000, 1.5 * SLOW), "vram_mb": 20000}).json()
    s.wait_state(j["id"], ["running"])
    g0 = wait_for("the job's use shows", lambda: (
        lambda g: g if g["used_mb"] == 3300 else None)(s.get("/v1/gpus").json()["gpus"][0]))
    # 3300 used - the job's 20000 reserved: nothing foreign; the job is not killed for lack of
    # a reading of its own.
    assert g0["foreign_mb"] == 0 and g0["foreign_processes"] == []
    assert s.wait_job(j["id"])["state"] == "succeeded"


def test_reserved_memory_and_cuda_contexts_as_a_real_driver_shows_them(make_server, gpus):
    """Driver-reserved memory is not free (memory v2 reports it apart); a job's per-process
    figure includes its CUDA context, so its measured use is its own allocations + context."""
    (gpus.dir / "reserved_mib").write_text("200\n")
    (gpus.dir / "context_mib").write_text("300\n")
    s = make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "100",
                    env=gpus.env())
    g0 = s.get("/v1/gpus").json()["gpus"][0]
    assert g0["foreign_mb"] == 300 + 200, g0  # driver memory + reserved
    j = s.post("/v1/jobs", {"command": job_cmd(gpus, 3000, 2 * SLOW), "vram_mb": 20000}).json()
    s.wait_state(j["id"], ["running"])
    g0 = wait_for("the job's use is read", lambda: (
        lambda g: g if g["used_mb"] == 500 + 3300 else None)(s.get("/v1/gpus").json()["gpus"][0]))
    assert g0["foreign_mb"] == 500  # the context is the job's, not foreign
    assert s.wait_job(j["id"])["peak_vram_mb"] == 3300


def test_memory_a_dead_job_leaves_is_foreign_until_the_driver_frees_it(make_server, gpus):
    """A real driver frees a process's memory a moment after it dies: until then it is listed
    under a PID that no longer exists, so it counts as foreign and a job needing it waits."""
    (gpus.dir / "linger_ms").write_text(f"{int(1500 * SLOW)}\n")
    gpus.devices(("GPU-11111111-aaaa", 24576, 300, "NVIDIA Fake L4"))  # one GPU: they share it
    s = make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "50",
                    env=gpus.env())
    first = s.post("/v1/jobs", {"command": job_cmd(gpus, 20000, 0.5), "vram_mb": 20000}).json()
    second = s.post("/v1/jobs", {"command": job_cmd(gpus, 20000, 0.1), "vram_mb": 20000}).json()
    a = s.wait_job(first["id"])
    b = s.wait_job(second["id"], timeout=30)
    assert a["state"] == b["state"] == "succeeded", (a, b)
    assert a["gpus"] == b["gpus"] == [0], (a, b)
    ended = datetime.fromisoformat(a["finished_at"].replace("Z", "+00:00"))
    started = datetime.fromisoformat(b["started_at"].replace("Z", "+00:00"))
    assert (started - ended).total_seconds() >= 1.0, (a, b)  # waited for the memory to go


def test_a_warm_worker_is_measured_as_its_own_and_its_memory_waits_for_the_driver(
        make_server, gpus, tmp_path):
    """A warm worker's processes are its own on the GPU (not foreign), idle or busy; unloaded for
    another job, its memory counts until it has left the driver's process list, not when its
    process exits (linger_ms: the driver frees it 1.5 s later)."""
    (gpus.dir / "linger_ms").write_text(f"{int(1500 * SLOW)}\n")
    gpus.devices(("GPU-11111111-aaaa", 24576, 300, "NVIDIA Fake L4"))
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f"""
[tasks.warm]
learn = false
[tasks.warm.worker]
argv = ["{FAKE_MODEL}", "--worker", "--nvml-dir", "{gpus.dir}", "--load-seconds", "0.1",
        "--resident-mb", "14000"]
[tasks.warm.params]
seconds = {{ type = "float", default = 0.2 }}
vram_mb = {{ type = "int", default = 15000 }}
[tasks.warm.vram]
base_mb = 15000
""")
    s = make_server("--gpus", "nvml", "--allow-raw-commands", "--gpu-poll-ms", "50",
                    "--tasks", str(tasks), env=gpus.env())
    run = s.wait_job(s.post("/v1/jobs", {"task": "warm"}).json()["id"])
    assert run["state"] == "succeeded" and run["peak_vram_mb"] == 15000, run
    idle = wait_for("the idle worker's reading", lambda: (
        lambda w: w if w and w[0]["measured_mb"] == 14000 else None)(
            s.get("/v1/workers").json()["workers"]))
    assert idle[0]["resident_mb"] == 14000 and idle[0]["peak_mb"] == 15000, idle
    g0 = s.get("/v1/gpus").json()["gpus"][0]
    assert g0["foreign_mb"] == 300 and g0["committed_mb"] == 14000, g0
    model = [p for p in descendants(idle[0]["pid"]) if process_alive(p)]
    assert model
    # 10 GB more: fits only once the idle worker is gone and the driver has freed its memory.
    seen, gone_at = [], None
    j = s.post("/v1/jobs", {"command": job_cmd(gpus, 10000, 0.2), "vram_mb": 10000}).json()
    while s.job(j["id"])["state"] == "queued":
        g = s.get("/v1/gpus").json()["gpus"][0]
        seen.append(g["used_mb"])
        if gone_at is None and not process_alive(model[0]):
            gone_at = time.time()
        time.sleep(0.02)
    done = s.wait_job(j["id"])
    assert done["state"] == "succeeded", done
    assert s.get("/v1/workers").json()["workers"] == []
    # The job started only after the driver stopped listing the worker's 14 GB.
    assert gone_at is not None, "the worker's process was seen going"
    started = datetime.fromisoformat(done["started_at"].replace("Z", "+00:00")).timestamp()
    assert started - gone_at >= 1.0, (gone_at, done["started_at"])
    assert max(seen) <= 300 + 14000, seen  # never both on the GPU
