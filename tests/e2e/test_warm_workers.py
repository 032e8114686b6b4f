"""Warm workers (docs/workers.md): a task's runs served by long-lived processes that load once,
through the real binary, its supervisors, the demo model's worker mode and a simulated 24 GiB GPU
(1 GiB buffer: 23 GiB to give)."""
import os
import re
import signal
import threading
import time

from conftest import BIN, SLOW, descendants, eventually, process_alive

FAKE = os.path.join(os.path.dirname(BIN), "vramq-fake-model")


def catalog(tmp_path, load_s=0.5, resident_mb=14336, max_workers=1, keep_alive_s=300, extra="",
            flags="", name="catalog.toml"):
    """Tasks `a` and `b` served by warm workers (each holds `resident_mb` once loaded), and
    `plain`, a process per run."""
    text = ""
    for task in ("a", "b"):
        text += f"""
[tasks.{task}]
timeout_s = 600
[tasks.{task}.worker]
argv = ["{FAKE}", "--worker", "--load-seconds", "{load_s}", "--resident-mb", "{resident_mb}"{flags}]
keep_alive_s = {keep_alive_s}
max_workers = {max_workers}
setup_timeout_s = 30
{extra}
[tasks.{task}.params]
seconds = {{ type = "float", min = 0, max = 600, default = 0.05 }}
vram_mb = {{ type = "int", min = 0, max = 100000, default = {resident_mb} }}
output = {{ type = "string", max_length = 64, default = "done" }}
fail = {{ type = "enum", values = ["", "error", "retryable", "oom", "crash", "hang", "liar"], default = "" }}
[tasks.{task}.vram]
base_mb = 0
per_unit_mb = 1
unit = "vram_mb"
"""
    text += f"""
[tasks.plain]
argv = ["{FAKE}", "--seconds", "{{seconds}}", "--vram-mb", "{{vram_mb}}"]
[tasks.plain.params]
seconds = {{ type = "float", min = 0, max = 600, default = 0.1 }}
vram_mb = {{ type = "int", min = 0, max = 100000, default = 14336 }}
[tasks.plain.vram]
base_mb = 0
per_unit_mb = 1
unit = "vram_mb"
"""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def workers(s):
    r = s.get("/v1/workers")
    assert r.status_code == 200, r.text
    return r.json()["workers"]


def log_count(s, pattern):
    return len(re.findall(pattern, s.log_path.read_text(errors="replace")))


def reported_use(data_dir):
    """The simulated GPU's real use, read beside the server rather than from it: what the live
    fake-model processes of this server report holding (each in its VRAMQ_SIM_VRAM_FILE). A scan
    of /proc is not one instant: a process that ended during it (its successor may have started
    and loaded meanwhile) makes the scan say nothing (None); otherwise every process counted was
    alive at its end, holding at least what was read, so the sum is a true lower bound."""
    counted = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not os.readlink(f"/proc/{pid}/exe").endswith("vramq-fake-model"):
                continue
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        files = [e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"VRAMQ_SIM_VRAM_FILE=")]
        if not files or not files[0].startswith(str(data_dir)) or not process_alive(int(pid)):
            continue
        try:
            mb = int(open(files[0]).read().strip() or 0)
        except (OSError, ValueError):
            mb = 0  # not loaded yet
        # By file: a sanitized process's leak check runs in a clone of it (same exe, same
        # environment) that is one worker all the same.
        counted[files[0]] = (int(pid), mb)
    if not all(process_alive(pid) for pid, _ in counted.values()):
        return None
    return sum(mb for _, mb in counted.values())


def watch_use(s, stop, seen):
    """Records, until `stop` is set, the VRAM the fake-model processes report holding."""
    while not stop.is_set():
        used = reported_use(s.data_dir)
        if used is not None:
            seen.append(used)
        time.sleep(0.02)


