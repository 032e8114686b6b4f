#!/usr/bin/env python3
"""The real-GPU check's assertions (run by check_real_gpu.sh): vramq --gpus nvml on a real NVIDIA
GPU. Standard library only, so it runs with any python3 on the GPU machine.
usage: check_real_gpu.py URL HOLD_VRAM_BINARY"""
import json
import subprocess
import sys
import time
import urllib.request

URL, HOLD = sys.argv[1], sys.argv[2]
failures = []


def call(method, path, body=None):
    req = urllib.request.Request(URL + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + (f": {detail}" if detail else ""), flush=True)
    if not ok:
        failures.append(name)


def submit(argv, **fields):
    status, job = call("POST", "/v1/jobs", {"command": argv, **fields})
    assert status in (200, 202), (status, job)
    return job


def wait(job_id, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, j = call("GET", f"/v1/jobs/{job_id}?wait=10")
        if j["state"] not in ("queued", "running"):
            return j
    raise AssertionError(f"job {job_id} did not end")


# 1. Readings: the same devices and totals as nvidia-smi.
smi = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,memory.total", "--format=csv,noheader,nounits"],
                     capture_output=True, text=True, check=True).stdout.strip().splitlines()
_, gpus = call("GET", "/v1/gpus")
print("vramq sees:", json.dumps(gpus, indent=1))
check("source is nvml", gpus["source"] == "nvml")
check("same GPU count as nvidia-smi", len(gpus["gpus"]) == len(smi), f"{len(gpus['gpus'])} vs {len(smi)}")
for line, g in zip(smi, gpus["gpus"]):
    index, uuid, total = [x.strip() for x in line.split(",")]
    check(f"GPU {index} UUID", g["uuid"] == uuid, f"{g['uuid']} vs {uuid}")
    check(f"GPU {index} total within 1 MiB of nvidia-smi", abs(g["total_mb"] - int(total)) <= 1,
          f"{g['total_mb']} vs {total}")
foreign_before = gpus["gpus"][0]["foreign_mb"]

# 2. Attribution and peak: a job holding 2 GiB is the job's, not foreign.
j = submit([HOLD, "2048", "6"], vram_mb=4096)
seen = None
for _ in range(100):
    _, gpus = call("GET", "/v1/gpus")
    g = next((g for g in gpus["gpus"] if j["id"] in g["jobs"]), None)
    if g and g["used_mb"] >= foreign_before + 2048:
        seen = g
        break
    time.sleep(0.1)
check("the running job's memory shows on its GPU", seen is not None)
if seen:
    print("while the 2 GiB job runs:", json.dumps(seen))
    check("its memory is not counted as foreign", seen["foreign_mb"] < foreign_before + 1024,
          f"foreign {seen['foreign_mb']} MiB (before: {foreign_before})")
done = wait(j["id"])
check("the job succeeded", done["state"] == "succeeded", json.dumps(done)[:400])
check("its peak is at least the 2 GiB it held (plus the CUDA context)",
      (done["peak_vram_mb"] or 0) >= 2048, f"peak {done['peak_vram_mb']} MiB")

# 3. Enforcement: reserves 2 GiB, grows to 6 GiB -> stopped with vram_exceeded.
j = submit([HOLD, "512", "20", "6144"], vram_mb=2048)
done = wait(j["id"])
check("a job growing past its reservation is stopped (vram_exceeded)",
      done["state"] == "failed" and done["reason"] == "vram_exceeded", f"{done['reason']}: {done['error']}")

# 4. A real CUDA out-of-memory death: gpu_oom, retried with 1.5x, then succeeds.
j = submit([HOLD, "512", "1", "0", "1400"], vram_mb=1024, max_retries=1)
done = wait(j["id"])
check("a CUDA out-of-memory death is retried with a larger reservation and then succeeds",
      done["state"] == "succeeded" and done["attempt"] == 2 and done["vram_mb"] == 1536,
      json.dumps({k: done[k] for k in ("state", "attempt", "vram_mb", "warnings")}))
check("the failed attempt was recognised as gpu_oom",
      any("CUDA out of memory" in w for w in done["warnings"]), json.dumps(done["warnings"]))

print("RESULT:", "all passed" if not failures else f"{len(failures)} failed: {failures}")
sys.exit(1 if failures else 0)
