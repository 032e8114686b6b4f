-- wrk: a trivial job through vramq's own API, answered when it ends (POST /v1/jobs?wait=30).
wrk.method = "POST"
wrk.path = "/v1/jobs?wait=30"
wrk.body = '{"command": ["/bin/true"]}'
wrk.headers["Content-Type"] = "application/json"
