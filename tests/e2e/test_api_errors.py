"""Bad input gets the right status and a problem body naming the problem, and changes nothing."""
import pytest
import requests

from conftest import SLOW


def rows(server):
    """Every stored job as the API shows it: compared before and after each bad request."""
    return server.get("/v1/jobs?limit=1000").json()["jobs"]


def count_jobs(server):
    return len(rows(server))


@pytest.fixture
def server_with_a_job(server):
    server.submit(params={"seconds": 0, "output": "kept"}, wait=30)
    return server


CASES = [
    # (body or raw bytes, status, text the detail must contain, field)
    (b"{not json", 400, "not valid JSON", None),
    (b'{"task": "fake-model"', 400, "not valid JSON", None),
    (b"[1, 2]", 400, "JSON object", None),
    (b'{"task": "fake-model", "prams": {}}', 400, "prams", "prams"),
    (b"{}", 400, "task", "task"),
    (b'{"task": 5}', 400, "task must be", "task"),
    (b'{"task": "fake-model", "params": []}', 400, "params must be an object", "params"),
    (b'{"task": "fake-model", "priority": "high"}', 400, "priority", "priority"),
    (b'{"task": "fake-model", "priority": 1e9}', 400, "priority", "priority"),
    (b'{"task": "fake-model", "vram_mb": -1}', 400, "vram_mb", "vram_mb"),
    (b'{"task": "fake-model", "timeout_s": 99999999999999999999}', 400, "timeout_s", "timeout_s"),
    (b'{"task": "fake-model", "max_retries": 1000}', 400, "max_retries", "max_retries"),
    (b'{"task": "fake-model", "env": {"VRAMQ_JOB_ID": "1"}}', 400, "set by vramq", "env.VRAMQ_JOB_ID"),
    (b'{"task": "fake-\xff"}', 400, "not valid JSON", None),
    (b'{"task": "no-such-task"}', 422, "unknown task", "task"),
    (b'{"task": "fake-model", "params": {"seconds": -1}}', 422, ">= 0", "params.seconds"),
    (b'{"task": "fake-model", "params": {"vram_mb": 1.5}}', 422, "integer", "params.vram_mb"),
    (b'{"task": "fake-model", "params": {"output": "$(rm -rf /)"}}', 422, "pattern", "params.output"),
    (b'{"task": "fake-model", "params": {"bogus": 1}}', 422, "no parameter", "params.bogus"),
    (b'{"task": "fake-model", "env": {"HOME": "/tmp"}}', 422, "does not let clients set", "env.HOME"),
    (b'{"task": "fake-model", "params": {"vram_mb": 1000000}}', 422, "no GPU", "vram_mb"),
    (b'{"task": "fake-model", "timeout_s": 7200}', 422, "at most 3600", "timeout_s"),
    (b'{"command": ["/bin/true"]}', 403, "raw commands are disabled", "command"),
]


CASES += [
    (b'{"command": [' + b'"x",' * 5000 + b'"x"]}', 400, "1 to 4096", "command"),
    (b'{"task": "' + b"t" * 300 + b'"}', 400, "task must be", "task"),
    (b'{"task": "fake-model", "params": {"seconds": 1e999}}', 422, "finite", "params.seconds"),
    (b'{"task": "fake-model", "params": {"vram_mb": 18446744073709551616}}', 422, "integer",
     "params.vram_mb"),
    (b'{"task": "fake-model", "params": {"vram_mb": 18446744073709551615}}', 400, "too large",
     "params.vram_mb"),
    (b'{"task": "fake-model", "params": {"output": null}}', 400, "number or a string",
     "params.output"),
    (b'{"task": "fake-model", "params": {"exit_code": true}}', 422, "boolean", "params.exit_code"),
    (b'{"task": "fake-model", "env": "HOME=/"}', 400, "env must be an object", "env"),
    (b'', 400, "not valid JSON", None),
]


@pytest.mark.parametrize("body,status,fragment,field", CASES,
                         ids=[f"{i}-{c[1]}-{c[3]}" for i, c in enumerate(CASES)])
def test_bad_submissions(server_with_a_job, body, status, fragment, field):
    server = server_with_a_job
    before = rows(server)
    r = requests.post(server.url + "/v1/jobs", data=body, timeout=30 * SLOW,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    p = r.json()
    assert p["status"] == status and p["title"] and p["type"].startswith("https://")
    assert fragment in p["detail"], p
    if field:
        assert p.get("field") == field, p
    after = rows(server)
    assert after == before, ([(j["id"], j["state"]) for j in before], [(j["id"], j["state"]) for j in after])


def test_body_over_the_limit_is_413(server):
    r = requests.post(server.url + "/v1/jobs", data=b"x" * (2 << 20), timeout=30 * SLOW)
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]
    assert count_jobs(server) == 0


def test_unknown_and_malformed_job_ids_are_404(server):
    for path in ["/v1/jobs/999", "/v1/jobs/abc", "/v1/jobs/-1", "/v1/jobs/0",
                 "/v1/jobs/99999999999999999999999"]:
        r = server.get(path)
        assert r.status_code == 404, path
        assert r.headers["Content-Type"] == "application/problem+json"


