"""What happens to a job's processes, with a fake model that misbehaves as real runs do: helpers
left running in its process group when its main process exits are killed with it, and a job that
ignores SIGTERM is killed with SIGKILL after --kill-grace-s. Raw commands run the fake model
directly, so its misbehaviour flags reach it."""
import time
from pathlib import Path

from conftest import BIN, SLOW, all_gone, helper_pids

FAKE_MODEL = str(Path(BIN).parent / "vramq-fake-model")


def test_helpers_left_behind_die_with_the_main_process(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    cmd = [FAKE_MODEL, "--seconds", "0.5", "--children", "2", "--leave-children", "1",
           "--out-dir", "."]
    job = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000}).json()
    pids = helper_pids(s.data_dir, job["id"], 2)
    done = s.wait_job(job["id"])
    assert done["state"] == "succeeded", done
    assert all_gone(pids), f"helpers {pids} outlived their job"


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--kill-grace-s", "1")
    cmd = [FAKE_MODEL, "--seconds", "60", "--children", "1", "--ignore-sigterm", "1",
           "--out-dir", "."]
    job = s.post("/v1/jobs", {"command": cmd, "vram_mb": 1000}).json()
    pids = helper_pids(s.data_dir, job["id"], 1)
    s.wait_state(job["id"], ["running"])
    asked = time.time()
    assert s.delete(f"/v1/jobs/{job['id']}").status_code == 202
    done = s.wait_job(job["id"], timeout=15)
    took = time.time() - asked
    assert done["state"] == "cancelled" and done["signal"] == 9, done  # SIGTERM was ignored
    assert 0.9 <= took <= 10 * SLOW, took  # after the 1 s grace, not after its 60 s run
    assert all_gone(pids)
