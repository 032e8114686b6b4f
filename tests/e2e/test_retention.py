"""Retention (issue 11): ended jobs' rows and directories are removed once they are older than
--retain-ended or beyond the newest --retain-ended-count, in the background; live jobs and
learned footprints stay, and a removed job's id is never handed out again."""
from conftest import eventually


def test_ended_jobs_past_the_age_are_removed_with_their_directories(make_server):
    s = make_server("--gpus", "sim:24GiB", "--retain-ended", "2s", "--retention-interval-s", "1")
    ended = [s.submit(wait=30, params={"seconds": 0}).json()["id"] for _ in range(3)]
    live = s.submit(params={"seconds": 60}).json()["id"]
    s.wait_state(live, ["running"])
    dirs = [s.data_dir / "jobs" / str(i) for i in ended]
    assert all(d.is_dir() for d in dirs)
    eventually(lambda: all(s.get(f"/v1/jobs/{i}").status_code == 404 for i in ended), 15,
               "ended jobs were not removed")
    eventually(lambda: not any(d.exists() for d in dirs), 10, "their directories stay")
    assert s.job(live)["state"] == "running"
    assert "retention: removed 3 ended jobs" in s.log_path.read_text()
    s.delete(f"/v1/jobs/{live}")
    s.stop()
    s.start()
    new = s.submit(params={"seconds": 0}).json()["id"]
    assert new == live + 1, "a removed job's id must never come back"


def test_only_the_newest_ended_jobs_are_kept_by_count(make_server):
    s = make_server("--gpus", "sim:24GiB", "--retain-ended", "0", "--retain-ended-count", "2",
                    "--retention-interval-s", "1")
    ids = [s.submit(wait=30, params={"seconds": 0}).json()["id"] for _ in range(5)]
    eventually(lambda: s.get(f"/v1/jobs/{ids[2]}").status_code == 404, 15,
               "the count cap was not applied")
    assert [s.get(f"/v1/jobs/{i}").status_code for i in ids] == [404, 404, 404, 200, 200]
    listed = [j["id"] for j in s.get("/v1/jobs").json()["jobs"]]
    assert listed == [ids[4], ids[3]]
