"""Submit-to-start latency on an idle simulated GPU (issue 23): RUNS sequential jobs, each
`/bin/date +%s%N` (its output is the job's own clock when it ran), submitted with
POST /v1/jobs?wait=30 over one kept-alive connection. Two figures per job:
  - client to job: from just before the client sends the request to the job's clock reading
    (HTTP, the durable submit, the scheduling pass, the supervisor's start, the job's own exec);
  - server: started_at - submitted_at as the server records them (ms resolution).
With BASELINE_BIN=path/to/an/older/vramq that build is measured the same way in the same run.
DATA_BASE: where the data directories go (default: a fresh directory under /tmp).
A third row starts the same job straight from the bench (subprocess): the part that is the
job's own exec. Usage: bench/start_latency.py [RUNS]   (default 200)"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench_util import free_port, wait_listening

ROOT = Path(__file__).resolve().parent.parent



def ts_ms(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def measure(binary, data_dir, runs):
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--gpus", "sim:24GiB", "--allow-raw-commands",
                             "--default-vram-mb", "0", "--listen", f"127.0.0.1:{port}",
                             "--data-dir", str(data_dir), "--stop-jobs-on-exit"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = json.dumps({"command": ["/bin/date", "+%s%N"]})
        client, server = [], []
        for i in range(runs + 20):  # the first 20 warm up (the launcher, caches)
            t0 = time.time_ns()
            conn.request("POST", "/v1/jobs?wait=30", body, {"Content-Type": "application/json"})
            job = json.loads(conn.getresponse().read())
            if job.get("state") != "succeeded":
                raise SystemExit(f"{binary}: job did not succeed: {job}")
            if i < 20:
                continue
            client.append((int(job["output"]) - t0) / 1e6)
            server.append(ts_ms(job["started_at"]) - ts_ms(job["submitted_at"]))
        return client, server
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def floor(runs):
    """The same job started straight from this process (no server): what its own exec costs."""
    out = []
    for _ in range(runs):
        t0 = time.time_ns()
        r = subprocess.run(["/bin/date", "+%s%N"], capture_output=True, text=True, check=True)
        out.append((int(r.stdout) - t0) / 1e6)
    return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    targets = [("vramq", str(ROOT / "build" / "vramq"))]
    if os.environ.get("BASELINE_BIN"):
        targets.append(("baseline", os.environ["BASELINE_BIN"]))
    print(f"start latency: {datetime.utcnow():%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} cores, "
          f"{runs} sequential jobs each, data under {os.environ.get('DATA_BASE', '/tmp')}")
    print("| target | client to job p50 ms | p95 ms | server started - submitted p50 ms | p95 ms |")
    print("| --- | --- | --- | --- | --- |")
    spawned = floor(runs)
    print(f"| the job spawned directly (no server) | {statistics.median(spawned):.2f} | "
          f"{pct(spawned, 95):.2f} | - | - |")
    with tempfile.TemporaryDirectory(dir=os.environ.get("DATA_BASE")) as tmp:
        for name, binary in targets:
            client, server = measure(binary, Path(tmp) / name, runs)
            print(f"| {name} | {statistics.median(client):.2f} | {pct(client, 95):.2f} | "
                  f"{statistics.median(server):.1f} | {pct(server, 95):.1f} |")


if __name__ == "__main__":
    main()