def test_unknown_route_is_404_and_wrong_method_405_with_allow(server):
    assert server.get("/v2/nothing").status_code == 404
    r = requests.delete(server.url + "/v1/gpus", timeout=30)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    r = requests.put(server.url + "/v1/jobs", timeout=30)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"


def test_bad_wait_is_400(server):
    for w in ["-1", "abc", "3601"]:
        r = server.post(f"/v1/jobs?wait={w}", {"task": "fake-model"})
        assert r.status_code == 400 and r.json()["field"] == "wait"
    assert count_jobs(server) == 0


def test_queue_full_is_429_with_retry_after(make_server):
    s = make_server("--gpus", "sim:24GiB", "--queue-max", "2")
    blocker = s.submit(params={"seconds": 30, "vram_mb": 23000}).json()
    s.wait_state(blocker["id"], ["running"])
    for _ in range(2):
        assert s.submit(params={"vram_mb": 23000}).status_code == 202
    r = s.submit(params={"vram_mb": 23000})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert "2 jobs waiting" in r.json()["detail"] and "limit is 2" in r.json()["detail"]


def test_tokens_guard_every_route_but_healthz(make_server, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("# team tokens\nsecret-token-0123456789:alice\n")
    s = make_server("--gpus", "sim:24GiB", "--token-file", str(tokens))
    assert s.get("/healthz").status_code == 200
    r = s.get("/v1/gpus")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "none was given" in r.json()["detail"]
    bad = s.get("/v1/gpus", headers={"Authorization": "Bearer secret-token-0123456780"})
    assert bad.status_code == 401 and "not one this server accepts" in bad.json()["detail"]
    wrong = s.cli("gpus", env={"VRAMQ_TOKEN": "secret-token-0123456780"})
    assert wrong.returncode == 3 and "not one this server accepts" in wrong.stderr
    ok = s.get("/v1/gpus", headers={"Authorization": "Bearer secret-token-0123456789"})
    assert ok.status_code == 200
    r = s.cli("gpus", env={"VRAMQ_TOKEN": "secret-token-0123456789"})
    assert r.returncode == 0, r.stderr


# Every route: malformed ids, wrong methods, bad query values. Each gets its documented status
# and a problem naming the problem, and none changes the store.
ROUTE_CASES = [
    ("GET", "/v1/jobs/abc", 404, "positive integers"),
    ("GET", "/v1/jobs/1.5", 404, "positive integers"),
    ("GET", "/v1/jobs/999", 404, "no job 999"),
    ("GET", "/v1/jobs/1?wait=x", 400, "wait"),
    ("GET", "/v1/jobs?state=done", 400, "state"),
    ("GET", "/v1/jobs?limit=-1", 400, "limit"),
    ("GET", "/v1/jobs?before=zero", 400, "before"),
    ("DELETE", "/v1/jobs/abc", 404, "positive integers"),
    ("DELETE", "/v1/jobs/999", 404, "no job 999"),
    ("GET", "/v1/jobs/999/log", 404, "no job 999"),
    ("GET", "/v1/jobs/1/log?stream=stdin", 400, "stream"),
    ("PUT", "/v1/jobs/1", 405, "GET, DELETE"),
    ("PATCH", "/v1/jobs", 405, "GET, POST"),
    ("POST", "/v1/gpus", 405, "GET"),
    ("POST", "/v1/tasks", 405, "GET"),
    ("DELETE", "/healthz", 405, "GET"),
    ("POST", "/readyz", 405, "GET"),
    ("GET", "/run-script", 405, "POST"),
    ("GET", "/v1/jobs/1/log/extra", 404, "no such resource"),
    ("GET", "/%zz", 404, "no such resource"),
]


@pytest.mark.parametrize("method,path,status,fragment", ROUTE_CASES)
def test_bad_requests_on_every_route(server_with_a_job, method, path, status, fragment):
    server = server_with_a_job
    before = rows(server)
    r = requests.request(method, server.url + path, timeout=30 * SLOW)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    assert fragment in r.json()["detail"], r.json()
    if status == 405:
        assert r.headers["Allow"] == fragment
    assert rows(server) == before


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-000000000", "Basic abc", "Bearer "])
@pytest.mark.parametrize("method,path", [("GET", "/v1/jobs"), ("POST", "/v1/jobs"),
                                         ("GET", "/v1/jobs/1"), ("DELETE", "/v1/jobs/1"),
                                         ("GET", "/v1/jobs/1/log"), ("GET", "/v1/gpus"),
                                         ("GET", "/v1/tasks"), ("GET", "/readyz"),
                                         ("POST", "/run-script")])
def test_missing_or_wrong_tokens_are_401_everywhere(make_server, tmp_path, header, method, path):
    tokens = tmp_path / "tokens"
    tokens.write_text("right-token-0123456789\n")
    s = make_server("--gpus", "sim:24GiB", "--token-file", str(tokens), "--allow-raw-commands")
    headers = {"Authorization": header} if header else {}
    r = requests.request(method, s.url + path, headers=headers, json={"task": "fake-model"},
                         timeout=30 * SLOW)
    assert r.status_code == 401 and "token" in r.json()["detail"]
    ok = {"Authorization": "Bearer right-token-0123456789"}
    assert requests.get(s.url + "/v1/jobs", headers=ok, timeout=30).json()["jobs"] == []
