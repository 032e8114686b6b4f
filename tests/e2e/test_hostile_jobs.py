"""A job is untrusted code: whatever it does to the files it can touch (its logs, its progress
file, its simulated VRAM report) never wedges the server nor makes it read a file through a link
the job planted."""
import stat
import time

from conftest import SLOW, eventually

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"


def headers(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_job_that_turns_its_files_into_fifos_wedges_nothing(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    # Each of these was read with a blocking open: a reader of the log (the log route, the
    # dashboard's job page) then held the one file thread for good.
    script = ('cd "$VRAMQ_JOB_DIR" && rm -f stdout.log stderr.log "$VRAMQ_PROGRESS_FILE" '
              '"$VRAMQ_SIM_VRAM_FILE" && mkfifo stdout.log stderr.log "$VRAMQ_PROGRESS_FILE" '
              '"$VRAMQ_SIM_VRAM_FILE" && sleep 4')
    job = s.post("/v1/jobs", {"command": ["/bin/sh", "-c", script]}).json()
    log = s.data_dir / "jobs" / str(job["id"]) / "stdout.log"
    eventually(lambda: log.exists() and stat.S_ISFIFO(log.lstat().st_mode), 10,
               "the job did not put a FIFO in place of its log")
    for stream in ("stdout", "stderr"):
        for follow in ("0", "1"):
            r = s.get(f"/v1/jobs/{job['id']}/log?stream={stream}&follow={follow}",
                      timeout=10 * SLOW)
            assert r.status_code == 200 and r.content == b"", (stream, follow, r.content)
    # Everything that needs the file thread still answers: a job's end (its output), a file
    # listing, another job's log, the first job's own end.
    other = s.post("/v1/jobs?wait=30", {"command": ["/bin/echo", "still here"]},
                   timeout=40 * SLOW).json()
    assert other["state"] == "succeeded" and other["output"] == "still here\n", other
    assert s.get(f"/v1/jobs/{other['id']}/log", timeout=10 * SLOW).content == b"still here\n"
    assert s.get(f"/v1/jobs/{job['id']}/files", timeout=10 * SLOW).status_code == 200
    ended = s.wait_job(job["id"])
    assert ended["state"] == "succeeded" and ended["output"] == "", ended
    assert s.get("/readyz").status_code == 200


def test_a_job_cannot_read_what_its_files_link_to(make_server, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{ALICE}:alice\n{BOB}:bob\n")
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--token-file", str(tokens))
    # Bob's job links its logs and progress file to the token file, then fails (so that its
    # stderr's tail is read too): none of it may come back to Bob.
    script = (f'cd "$VRAMQ_JOB_DIR" && ln -sf {tokens} stdout.log.new && mv stdout.log.new '
              f'stdout.log && ln -sf {tokens} stderr.log.new && mv stderr.log.new stderr.log && '
              f'ln -sf {tokens} "$VRAMQ_PROGRESS_FILE" && sleep 1 && exit 3')
    job = s.post("/v1/jobs?wait=30", {"command": ["/bin/sh", "-c", script]},
                 headers=headers(BOB), timeout=40 * SLOW).json()
    assert job["state"] == "failed" and job["exit_code"] == 3, job
    assert ALICE not in str(job), job
    for stream in ("stdout", "stderr"):
        r = s.get(f"/v1/jobs/{job['id']}/log?stream={stream}", headers=headers(BOB))
        assert r.status_code == 200 and ALICE.encode() not in r.content, r.content
    r = s.get(f"/v1/jobs/{job['id']}/files/stdout.log", headers=headers(BOB))
    assert r.status_code == 403 and ALICE.encode() not in r.content
    # A running job's progress and measured use are read from its files at each poll too.
    live = s.post("/v1/jobs", {"command": ["/bin/sh", "-c", script.replace("exit 3", "sleep 3")]},
                  headers=headers(BOB)).json()
    view = lambda: s.get(f"/v1/jobs/{live['id']}", headers=headers(BOB)).json()  # noqa: E731
    eventually(lambda: view()["state"] == "running", 10, "the second job did not start")
    time.sleep(1.5)
    assert ALICE not in str(view())
    ended = eventually(lambda: view()["state"] not in ("queued", "running") and view(), 20,
                       "the second job did not end")
    assert ended["state"] == "succeeded" and ALICE not in str(ended), ended
