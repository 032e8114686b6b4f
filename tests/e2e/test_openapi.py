"""docs/openapi.json is what the server does: every route answers as documented (the harness
checks every response the other tests see, too), and the checker itself catches a mismatch."""
import json

import pytest
import requests

from conftest import OPENAPI, check_contract


class FakeResponse:
    def __init__(self, status, body, ctype="application/json"):
        self.status_code = status
        self.headers = {"Content-Type": ctype}
        self._body = body

    def json(self):
        return self._body


def test_every_ref_resolves_and_every_operation_lists_responses():
    text = json.dumps(OPENAPI)
    for ref in set(part.split('"')[0] for part in text.split('"$ref": "')[1:]):
        node = OPENAPI
        for key in ref.removeprefix("#/").split("/"):
            node = node[key]
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (method, path)


def test_the_checker_catches_mismatches():
    with pytest.raises(AssertionError):
        check_contract("GET", "/v1/gpus", FakeResponse(418, {}))
    with pytest.raises(Exception):
        check_contract("GET", "/v1/jobs/1", FakeResponse(200, {"id": 1, "state": "queued"}))
    with pytest.raises(Exception):
        check_contract("GET", "/v1/gpus", FakeResponse(200, {"gpus": [], "buffer_mb": "x", "source": "sim"}))


def test_a_sweep_of_every_route(make_server, tmp_path):
    s = make_server("--gpus", "sim:2x24GiB", "--allow-raw-commands")
    s.get("/healthz")
    s.get("/readyz")
    s.get("/v1/gpus")
    s.get("/v1/tasks")
    done = s.post("/v1/jobs?wait=30", {"task": "fake-model", "params": {"seconds": 0}}).json()
    failed = s.post("/v1/jobs?wait=30", {"command": ["/bin/false"]}).json()
    s.post("/v1/jobs?dry_run=1", {"task": "fake-model"})
    s.post("/v1/jobs?dry_run=1", {"task": "nope"})
    queued = s.post("/v1/jobs", {"task": "fake-model", "params": {"seconds": 30}, "priority": -5}).json()
    s.get(f"/v1/jobs/{done['id']}")
    s.get(f"/v1/jobs/{failed['id']}")
    s.get("/v1/jobs?limit=2")
    s.get("/v1/jobs?state=succeeded,failed")
    s.delete(f"/v1/jobs/{queued['id']}")
    s.delete(f"/v1/jobs/{queued['id']}")
    s.delete("/v1/jobs/999")
    r = requests.get(f"{s.url}/v1/jobs/{done['id']}/log", timeout=30)
    check_contract("GET", f"/v1/jobs/{done['id']}/log", r)
    s.post("/run-script", {"command": ["/bin/echo", "x"]})
    s.post("/run-script", {"command": ["/bin/false"]})
    s.post("/run-script", {})
    assert s.post("/v1/jobs", {"task": "fake-model", "bogus": 1}).status_code == 400
