#!/usr/bin/python3
"""Recovery time and resident memory: vramq's RSS when idle, then the time from start to ready
and the RSS with N jobs queued in the store (rows written straight into SQLite, as a crashed
server would leave them). Usage: bench/recovery_memory.py [N] [RUNS]"""
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = os.environ.get("VRAMQ_BIN", str(REPO / "build" / "vramq"))


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(data, log):
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "serve", "--gpus", "sim:24GiB", "--listen", "127.0.0.1:0",
                          "--data-dir", str(data)], stdout=log, stderr=subprocess.STDOUT)
    url = None
    while time.monotonic() - t0 < 120:
        m = re.findall(r"listening on (http://[\d.]+:\d+)", Path(log.name).read_text())
        if m:
            url = m[-1]
            try:
                if urllib.request.urlopen(url + "/readyz", timeout=5).status == 200:
                    return p, time.monotonic() - t0
            except OSError:
                pass
        time.sleep(0.005)
    raise RuntimeError("vramq did not get ready")


def stop(p):
    p.send_signal(signal.SIGKILL)  # as after a crash: nothing is cleaned up on the way out
    p.wait()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        log = open(Path(tmp) / "log", "w+b")
        p, _ = start(data, log)
        time.sleep(0.5)
        idle = rss_mib(p.pid)
        stop(p)
        db = sqlite3.connect(data / "vramq.db")
        now = int(time.time() * 1000)
        db.executemany(
            "INSERT INTO jobs (id, state, argv, vram_mb, submitted_at, queued_at) "
            "VALUES (?, 'queued', '[\"/bin/sleep\",\"3600\"]', 23000, ?, ?)",
            ((i, now, now) for i in range(1, n + 1)))
        db.commit()
        db.close()
        times, rss = [], []
        for _ in range(runs):
            p, t = start(data, log)
            times.append(t)
            time.sleep(0.5)
            rss.append(rss_mib(p.pid))
            stop(p)
            subprocess.run(["pkill", "-f", "/bin/sleep 3600"], check=False)
        print(f"idle RSS: {idle:.1f} MiB")
        print(f"{n} queued jobs: start to ready median {statistics.median(times):.3f} s "
              f"(runs: {', '.join(f'{t:.3f}' for t in times)}); RSS median "
              f"{statistics.median(rss):.1f} MiB")


if __name__ == "__main__":
    main()
