-- wrk: durable submits that stay queued (the first job holds the only GPU for an hour).
wrk.method = "POST"
wrk.path = "/v1/jobs"
wrk.body = '{"command": ["/bin/sleep", "3600"]}'
wrk.headers["Content-Type"] = "application/json"
