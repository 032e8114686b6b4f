"""VRAM-aware admission over real HTTP, judged by the jobs' own recorded start and end times."""
from conftest import result_of


def intervals(server, ids):
    out = []
    for i in ids:
        job = server.wait_job(i, timeout=60)
        assert job["state"] == "succeeded", job
        r = result_of(job)
        out.append((r["started_ms"], r["finished_ms"]))
    return out


def overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def test_two_jobs_that_do_not_fit_together_never_overlap(server):
    # 24 GiB GPU, 1 GiB buffer: 12 GiB + 12 GiB + 1 GiB > 24 GiB.
    ids = [server.submit(params={"seconds": 1, "vram_mb": 12288}).json()["id"] for _ in range(2)]
    a, b = intervals(server, ids)
    assert not overlap(a, b), (a, b)


def test_two_jobs_that_fit_together_do_overlap(server):
    ids = [server.submit(params={"seconds": 1.5, "vram_mb": 8192}).json()["id"] for _ in range(2)]
    a, b = intervals(server, ids)
    assert overlap(a, b), (a, b)


def test_a_queued_job_says_why_and_where_it_waits(server):
    blocker = server.submit(params={"seconds": 3, "vram_mb": 20000}).json()
    server.wait_state(blocker["id"], ["running"])
    waiting = server.submit(params={"seconds": 0.1, "vram_mb": 8000}).json()
    assert waiting["state"] == "queued"
    assert waiting["queue_position"] == 0 and waiting["pending_reason"] == "vram"
    gpus = server.get("/v1/gpus").json()
    assert gpus["buffer_mb"] == 1024
    g = gpus["gpus"][0]
    assert g["reserved_mb"] == 20000 and g["jobs"] == [blocker["id"]]
    assert g["available_mb"] == 24576 - 20000 - 1024
    assert server.wait_job(waiting["id"])["state"] == "succeeded"


def test_priority_goes_first(server):
    blocker = server.submit(params={"seconds": 3, "vram_mb": 23000}).json()
    server.wait_state(blocker["id"], ["running"])
    low = server.submit(params={"seconds": 0.5, "vram_mb": 23000}).json()
    high = server.submit(params={"seconds": 0.5, "vram_mb": 23000}, priority=5).json()
    assert server.job(high["id"])["queue_position"] == 0
    assert server.job(low["id"])["queue_position"] == 1
    a, b = intervals(server, [high["id"], low["id"]])
    assert a[1] <= b[0]


def test_a_need_no_gpu_can_meet_is_refused_at_once(server):
    r = server.submit(params={"vram_mb": 24000})
    assert r.status_code == 422
    p = r.json()
    assert p["field"] == "vram_mb" and "24000" in p["detail"]
    assert r.headers["Content-Type"] == "application/problem+json"


def test_measured_use_above_the_reservation_counts_for_admission(server):
    import time
    from conftest import SLOW
    # Reserves 2000 MiB but reports 20000 MiB in use: admission must count the 20000.
    greedy = server.submit(params={"seconds": 3, "vram_mb": 20000}, vram_mb=2000).json()
    deadline = time.time() + 10 * SLOW
    while server.get("/v1/gpus").json()["gpus"][0]["committed_mb"] < 20000:
        assert time.time() < deadline, "the job's report never reached the GPU reading"
        time.sleep(0.05)
    waiting = server.submit(params={"seconds": 0.1, "vram_mb": 8000}).json()
    assert waiting["state"] == "queued" and waiting["pending_reason"] == "vram", waiting
    a, b = intervals(server, [greedy["id"], waiting["id"]])
    assert not overlap(a, b)
    assert server.job(greedy["id"])["peak_vram_mb"] == 20000


def test_a_full_queue_still_admits_a_job_that_starts_at_once(make_server):
    s = make_server("--gpus", "sim:24GiB", "--queue-max", "2")
    blocker = s.submit(params={"seconds": 30, "vram_mb": 12000}).json()
    s.wait_state(blocker["id"], ["running"])
    big = [s.submit(params={"seconds": 0, "vram_mb": 20000}).json() for _ in range(2)]
    assert all(j["state"] == "queued" for j in big)
    r = s.submit(params={"seconds": 0, "vram_mb": 20000})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1, r.text
    # 24576 - 1024 - 12000 = 11552 MiB free now: a 4000 MiB job starts at once, queue or no queue.
    d = s.post("/v1/jobs?dry_run=1", {"task": "fake-model", "params": {"vram_mb": 4000}}).json()
    assert d["decision"] == "admit", d
    small = s.submit(params={"seconds": 0, "vram_mb": 4000}, wait=30)
    assert small.status_code == 200 and small.json()["state"] == "succeeded", small.text
    # A burst of such jobs, all at once, is admitted only as far as the free room goes: each
    # one admitted speaks for its room before the next is judged.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(
            lambda _: s.submit(params={"seconds": 5, "vram_mb": 4000}).status_code, range(8)))
    assert sorted(codes) == [202] * 2 + [429] * 6, codes
    s.delete(f"/v1/jobs/{blocker['id']}")
