#!/usr/bin/python3
"""Crash storm: 4 clients submit jobs, each retrying its request with the same Idempotency-Key
until it is acknowledged, while the server is killed with kill -9 at random moments and started
again on the same data directory, CYCLES times. Then every acknowledged job must be found, no key
may have made two jobs, no job may have run twice, every job must end, and no process may be
left. Usage: bench/crash_storm.sh [CYCLES] (tests/e2e/test_crash_storm.py runs 20)."""
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLOW = 4 if os.environ.get("VRAMQ_SANITIZED") else 1
# Each run appends to `runs` in its job directory (its cwd): two lines would be two runs.
JOB = ["/bin/sh", "-c", "echo ran >> runs; sleep 0.3"]


def request(method, url, body=None, headers=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


class Server:
    def __init__(self, binary, data, log):
        self.binary, self.data, self.log = binary, data, log
        self.proc, self.url = None, None

    def start(self):
        seen = Path(self.log).stat().st_size if Path(self.log).exists() else 0
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--gpus", "sim:24GiB", "--allow-raw-commands",
                 "--listen", "127.0.0.1:0", "--data-dir", str(self.data),
                 "--gpu-lock-dir", str(self.data.parent)],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60 * SLOW
        while time.time() < deadline:
            text = Path(self.log).read_bytes()[seen:].decode(errors="replace")
            found = re.findall(r"listening on (http://[\d.]+:\d+)", text)
            if found and self.proc.poll() is None:
                self.url = found[-1]
                return
            assert self.proc.poll() is None, Path(self.log).read_text()[-3000:]
            time.sleep(0.02)
        raise RuntimeError("the server did not start")

    def kill9(self):
        self.url = None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def list_all(url):
    jobs, before = {}, None
    while True:
        status, page = request("GET", url + "/v1/jobs?limit=500" + (f"&before={before}" if before else ""))
        jobs.update({j["id"]: j for j in page["jobs"]})
        before = page.get("next")
        if not before:
            return jobs


def supervisors_under(root):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"vramq-supervise") and str(root).encode() in b" ".join(cmd):
            out.append(int(d))
    return out


def storm(binary, cycles, workdir, seed=None):
    """Runs the storm; returns what was counted (see the module's docstring)."""
    rng = random.Random(seed)
    data = Path(workdir) / "data"
    server = Server(binary, data, Path(workdir) / "server.log")
    server.start()
    acked = {}  # Idempotency-Key -> job id
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def client(n):
        i = 0
        while not stop.is_set():
            key = f"storm-{n}-{i}"
            while True:  # the same request until it is acknowledged
                url = server.url
                try:
                    if url is None:
                        raise OSError("server down")
                    status, body = request("POST", url + "/v1/jobs", {"command": JOB, "vram_mb": 500},
                                           {"Idempotency-Key": key})
                except OSError:
                    time.sleep(0.05)
                    continue
                if status in (200, 202):
                    with lock:
                        if key in acked and acked[key] != body["id"]:
                            errors.append(f"key {key}: job {acked[key]}, then {body['id']}")
                        acked[key] = body["id"]
                    break
                if status in (429, 503):
                    time.sleep(0.1)
                    continue
                errors.append(f"key {key}: HTTP {status}")
                break
            i += 1
            time.sleep(rng.uniform(0.05, 0.2))

    clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(4)]
    for t in clients:
        t.start()
    try:
        for _ in range(cycles):
            time.sleep(rng.uniform(0.1, 0.8))
            server.kill9()
            server.start()
    finally:
        stop.set()
    for t in clients:
        t.join()
    # Every job to its end (each is 0.3 s; a lost run would end interrupted, not hang).
    deadline = time.time() + 120 * SLOW
    jobs = {}
    while time.time() < deadline:
        jobs = list_all(server.url)
        if all(j["state"] not in ("queued", "running") for j in jobs.values()):
            break
        time.sleep(0.2)
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=60 * SLOW)
    lost = sorted(set(acked.values()) - set(jobs))
    unacked = sorted(set(jobs) - set(acked.values()))
    runs = {}
    for jid in jobs:
        f = data / "jobs" / str(jid) / "runs"
        runs[jid] = len(f.read_text().splitlines()) if f.exists() else 0
    states = {}
    for j in jobs.values():
        name = j["state"] + (f"/{j['reason']}" if j.get("reason") else "")
        states[name] = states.get(name, 0) + 1
    time.sleep(0.5)
    return {
        "cycles": cycles,
        "acknowledged": len(acked),
        "jobs": len(jobs),
        "lost": lost,
        # A key that made two jobs shows as a job no acknowledgement names, or as a client error.
        "keys_with_two_jobs": unacked,
        "errors": errors,
        "ran_twice": sorted(j for j, n in runs.items() if n > 1),
        "not_terminal": sorted(j for j, v in jobs.items() if v["state"] in ("queued", "running")),
        "states": states,
        "processes_left": supervisors_under(data),
    }


def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    binary = os.environ.get("VRAMQ_BIN", str(REPO / "build" / "vramq"))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        try:
            r = storm(binary, cycles, tmp)
        except BaseException:
            kept = Path(tempfile.gettempdir()) / f"crash_storm-{int(time.time())}.log"
            kept.write_bytes((Path(tmp) / "server.log").read_bytes())
            print(f"the storm failed: the server's log is kept in {kept}")
            raise
        took = time.monotonic() - t0
        if set(r["states"]) != {"succeeded"}:  # keep the server's log to see why
            kept = Path(tempfile.gettempdir()) / f"crash_storm-{int(time.time())}.log"
            kept.write_bytes((Path(tmp) / "server.log").read_bytes())
            print(f"not every job succeeded: the server's log is kept in {kept}")
    print(f"crash storm: {cycles} kill -9 cycles in {took:.0f} s, {r['acknowledged']} jobs "
          f"acknowledged, {r['jobs']} in the store; states {r['states']}")
    print("| acknowledged lost | keys with two jobs | ran twice | not terminal | processes left |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {len(r['lost'])} | {len(r['keys_with_two_jobs']) + len(r['errors'])} | "
          f"{len(r['ran_twice'])} | {len(r['not_terminal'])} | {len(r['processes_left'])} |")
    bad = r["lost"] or r["keys_with_two_jobs"] or r["errors"] or r["ran_twice"] or \
        r["not_terminal"] or r["processes_left"]
    if bad:
        print(json.dumps(r, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
