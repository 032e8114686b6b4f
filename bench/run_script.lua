-- wrk: the seed's request, a trivial job through POST /run-script (same body for both servers).
wrk.method = "POST"
wrk.body = '{"command": ["/bin/true"]}'
wrk.headers["Content-Type"] = "application/json"
