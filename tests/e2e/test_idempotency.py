"""Idempotency-Key: a retried submission gets the first job back, even across a crash."""
import concurrent.futures

import requests

from conftest import SLOW

BODY = {"task": "fake-model", "params": {"seconds": 0.1, "output": "once"}}


def post(server, body, key):
    return requests.post(server.url + "/v1/jobs", json=body, headers={"Idempotency-Key": key},
                         timeout=30 * SLOW)


def test_a_retry_with_the_same_key_and_body_returns_the_first_job(server):
    first = post(server, BODY, "k-1")
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = post(server, BODY, "k-1")
    assert again.status_code in (200, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(server.get("/v1/jobs").json()["jobs"]) == 1


def test_the_same_key_with_another_body_is_409(server):
    assert post(server, BODY, "k-2").status_code == 202
    other = dict(BODY, priority=3)
    r = post(server, other, "k-2")
    assert r.status_code == 409 and r.json()["field"] == "Idempotency-Key"
    assert "another body" in r.json()["detail"]
    assert len(server.get("/v1/jobs").json()["jobs"]) == 1


def test_concurrent_retries_create_one_job(server):
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: post(server, BODY, "k-3"), range(10)))
    assert all(a.status_code in (200, 202) for a in answers)
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(server.get("/v1/jobs").json()["jobs"]) == 1


def test_keys_survive_a_crash(make_server, tmp_path):
    data = tmp_path / "data"
    s = make_server("--gpus", "sim:24GiB", data_dir=data)
    first = post(s, BODY, "k-4").json()
    s.kill9()
    s2 = make_server("--gpus", "sim:24GiB", data_dir=data)
    again = post(s2, BODY, "k-4")
    assert again.json()["id"] == first["id"] and again.headers["Idempotent-Replayed"] == "true"


def test_bad_keys_are_400(server):
    for key in ["x" * 256, "has space"]:
        r = post(server, BODY, key)
        assert r.status_code == 400 and r.json()["field"] == "Idempotency-Key"
    assert server.get("/v1/jobs").json()["jobs"] == []
