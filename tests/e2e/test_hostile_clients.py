"""Clients that try to take the server down (issue 11): idle connections by the thousand, bodies
sent without a token, followers and waiters that leave, smuggled framing. Each reproduction of the
review's attack is a test: the server stays up, answers others, and gives back what they held."""
import os
import resource
import socket
import time

import requests

from conftest import eventually, SLOW
from test_http_hardening import connect, read_all

TOKEN = "hostile-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def token_server(make_server, tmp_path, *args, **kw):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}:ann\n")
    tokens.chmod(0o600)
    return make_server("--gpus", "sim:24GiB", "--token-file", str(tokens), *args, **kw)


def tcp_sockets_of(pid):
    """The server's TCP sockets (its unix sockets to job supervisors do not count)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    tcp = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).readlines()[1:]:
            tcp.add(line.split()[9])
    return len(inodes & tcp)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def open_idle(server, count, source="127.0.0.1"):
    """`count` connections that send nothing; those the kernel cannot even queue are skipped."""
    host, port = server.url.removeprefix("http://").split(":")
    held = []
    for _ in range(count):
        s = socket.socket()
        s.settimeout(1)
        try:
            s.bind((source, 0))
            s.connect((host, int(port)))
            held.append(s)
        except OSError:
            s.close()
    return held


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_idle_connections_under_a_low_open_file_limit_do_not_take_the_server_down(make_server):
    s = make_server("--gpus", "sim:24GiB", "--first-request-timeout-s", "1", preexec=low_nofile)
    log = s.log_path.read_text()
    assert "max_connections 4096 lowered to" in log, log
    pid = s.proc.pid
    log_size = s.log_path.stat().st_size
    cpu0 = cpu_seconds(pid)
    started = time.time()
    held = open_idle(s, 400)  # far more than the server has descriptors for
    assert len(held) > 250
    time.sleep(2)
    # No spin (the review saw 100 % CPU) and no flood (1.7 M log lines in 10 s).
    busy = (cpu_seconds(pid) - cpu0) / (time.time() - started)
    # A spinning loop takes a whole CPU, sanitized or not: the bound stays under one.
    limit = 0.8 if SLOW > 1 else 0.5
    assert busy < limit, f"the server used {busy:.0%} of a CPU with idle clients"
    assert s.log_path.stat().st_size - log_size < 20000, "the log is flooded"
    # The idle ones are dropped after the first-request timeout: others are served again, and a
    # job starts (its supervisor needs descriptors too) instead of failing spawn_failed.
    eventually(lambda: requests.get(s.url + "/healthz", timeout=5).status_code == 200, 10,
               "the server does not answer while idle connections are held")
    job = s.submit(wait=30, params={"seconds": 0}).json()
    assert job["state"] == "succeeded", job
    for h in held:
        h.close()


def test_connections_are_capped_per_client_address(make_server):
    # Idle connections are closed only after two minutes here: the extra one must be refused by
    # the cap at once, not closed later by the idle timeout (as it would be without a cap).
    s = make_server("--gpus", "sim:24GiB", "--max-connections-per-client", "5",
                    "--first-request-timeout-s", "120")
    held = open_idle(s, 5)
    assert len(held) == 5
    extra = open_idle(s, 1)[0]
    extra.settimeout(5 * SLOW)
    answer = read_all(extra)
    assert answer.startswith(b"HTTP/1.1 503"), answer
    assert b"this client address already has 5 connections" in answer, answer
    # Another address is another client (127.0.0.2 is loopback too).
    other = open_idle(s, 1, source="127.0.0.2")[0]
    other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    other.settimeout(10 * SLOW)
    assert read_all(other).startswith(b"HTTP/1.1 200")
    for h in held:
        h.close()


def test_a_connection_that_never_authenticates_is_closed_early(make_server, tmp_path):
    s = token_server(make_server, tmp_path, "--first-request-timeout-s", "1",
                     "--http-timeout-s", "30")
    idle = connect(s)
    idle.settimeout(10 * SLOW)
    started = time.time()
    assert read_all(idle) == b""
    assert time.time() - started < 1 + 3 * SLOW
    # One that authenticated keeps the normal keep-alive time.
    kept = connect(s)
    kept.sendall(f"GET /v1/gpus HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
                 .encode())
    kept.settimeout(10 * SLOW)
    assert kept.recv(65536).startswith(b"HTTP/1.1 200")
    time.sleep(2)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_all(kept).startswith(b"HTTP/1.1 200")


def test_the_token_is_checked_before_the_body_is_read(make_server, tmp_path):
    s = token_server(make_server, tmp_path)
    sock = connect(s)
    sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1048576\r\n\r\n")
    sock.settimeout(5 * SLOW)
    answer = read_all(sock)  # answered and closed with not one body byte sent
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"www-authenticate" in answer.lower()


def test_unauthenticated_bodies_do_not_fill_memory(make_server, tmp_path):
    s = token_server(make_server, tmp_path)
    pid = s.proc.pid
    before = rss_mb(pid)
    body = b"x" * (1 << 20)
    socks = []
    for _ in range(200):
        sock = connect(s)
        try:
            sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
                         + body)
        except OSError:
            pass  # refused and closed part-way: that is the point
        socks.append(sock)
    grown = rss_mb(pid) - before
    for sock in socks:
        sock.close()
    assert grown < 40, f"RSS grew by {grown:.0f} MB for 200 unauthenticated 1 MiB bodies"
    assert requests.get(s.url + "/healthz", timeout=5).status_code == 200


def test_bodies_in_memory_at_once_are_capped(make_server, tmp_path):
    s = token_server(make_server, tmp_path, "--body-limit-bytes", "1048576",
                     "--max-buffered-body-bytes", "2097152")
    slow = []
    for _ in range(2):  # two authenticated 1 MiB bodies that never finish arriving
        sock = connect(s)
        sock.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     f"Content-Length: 1048576\r\n\r\n{{".encode())
        slow.append(sock)
    time.sleep(0.3 * SLOW)
    r = requests.post(s.url + "/v1/jobs", json={"task": "fake-model"}, headers=AUTH, timeout=10)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
    assert "request bodies" in r.json()["detail"]
    for sock in slow:
        sock.close()
    eventually(lambda: requests.post(s.url + "/v1/jobs", json={"task": "fake-model"},
                                     headers=AUTH, timeout=10).status_code == 202, 10,
               "the budget was not given back")


def test_expect_100_continue_is_answered_before_the_body(make_server, tmp_path):
    s = token_server(make_server, tmp_path)
    body = b'{"task": "fake-model", "params": {"seconds": 0}}'
    sock = connect(s)
    sock.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                 f"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    sock.settimeout(5 * SLOW)
    assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(body)
    assert read_all(sock).startswith(b"HTTP/1.1 202")


def test_followers_and_waiters_that_leave_release_their_sockets(make_server):
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.submit(params={"seconds": 60}).json()
    s.wait_state(job["id"], ["running"])
    pid = s.proc.pid
    # Only the listener once the test's own earlier requests are closed on both sides.
    eventually(lambda: tcp_sockets_of(pid) == 1, 5, "earlier connections stay open")
    baseline = 1
    requests_held = [
        f"GET /v1/jobs/{job['id']}/log?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /v1/jobs/{job['id']}?wait=600 HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /run-script HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 32\r\n\r\n" + '{"command": ["sleep", "60"]}'.ljust(32),
    ]
    clients = []
    for i in range(60):
        sock = connect(s)
        sock.sendall(requests_held[i % 3].encode())
        clients.append(sock)
    eventually(lambda: tcp_sockets_of(pid) >= baseline + 60, 10, "the requests were not all held")
    for sock in clients:
        sock.close()
    # The review saw these stay in CLOSE_WAIT until the job ended.
    eventually(lambda: tcp_sockets_of(pid) <= baseline, 5, "sockets kept after their clients left")
    assert s.job(job["id"])["state"] == "running"  # leaving does not cancel anything
    s.delete(f"/v1/jobs/{job['id']}")


def test_followers_are_capped_per_job(make_server):
    s = make_server("--gpus", "sim:24GiB", "--max-waiters-per-job", "3")
    job = s.submit(params={"seconds": 60}).json()
    s.wait_state(job["id"], ["running"])
    held = []
    for _ in range(3):
        r = requests.get(f"{s.url}/v1/jobs/{job['id']}/log?follow=1", stream=True, timeout=10)
        assert r.status_code == 200
        held.append(r)
    r = s.get(f"/v1/jobs/{job['id']}?wait=30")
    assert r.status_code == 429 and r.headers["Retry-After"], r.text
    assert "already has 3 clients following or waiting" in r.json()["detail"]
    held.pop().close()
    eventually(lambda: requests.get(f"{s.url}/v1/jobs/{job['id']}?wait=0.1",
                                    timeout=10).status_code == 200, 5, "the place was not freed")
    for r in held:
        r.close()
    s.delete(f"/v1/jobs/{job['id']}")


def test_smuggled_transfer_encodings_get_one_400_and_a_close(server):
    inner = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    for te in [b"chunked, identity", b"gzip", b"xchunked", b"identity, chunked"]:
        sock = connect(server)
        sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                     b"\r\n\r\n" + inner)
        answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 400"), (te, answer[:200])
        assert answer.count(b"HTTP/1.1 ") == 1, (te, answer)  # the inner request is never served
        assert b"chunked" in answer


def test_folded_headers_are_400(server):
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n")
    answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400") and b"obs-fold" in answer, answer[:300]


def test_plain_chunked_bodies_still_work(server):
    body = b'{"task": "fake-model", "params": {"seconds": 0}}'
    sock = connect(server)
    sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                 f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    assert read_all(sock).startswith(b"HTTP/1.1 202")


def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(make_server):
    """Only a request that waits (?wait=, follow) ends when its client stops sending: a plain
    read is answered to a client that shut its side down after the request (nc -N does)."""
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands")
    job = s.post("/v1/jobs?wait=30", {"command": ["/bin/sh", "-c", "head -c 200000 /dev/zero"]})
    job_id = job.json()["id"]
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/log", "/v1/gpus"):
        sock = connect(s)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10 * SLOW)
        answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200"), (path, answer[:200])
        if path.endswith("/log"):
            assert answer.count(b"\0") == 200000, "the whole log"


def test_connections_are_capped_per_owner_below_the_address_cap(make_server, tmp_path):
    # ann and bob share an address (a jump host): ann's connections stop at her own cap, and
    # bob still gets in.
    tokens = tmp_path / "tokens"
    bob = "bob-hostile-token-0123456789"
    tokens.write_text(f"{TOKEN}:ann\n{bob}:bob\n")
    tokens.chmod(0o600)
    s = make_server("--gpus", "sim:24GiB", "--token-file", str(tokens),
                    "--max-connections-per-owner", "3", "--max-connections-per-client", "10")

    def ask(token, close=False):
        c = connect(s)
        c.settimeout(10 * SLOW)
        c.sendall((f"GET /v1/gpus HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                   + ("Connection: close\r\n" if close else "") + "\r\n").encode())
        return c

    held = []
    for _ in range(3):
        c = ask(TOKEN)
        assert c.recv(65536).startswith(b"HTTP/1.1 200")
        held.append(c)  # kept open (keep-alive)
    extra = ask(TOKEN)
    answer = read_all(extra)
    assert answer.startswith(b"HTTP/1.1 503"), answer
    assert b"ann already has 3 connections open" in answer, answer
    assert read_all(ask(bob, close=True)).startswith(b"HTTP/1.1 200")
    # A connection closed gives its place back.
    held.pop().close()
    eventually(lambda: read_all(ask(TOKEN, close=True)).startswith(b"HTTP/1.1 200"), 10,
               "ann's place given back")
    for c in held:
        c.close()
