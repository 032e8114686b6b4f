"""Submit-to-start latency and jobs/s through Slurm vs the local executor, side by side in one
run: the same N raw jobs (`sleep RUN_S`, 1 GiB each, so that all could run at once on 2 x 24 GiB
GPUs) submitted as fast as one client can to (a) vramq --executor local with 2 simulated 24 GiB
GPUs and (b) vramq --executor slurm on a real one-node Slurm cluster started here (2 fake GPUs of
24 shards of 1 GiB; tests/e2e/slurm_cluster.py). Latency: started_at - submitted_at of each job,
as vramq records it (Slurm's start times have one-second resolution). Jobs/s: N divided by the
time from the first submit to the last end. Usage: bench/slurm.py [N] [RUN_S] [POLL_MS]"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from slurm_cluster import Cluster  # noqa: E402

from bench_util import free_port

BIN = os.environ.get("VRAMQ_BIN", str(REPO / "build" / "vramq"))



def ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run(name, args, env, n, run_s, root):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(root / f"{name}.log", "wb")
    proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                             str(root / name), "--allow-raw-commands", *args],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(200):
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        http = requests.Session()
        t0 = time.time()
        ids = []
        for _ in range(n):
            r = http.post(url + "/v1/jobs", json={"command": ["/bin/sleep", str(run_s)],
                                                  "vram_mb": 1024})
            assert r.status_code in (201, 202), r.text
            ids.append(r.json()["id"])
        jobs = []
        for i in ids:
            while True:
                j = http.get(f"{url}/v1/jobs/{i}?wait=30").json()
                if j["state"] not in ("queued", "running"):
                    break
            assert j["state"] == "succeeded", j
            jobs.append(j)
        last_end = max(ts(j["finished_at"]) for j in jobs)
        waits = sorted(ts(j["started_at"]) - ts(j["submitted_at"]) for j in jobs)
        return {"name": name, "median_ms": statistics.median(waits) * 1000,
                "p95_ms": waits[int(0.95 * (len(waits) - 1))] * 1000,
                "jobs_s": n / (last_end - t0)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    run_s = sys.argv[2] if len(sys.argv) > 2 else "0.5"
    poll_ms = sys.argv[3] if len(sys.argv) > 3 else "200"
    root = Path(tempfile.mkdtemp(prefix="vramq-bench-slurm-"))
    cluster = Cluster(root / "cluster")
    cluster.start()
    try:
        results = [
            run("local", ["--gpus", "sim:2x24GiB", "--vram-buffer-mb", "0"], None, n, run_s, root),
            run("slurm", ["--executor", "slurm", "--slurm-poll-ms", poll_ms], cluster.env, n,
                run_s, root),
        ]
    finally:
        cluster.stop()
    base = results[0]
    print(f"{n} jobs of `sleep {run_s}` (1 GiB each), Slurm polled every {poll_ms} ms")
    print("| executor | submit-to-start median ms | p95 ms | jobs/s | jobs/s vs local |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['name']} | {r['median_ms']:.0f} | {r['p95_ms']:.0f} | {r['jobs_s']:.1f} | "
              f"{r['jobs_s'] / base['jobs_s']:.2f}x |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