def test_fifty_runs_load_the_model_once(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", catalog(tmp_path, load_s=1))
    ids = [s.submit("a", params={"seconds": 0.02, "output": f"run{i}"}).json()["id"]
           for i in range(50)]
    jobs = [s.wait_job(i, timeout=60) for i in ids]
    assert all(j["state"] == "succeeded" for j in jobs), [j["error"] for j in jobs]
    assert [j["output"] for j in jobs if f'"run{ids.index(j["id"])}"' in j["output"]] == \
        [j["output"] for j in jobs]
    assert len({j["worker"] for j in jobs}) == 1 and jobs[0]["worker"] is not None
    assert log_count(s, r"worker \d+ \(a\): starting") == 1
    (w,) = workers(s)
    assert w["state"] == "idle" and w["runs"] == 50 and w["task"] == "a"
    assert w["keep_alive_left_s"] > 0 and w["job"] is None
    # Each run's stderr is its own job's log; between runs the worker's log is its own.
    for j in jobs[:3]:
        stderr = s.get(f"/v1/jobs/{j['id']}/log?stream=stderr").text
        assert f"run of job {j['id']}:" in stderr and "loading" not in stderr, stderr
    # Ended jobs keep their worker in the store, as the API shows it.
    listed = s.get("/v1/jobs?state=succeeded&limit=5").json()["jobs"]
    assert all(j["worker"] == w["id"] for j in listed)
    r = s.cli("workers")
    assert r.returncode == 0 and "idle" in r.stdout and " a " in r.stdout, r.stdout + r.stderr
    assert s.get("/v1/gpus").json()["gpus"][0]["workers"] == [w["id"]]
    r = s.cli("workers", "unload", str(w["id"]))
    assert r.returncode == 0 and "unloading" in r.stdout, r.stdout + r.stderr
    eventually(lambda: workers(s) == [], 10, "unloaded by the CLI")
    r = s.cli("workers", "unload", str(w["id"]))
    assert r.returncode == 2 and "no such worker" in r.stderr, r.stderr


def test_only_an_admin_token_unloads_a_worker(make_server, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("alice-token-0123456789:alice\nroot-token-0123456789a:root:admin\n")
    s = make_server("--gpus", "sim:24GiB", "--token-file", str(tokens), "--tasks",
                    catalog(tmp_path, load_s=0.1))
    alice = {"Authorization": "Bearer alice-token-0123456789"}
    root = {"Authorization": "Bearer root-token-0123456789a"}
    j = s.post("/v1/jobs", {"task": "a"}, headers=alice).json()["id"]
    assert s.get(f"/v1/jobs/{j}?wait=30", headers=alice).json()["state"] == "succeeded"
    assert s.get("/v1/workers").status_code == 401
    (w,) = s.get("/v1/workers", headers=alice).json()["workers"]
    r = s.delete(f"/v1/workers/{w['id']}", headers=alice)
    assert r.status_code == 403 and "admin" in r.json()["detail"], r.text
    assert s.delete(f"/v1/workers/{w['id']}", headers=root).status_code == 202


def test_alternating_tasks_evict_the_idle_worker_and_never_overcommit(make_server, tmp_path):
    # 14 GiB each on a 24 GiB GPU: never both resident. An unloading worker takes 0.5 s to go,
    # longer than a load: a worker started before the last one is gone would be seen.
    s = make_server("--gpus", "sim:24GiB", "--tasks",
                    catalog(tmp_path, load_s=0.3, flags=', "--shutdown-seconds", "0.5"'))
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=watch_use, args=(s, stop, seen))
    watcher.start()
    try:
        ids = [s.submit(t, params={"seconds": 0.1}).json()["id"] for t in "abab"]
        jobs = [s.wait_job(i, timeout=60) for i in ids]
    finally:
        stop.set()
        watcher.join()
    # 23 GiB to give (24 GiB less the 1 GiB buffer); two resident models would hold 28 GiB.
    assert max(seen) == 14336 and all(used <= 23 * 1024 for used in seen), max(seen)
    assert all(j["state"] == "succeeded" for j in jobs), [j["error"] for j in jobs]
    assert len({j["worker"] for j in jobs}) == 4  # each switch loaded the other model anew
    assert log_count(s, r"unloading from GPU 0: its memory is needed by a queued job") == 3


def test_a_plain_job_evicts_an_idle_worker_but_never_a_busy_one(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", catalog(tmp_path, load_s=0.2))
    busy = s.submit("a", params={"seconds": 3}).json()["id"]
    s.wait_state(busy, ["running"])
    eventually(lambda: [w for w in workers(s) if w["state"] == "busy"], 10, "worker busy")
    plain = s.submit("plain").json()["id"]
    # It waits for plain VRAM while the worker serves: a busy worker is not evicted.
    time.sleep(0.5)
    j = s.job(plain)
    assert j["state"] == "queued" and j["pending_reason"] == "vram", j
    assert workers(s)[0]["state"] == "busy"
    assert s.wait_job(busy)["state"] == "succeeded"
    # Idle now: unloaded for the plain job, which then runs.
    assert s.wait_job(plain)["state"] == "succeeded"
    assert log_count(s, r"worker \d+ \(a\): unloading from GPU 0: its memory is needed") == 1
    eventually(lambda: workers(s) == [], 10, "the evicted worker is gone")


def test_a_job_that_would_not_fit_anyway_evicts_nothing(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", catalog(tmp_path, load_s=0.1, resident_mb=4096))
    assert s.wait_job(s.submit("a").json()["id"])["state"] == "succeeded"
    long = s.submit("plain", params={"seconds": 5, "vram_mb": 16384}).json()["id"]
    s.wait_state(long, ["running"])
    # 16 GiB run + 4 GiB idle worker: 3 GiB free. A 9 GiB job fits only once the run ends.
    waiting = s.submit("plain", params={"vram_mb": 9216}).json()["id"]
    time.sleep(0.5)
    assert s.job(waiting)["pending_reason"] == "vram"
    assert [w["state"] for w in workers(s)] == ["idle"]
    assert s.wait_job(waiting)["state"] == "succeeded"


def test_a_run_for_a_worker_being_unloaded_gets_a_new_one(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks",
                    catalog(tmp_path, load_s=0.2, flags=', "--shutdown-seconds", "2"'))
    first = s.wait_job(s.submit("a").json()["id"])
    (w,) = workers(s)
    r = s.delete(f"/v1/workers/{w['id']}")
    assert r.status_code == 202 and r.json()["state"] == "unloading"
    assert workers(s)[0]["state"] == "unloading"
    second = s.submit("a").json()["id"]
    # Its memory is still held by the unloading worker: the run waits for it to go.
    j = s.job(second)
    assert j["state"] == "queued" and j["pending_reason"] == "worker_unloading", j
    j = s.wait_job(second)
    assert j["state"] == "succeeded" and j["worker"] not in (None, first["worker"]), j
    assert s.delete(f"/v1/workers/{w['id']}").status_code == 404


def test_a_worker_killed_mid_run_fails_that_run_and_the_next_gets_a_new_worker(make_server,
                                                                                tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", catalog(tmp_path, load_s=0.2))
    victim = s.submit("a", params={"seconds": 30}).json()["id"]
    s.wait_state(victim, ["running"])
    (w,) = eventually(lambda: [w for w in workers(s) if w["state"] == "busy"], 10, "busy")
    model = [p for p in descendants(w["pid"]) if process_alive(p)]
    assert model, "the worker process under its supervisor"
    os.kill(model[0], signal.SIGKILL)
    j = s.wait_job(victim)
    assert j["state"] == "failed" and j["reason"] == "worker_crashed", j
    assert f"its worker {w['id']} (a) was killed by signal 9 during the run" in j["error"], j
    assert f"run of job {victim}" in j["error"]  # the tail of the run's log
    after = s.wait_job(s.submit("a").json()["id"], timeout=60)
    assert after["state"] == "succeeded" and after["worker"] != w["id"], after
    # A crash inside the run itself (it aborts), and a CUDA out-of-memory error from the worker.
    j = s.wait_job(s.submit("a", params={"fail": "crash", "seconds": 0.4}).json()["id"])
    assert j["reason"] == "worker_crashed" and "crashing mid-run" in j["error"], j
    j = s.wait_job(s.submit("a", params={"fail": "oom"}).json()["id"], timeout=60)
    assert j["state"] == "failed" and j["reason"] == "gpu_oom", j
    j = s.wait_job(s.submit("a", params={"fail": "error"}, max_retries=2).json()["id"])
    assert j["reason"] == "worker_error" and j["attempt"] == 1, j  # not retryable: not retried
    j = s.wait_job(s.submit("a", params={"fail": "retryable"}, max_retries=1).json()["id"])
    assert j["reason"] == "worker_failed" and j["attempt"] == 2, j


def test_a_worker_that_answers_for_another_job_is_stopped_and_its_run_fails(make_server,
                                                                            tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", catalog(tmp_path, load_s=0.05))
    lied = s.wait_job(s.submit("a", params={"fail": "liar"}).json()["id"])
    assert lied["state"] == "failed", lied
    assert f"it answered for job {lied['id'] + 1000} while serving job {lied['id']}" in \
        lied["error"], lied
    assert lied["output"] != "{}", "the lie was taken for the run's result"
    # That worker is gone (a liar is not trusted with another run); the next run gets a new one.
    eventually(lambda: not any(w["id"] == lied["worker"] for w in workers(s)), 10,
               "the lying worker was not stopped")
    ok = s.wait_job(s.submit("a").json()["id"])
    assert ok["state"] == "succeeded" and ok["worker"] != lied["worker"], ok


def test_workers_that_keep_crashing_back_off(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks",
                    catalog(tmp_path, load_s=0.05, flags=', "--crash-on-load", "1"'))
    ids = [s.submit("a").json()["id"] for _ in range(4)]
    first = s.wait_job(ids[0])
    assert first["reason"] == "worker_crashed" and "during its setup" in first["error"], first
    assert "crashing during setup" in first["error"]
    # After a crash, the next worker of the task waits a growing back-off, and says why.
    eventually(lambda: any(s.job(i)["pending_reason"] == "worker_backoff" for i in ids[1:]), 10,
               "a job waiting out the back-off")
    ended = [s.wait_job(i, timeout=60) for i in ids[1:]]
    assert all(j["reason"] == "worker_crashed" for j in ended)
    starts = [int(m) * 60 + float(sec) for m, sec in re.findall(
        r"\d\d:(\d\d):(\d\d\.\d+)\] \[vramq\] \[info\] worker \d+ \(a\): starting",
        s.log_path.read_text())]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # Each gap is the back-off (1 s, 2 s, 4 s) plus a start and a load: every one must grow.
    assert len(gaps) == 3 and all(g >= b - 0.05 for g, b in zip(gaps, (1, 2, 4))), gaps


def test_a_worker_that_does_not_get_ready_in_time_is_stopped(make_server, tmp_path):
    text = open(catalog(tmp_path, load_s=60)).read().replace("setup_timeout_s = 30",
                                                            "setup_timeout_s = 1")
    (tmp_path / "slow.toml").write_text(text)
    s = make_server("--gpus", "sim:24GiB", "--tasks", str(tmp_path / "slow.toml"))
    j = s.wait_job(s.submit("a").json()["id"], timeout=20)
    assert j["reason"] == "worker_crashed", j
    assert "did not say ready within 1 s (setup_timeout_s)" in j["error"], j
    eventually(lambda: workers(s) == [], 10, "the stuck worker is gone")


def test_cancel_and_timeout_of_runs_on_a_worker(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--kill-grace-s", "1", "--tasks",
                    catalog(tmp_path, load_s=0.2))
    long = s.submit("a", params={"seconds": 60}).json()["id"]
    s.wait_state(long, ["running"])
    (w,) = eventually(lambda: [w for w in workers(s) if w["state"] == "busy"], 10, "busy")
    assert s.delete(f"/v1/jobs/{long}").status_code in (200, 202)
    j = s.wait_job(long, timeout=10)
    assert j["state"] == "cancelled", j
    # The worker answered the cancel and serves the next run.
    assert s.wait_job(s.submit("a").json()["id"])["worker"] == w["id"]
    timed = s.wait_job(s.submit("a", params={"seconds": 60}, timeout_s=1).json()["id"], timeout=20)
    assert timed["state"] == "timed_out" and timed["worker"] == w["id"], timed
    # A worker that ignores the cancel is stopped after the grace; the job ends cancelled.
    hung = s.submit("a", params={"fail": "hang"}).json()["id"]
    s.wait_state(hung, ["running"])
    eventually(lambda: [w for w in workers(s) if w["state"] == "busy"], 10, "busy")
    # Busy is said before the run goes out (its log is switched first); a cancel that comes
    # before the run reached the worker ends it without asking the worker, which then lives on.
    # The worker's first line for the run says it has it.
    eventually(lambda: f"run of job {hung}:" in s.get(f"/v1/jobs/{hung}/log?stream=stderr").text,
               10, "the worker got the run")
    s.delete(f"/v1/jobs/{hung}")
    j = s.wait_job(hung, timeout=20)
    assert j["state"] == "cancelled", j
    eventually(lambda: w["id"] not in [x["id"] for x in workers(s)], 10, "the hung worker is gone")
    assert s.delete("/v1/workers/999").status_code == 404


def test_cancel_while_it_loads_keeps_the_load(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", catalog(tmp_path, load_s=1.5))
    j = s.submit("a").json()["id"]
    s.wait_state(j, ["running"])
    assert workers(s)[0]["state"] == "starting"
    assert s.delete(f"/v1/workers/{workers(s)[0]['id']}").status_code == 409
    s.delete(f"/v1/jobs/{j}")
    assert s.wait_job(j, timeout=10)["state"] == "cancelled"
    eventually(lambda: [w for w in workers(s) if w["state"] == "idle"], 10, "loaded anyway")


def test_an_idle_worker_that_stops_answering_pings_is_stopped(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--worker-ping-ms", "200", "--tasks",
                    catalog(tmp_path, load_s=0.1, flags=', "--ignore-pings", "1"'))
    assert s.wait_job(s.submit("a").json()["id"])["state"] == "succeeded"
    eventually(lambda: workers(s) == [], 10, "the hung worker removed")
    assert log_count(s, r"did not answer a ping within 200 ms; stopping it") == 1


def test_keep_alive_unloads_an_idle_worker(make_server, tmp_path):
    s = make_server("--gpus", "sim:24GiB", "--tasks", catalog(tmp_path, load_s=0.1, keep_alive_s=1))
    assert s.wait_job(s.submit("a").json()["id"])["state"] == "succeeded"
    assert workers(s)[0]["state"] == "idle"
    eventually(lambda: workers(s) == [], 10, "unloaded after keep_alive_s")
    assert log_count(s, r"unloading from GPU 0: idle for 1 s \(keep_alive_s\)") == 1
    g = s.get("/v1/gpus").json()["gpus"][0]
    assert g["committed_mb"] == 0, g


def test_a_run_in_flight_when_the_server_dies_is_queued_again_once(make_server, tmp_path):
    data = tmp_path / "data"
    tasks = catalog(tmp_path, load_s=0.2)
    s = make_server("--gpus", "sim:24GiB", "--tasks", tasks, data_dir=data)
    j = s.submit("a", params={"seconds": 30}).json()["id"]
    s.wait_state(j, ["running"])
    (w,) = eventually(lambda: [w for w in workers(s) if w["state"] == "busy"], 10, "busy")
    model = [p for p in descendants(w["pid"]) if process_alive(p)]
    s.kill9()
    # The worker dies with the server that spoke to it.
    eventually(lambda: not any(process_alive(p) for p in model + [w["pid"]]), 15, "worker gone")
    s2 = make_server("--gpus", "sim:24GiB", "--tasks", tasks, data_dir=data)
    again = s2.job(j)
    assert again["state"] in ("queued", "running") and again["attempt"] == 2, again
    assert "queued again (once)" in (again["error"] or ""), again
    # Once only: in flight on a worker at a second crash, it ends like any interrupted run.
    s2.wait_state(j, ["running"])
    eventually(lambda: [w for w in workers(s2) if w["state"] == "busy"], 10, "busy again")
    s2.kill9()
    s3 = make_server("--gpus", "sim:24GiB", "--tasks", tasks, data_dir=data)
    last = s3.wait_job(j)
    assert last["state"] == "failed" and last["reason"] == "interrupted", last


def test_a_task_can_opt_out_of_the_requeue_after_a_restart(make_server, tmp_path):
    data = tmp_path / "data"
    tasks = catalog(tmp_path, load_s=0.1, extra="requeue_on_restart = false")
    s = make_server("--gpus", "sim:24GiB", "--tasks", tasks, data_dir=data)
    j = s.submit("a", params={"seconds": 30}).json()["id"]
    s.wait_state(j, ["running"])
    eventually(lambda: [w for w in workers(s) if w["state"] == "busy"], 10, "busy")
    s.kill9()
    s2 = make_server("--gpus", "sim:24GiB", "--tasks", tasks, data_dir=data)
    ended = s2.wait_job(j)
    assert ended["state"] == "failed" and ended["reason"] == "interrupted", ended
