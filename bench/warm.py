"""Warm workers against a process per run (issue 12), side by side in one run.

A model that loads for LOAD s and then runs for RUN s, holding 6 GiB, on one simulated 24 GiB GPU
(1 GiB kept free: room for 3 at once). N runs are submitted at once to:
  - the seed article's design (../shared/peers/seed_fastapi): a fresh process per run that loads
    and runs (LOAD + RUN s), 3 at a time (its semaphore from free VRAM);
  - vramq without a worker: the same fresh process per run (task `fresh`);
  - vramq with warm workers: task `warm`, max_workers = 3, each loads once and serves runs.
The ideal (GPU-bound) time is one load plus N runs of RUN s, 3 at a time. Then the latency a warm
worker adds to a run: 50 runs one after another (POST /v1/jobs?wait=), wall time minus RUN s.
Usage: bench/warm.sh [N] [LOAD] [RUN]   (defaults 200 3 0.2)
"""
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench_util import free_port

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "build" / "vramq"
FAKE = REPO / "build" / "vramq-fake-model"
PEERS = REPO.parent / "shared" / "peers"
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
LOAD = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
RUN = float(sys.argv[3]) if len(sys.argv) > 3 else 0.2
MODEL_MB = 6144
SLOTS = (24576 - 1024) // MODEL_MB  # 3


def unix_ms(rfc3339):
    from datetime import datetime
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000



def wait_up(url, proc):
    for _ in range(600):
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the server exited")
        time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def catalog(path):
    # learn = false: the reservation stays the model's 6 GiB (three at once) in every row.
    path.write_text(f"""
[tasks.fresh]
argv = ["{FAKE}", "--seconds", "{LOAD + RUN}", "--vram-mb", "{MODEL_MB}"]
learn = false
[tasks.fresh.vram]
base_mb = {MODEL_MB}

[tasks.warm]
learn = false
[tasks.warm.worker]
argv = ["{FAKE}", "--worker", "--load-seconds", "{LOAD}", "--resident-mb", "{MODEL_MB}"]
max_workers = {SLOTS}
[tasks.warm.params]
seconds = {{ type = "float", min = 0, max = 60, default = {RUN} }}
vram_mb = {{ type = "int", min = 0, max = 100000, default = {MODEL_MB} }}
[tasks.warm.vram]
base_mb = {MODEL_MB}
""")


def vramq_batch(url, task):
    """Submits N jobs at once, waits for all; returns (seconds, states)."""
    t0 = time.monotonic()
    ids = []
    for _ in range(N):
        r = requests.post(f"{url}/v1/jobs", json={"task": task}, timeout=30)
        r.raise_for_status()
        ids.append(r.json()["id"])
    states = []
    for i in ids:
        while True:
            j = requests.get(f"{url}/v1/jobs/{i}?wait=60", timeout=90).json()
            if j["state"] not in ("queued", "running"):
                states.append(j["state"])
                break
    return time.monotonic() - t0, states


def seed_batch(url):
    cmd = [str(FAKE), "--seconds", str(LOAD + RUN), "--vram-mb", str(MODEL_MB)]
    t0 = time.monotonic()

    def one(_):
        return requests.post(f"{url}/run-script", json={"command": cmd}, timeout=3600).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=N) as pool:
        codes = list(pool.map(one, range(N)))
    return time.monotonic() - t0, codes


def main():
    tmp = Path(tempfile.mkdtemp(prefix="vramq-warm-"))
    procs = []
    try:
        cat = tmp / "tasks.toml"
        catalog(cat)
        vport = free_port()
        log = open(tmp / "vramq.log", "wb")
        procs.append(subprocess.Popen(
            [str(BIN), "serve", "--gpus", "sim:24GiB", "--tasks", str(cat), "--queue-max", "100000",
             "--stop-jobs-on-exit", "--listen", f"127.0.0.1:{vport}", "--data-dir", str(tmp / "data")],
            stdout=log, stderr=subprocess.STDOUT))
        vurl = f"http://127.0.0.1:{vport}"
        wait_up(vurl + "/healthz", procs[-1])
        sport = free_port()
        for f in ("main.py", "pynvml.py"):
            shutil.copy(PEERS / "seed_fastapi" / f, tmp / f)
        env = dict(os.environ, FAKE_FREE_VRAM_MB="24576", MODEL_VRAM_REQUIRED=str(MODEL_MB),
                   QUEUE_MAX_SIZE=str(N + 10))
        procs.append(subprocess.Popen(
            ["/usr/bin/python3", "-m", "uvicorn", "main:app", "--port", str(sport), "--log-level",
             "warning"], cwd=tmp, env=env, stdout=open(tmp / "seed.log", "wb"),
            stderr=subprocess.STDOUT))
        surl = f"http://127.0.0.1:{sport}"
        wait_up(surl + "/docs", procs[-1])

        ideal = LOAD + N * RUN / SLOTS
        rows = []
        secs, codes = seed_batch(surl)
        rows.append(("seed (FastAPI, a process per run)", secs, sum(c == 200 for c in codes)))
        secs, states = vramq_batch(vurl, "fresh")
        rows.append(("vramq, a process per run", secs, states.count("succeeded")))
        secs, states = vramq_batch(vurl, "warm")
        rows.append((f"vramq, warm workers (max_workers {SLOTS})", secs, states.count("succeeded")))

        # Added latency on a warm worker: one run at a time, the workers already loaded. Seen by
        # the client (HTTP, durable submit and end, dispatch), and vramq's own part: from the
        # job's start to the worker's, plus from the worker's end to the job's.
        lat, dispatch = [], []
        for _ in range(50):
            t0 = time.monotonic()
            r = requests.post(f"{vurl}/v1/jobs?wait=30", json={"task": "warm"}, timeout=60)
            j = r.json()
            assert j["state"] == "succeeded", r.text
            lat.append((time.monotonic() - t0 - RUN) * 1000)
            res = json.loads(j["output"])
            dispatch.append((res["started_ms"] - unix_ms(j["started_at"])) +
                            (unix_ms(j["finished_at"]) - res["finished_ms"]))
        workers = requests.get(f"{vurl}/v1/workers", timeout=10).json()["workers"]

        seed_rate = N / rows[0][1]
        print(f"warm: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {os.cpu_count()} cores, "
              f"{N} runs, load {LOAD} s, run {RUN} s, {MODEL_MB} MiB each, sim 24 GiB GPU "
              f"({SLOTS} at once)")
        print("| design | wall s | runs/s | vs seed | of ideal | succeeded |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, secs, ok in rows:
            print(f"| {name} | {secs:.1f} | {N / secs:.2f} | {N / secs / seed_rate:.1f}x | "
                  f"{ideal / secs * 100:.0f} % | {ok}/{N} |")
        print(f"| ideal (one load, then GPU-bound) | {ideal:.1f} | {N / ideal:.2f} | "
              f"{N / ideal / seed_rate:.1f}x | 100 % | - |")
        print(f"added latency per run on a warm worker (50 sequential POST /v1/jobs?wait=, wall "
              f"minus {RUN} s): p50 {statistics.median(lat):.1f} ms, p90 "
              f"{sorted(lat)[int(len(lat) * 0.9)]:.1f} ms, max {max(lat):.1f} ms; of which "
              f"dispatch (job start -> worker start + worker end -> job end): p50 "
              f"{statistics.median(dispatch):.1f} ms, p90 "
              f"{sorted(dispatch)[int(len(dispatch) * 0.9)]:.1f} ms")
        print(f"workers loaded: {len(workers)} (runs served: {sum(w['runs'] for w in workers)})")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
