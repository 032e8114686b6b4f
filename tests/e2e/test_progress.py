"""Progress of a running job (docs/api.md, the job's `progress`), read without the script's help:
tqdm bars on its stderr (a script that draws them as tqdm's format_meter documents, with the
standard library only), explicit reports to VRAMQ_PROGRESS_FILE, and a warm worker's `progress`
messages; shown on the job and in its events."""
import sys
import textwrap
import time
from pathlib import Path

from conftest import SLOW, eventually
from test_events import Listener

# tqdm's default bar (tqdm.format_meter): "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}
# [{elapsed}<{remaining}, {rate_fmt}{postfix}]", each redraw after '\r'; ascii bars use '#'.
# Elapsed time is made up (0.1 s per step) so that rate and remaining are known exactly.
SCRIPT = textwrap.dedent(r'''
    import json, os, sys, time
    job_dir = os.environ["VRAMQ_JOB_DIR"]
    total = 100

    def interval(t):
        m, s = divmod(int(t), 60)
        h, m = divmod(m, 60)
        return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"

    def bar(n):
        elapsed = n * 0.1
        rate = n / elapsed if elapsed else None
        remaining = interval((total - n) / rate) if rate else "?"
        rate_fmt = f"{rate:5.2f}it/s" if rate else "?it/s"
        filled = n * 10 // total
        return (f"\rMeshing: {n * 100 / total:3.0f}%|{'#' * filled}{' ' * (10 - filled)}| "
                f"{n}/{total} [{interval(elapsed)}<{remaining}, {rate_fmt}]")

    def wait_for(name):
        while not os.path.exists(os.path.join(job_dir, name)):
            time.sleep(0.02)

    print("loading the model", file=sys.stderr, flush=True)
    for n in range(0, 51):
        sys.stderr.write(bar(n))
        sys.stderr.flush()
        time.sleep(0.002)
    wait_for("step1")
    with open(os.environ["VRAMQ_PROGRESS_FILE"], "a") as f:
        f.write(json.dumps({"fraction": 0.75, "message": "marching cubes"}) + "\n")
        f.write("not json at all\n")
        f.write('{"fraction": 7}\n')
    sys.stderr.write(bar(90))
    sys.stderr.flush()
    open(os.path.join(job_dir, "wrote90"), "w").close()
    wait_for("step2")
    sys.stderr.write(bar(100) + "\n")
    print("done")
''')


def test_tqdm_bars_then_explicit_reports(make_server, tmp_path):
    script = tmp_path / "model.py"
    script.write_text(SCRIPT)
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--gpu-poll-ms", "100")
    job = s.post("/v1/jobs", {"command": [sys.executable, str(script)], "vram_mb": 100}).json()
    listener = Listener(s, f"?job={job['id']}")
    try:
        job_dir = Path(job["job_dir"])

        def progress():
            return s.job(job["id"])["progress"]

        p = eventually(lambda: (q := progress()) and q["fraction"] == 0.5 and q, 15,
                       "the tqdm bar at 50%")
        assert p["current"] == 50 and p["total"] == 100 and p["unit"] == "it"
        assert p["rate"] == 10 and p["eta_s"] == 5 and p["message"] == "Meshing"
        assert p["updated_at"].endswith("Z")
        (job_dir / "step1").touch()
        p = eventually(lambda: (q := progress()) and q["fraction"] == 0.75 and q, 15,
                       "the explicit report")
        assert p["message"] == "marching cubes" and p["current"] is None
        assert p["eta_s"] is not None and p["eta_s"] >= 0, "estimated from its pace"
        # Once a job reports explicitly, its tqdm bars no longer count; bad lines never do.
        eventually(lambda: (job_dir / "wrote90").exists(), 10, "the 90% bar")
        time.sleep(0.5 * SLOW)
        assert progress()["fraction"] == 0.75
        (job_dir / "step2").touch()
        done = s.wait_job(job["id"])
        assert done["state"] == "succeeded" and done["progress"] is None
        listener.wait_for(lambda ev: ev and ev[-1][2]["state"] == "succeeded", 10, "the end")
        seen = [d["progress"]["fraction"] for _, _, d in listener.events if d["progress"]]
        assert 0.5 in seen and seen[-1] == 0.75, seen
    finally:
        listener.close()


def test_a_warm_workers_progress_messages(make_server):
    s = make_server("--gpus", "sim:24GiB", "--gpu-poll-ms", "100")
    listener = Listener(s, "?types=job")
    try:
        job = s.submit("fake-worker", params={"seconds": 2, "vram_mb": 100}).json()
        listener.wait_for(lambda ev: any(d["progress"] for _, _, d in ev), 30,
                          "a progress message published")
        p = next(d["progress"] for _, _, d in listener.events if d["progress"])
        assert p["message"] == "denoising" and 0 < p["fraction"] < 1
        assert s.wait_job(job["id"], timeout=60)["state"] == "succeeded"
    finally:
        listener.close()


def test_malformed_progress_is_never_fatal(make_server, tmp_path):
    script = tmp_path / "noise.py"
    script.write_text(textwrap.dedent(r'''
        import os, sys
        sys.stderr.buffer.write(b"\r 45%|\xff\xfe broken | x/y [??]\r\x1b[A\x1b[2K" + b"|" * 5000)
        with open(os.environ["VRAMQ_PROGRESS_FILE"], "wb") as f:
            f.write(b'{"fraction": NaN}\n{"message": "\xff\xfe"}\n' + b"[" * 10000 + b"\n")
        import time; time.sleep(0.5)
        print("survived")
    '''))
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--gpu-poll-ms", "50")
    job = s.post("/v1/jobs", {"command": [sys.executable, str(script)], "vram_mb": 100}).json()
    done = s.wait_job(job["id"])
    assert done["state"] == "succeeded" and done["output"].strip() == "survived"
