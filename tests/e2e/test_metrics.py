"""GET /metrics (docs/operations.md, "Metrics"): the Prometheus text format checked by Debian's
promtool, and its counters checked against the jobs the test ran through the real server."""
import re
import subprocess

import requests

from conftest import eventually


def scrape(s, **kw):
    r = s.get("/metrics", **kw)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    check = subprocess.run(["promtool", "check", "metrics"], input=r.text, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    return r.text


def samples(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())))


def test_counters_follow_the_jobs_run(make_server):
    s = make_server("--gpus", "sim:24GiB", "--gpu-poll-ms", "100")
    ok = [s.submit(params={"seconds": 0, "vram_mb": 1000}).json()["id"] for _ in range(3)]
    bad = s.submit(params={"seconds": 0, "exit_code": 3}).json()["id"]
    # One that waits behind a big one, then is cancelled while queued.
    big = s.submit(params={"seconds": 30, "vram_mb": 20000}).json()["id"]
    s.wait_state(big, ["running"])
    waiting = s.submit(params={"seconds": 0, "vram_mb": 20000}).json()["id"]
    for j in ok + [bad]:
        s.wait_job(j)
    text = eventually(lambda: (t := scrape(s)) and value(t, "vramq_jobs_queued") == 1 and t, 10,
                      "the waiting job counted")
    assert value(text, "vramq_jobs_submitted_total", task="fake-model") == 6
    assert value(text, "vramq_jobs_ended_total", task="fake-model", state="succeeded",
                 reason="") == 3
    assert value(text, "vramq_jobs_ended_total", task="fake-model", state="failed",
                 reason="nonzero_exit") == 1
    assert value(text, "vramq_jobs_running") == 1
    assert value(text, "vramq_job_wait_seconds_count", task="fake-model") == 5
    assert value(text, "vramq_job_run_seconds_count", task="fake-model") == 4
    assert value(text, "vramq_job_wait_seconds_bucket", task="fake-model", le="+Inf") == 5
    gib24 = 24 * 1024 ** 3
    uuid = s.get("/v1/gpus").json()["gpus"][0]["uuid"]
    assert value(text, "vramq_gpu_memory_total_bytes", gpu="0", uuid=uuid) == gib24
    assert value(text, "vramq_gpu_memory_reserved_bytes", gpu="0", uuid=uuid) == 20000 * 2 ** 20
    assert value(text, "vramq_gpu_memory_used_bytes", gpu="0", uuid=uuid) == 20000 * 2 ** 20
    assert value(text, "vramq_gpu_known", gpu="0", uuid=uuid) == 1
    assert value(text, "vramq_store_commit_seconds_count") >= 6
    assert value(text, "vramq_store_up") == 1 and value(text, "vramq_ready") == 1
    assert s.delete(f"/v1/jobs/{waiting}").status_code == 200
    s.delete(f"/v1/jobs/{big}")
    s.wait_job(big)
    text = scrape(s)
    assert value(text, "vramq_jobs_ended_total", task="fake-model", state="cancelled",
                 reason="cancelled") == 2
    assert value(text, "vramq_jobs_queued") == 0 and value(text, "vramq_jobs_running") == 0


def test_http_labels_are_templates_never_raw_paths(make_server):
    s = make_server("--gpus", "sim:24GiB")
    job = s.submit(params={"seconds": 0}).json()["id"]
    s.wait_job(job)
    s.get(f"/v1/jobs/{job}/log")
    s.get("/v1/jobs/123456789")
    requests.get(f"{s.url}/v1/jobs/{job}/nothing-here/%0a\"evil", timeout=10)
    requests.request("BREW", f"{s.url}/v1/gpus", timeout=10)
    text = scrape(s)
    routes = {dict(k[1]).get("route") for k in samples(text) if "route" in dict(k[1])}
    assert routes <= {"/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/log", "other", "/healthz",
                      "/metrics", "/v1/gpus"}, routes
    assert value(text, "vramq_http_requests_total", method="GET", route="/v1/jobs/{id}",
                 code="404") == 1
    assert value(text, "vramq_http_requests_total", method="GET", route="/v1/jobs/{id}/log",
                 code="200") == 1
    assert value(text, "vramq_http_requests_total", method="other", route="/v1/gpus",
                 code="405") == 1


def test_warm_workers_and_tokens(make_server, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("metrics-token-0123456789abcdef:prometheus\n")
    tokens.chmod(0o600)
    s = make_server("--gpus", "sim:24GiB", "--token-file", str(tokens))
    assert requests.get(f"{s.url}/metrics", timeout=10).status_code == 401
    auth = {"Authorization": "Bearer metrics-token-0123456789abcdef"}
    r = requests.post(f"{s.url}/v1/jobs", headers=auth, timeout=10,
                      json={"task": "fake-worker", "params": {"seconds": 0, "vram_mb": 100}})
    job = r.json()["id"]
    eventually(lambda: requests.get(f"{s.url}/v1/jobs/{job}", headers=auth, timeout=10)
               .json()["state"] == "succeeded", 30, "the warm run")
    text = eventually(
        lambda: (t := scrape(s, headers=auth))
        and value(t, "vramq_workers", task="fake-worker", state="idle") == 1 and t,
        10, "an idle worker")
    assert value(text, "vramq_worker_loads_total", task="fake-worker") == 1
    assert value(text, "vramq_workers", task="fake-worker", state="busy") == 0
    assert value(text, "vramq_http_requests_total", method="GET", route="/metrics",
                 code="401") == 1
