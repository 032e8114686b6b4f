"""Limits on what a client can make the server hold: slow or idle clients are dropped, oversized
headers and URLs are refused, keep-alive works, open connections are capped."""
import socket
import time

from conftest import SLOW


def connect(server):
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def read_all(sock):
    """Everything until the server closes the connection. A reset counts as closed; a socket
    timeout is a failure (the server did not close it), never an empty answer."""
    data = b""
    while True:
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError as e:
            raise AssertionError(f"the server kept the connection open; read so far: {data[:200]}"
                                 ) from e
        if not piece:
            break
        data += piece
    return data


def served(sock):
    """One request on an open connection answered: the server has accepted and counts it."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(10 * SLOW)
    got = b""
    while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
        piece = sock.recv(4096)
        assert piece, "closed instead of answering"
        got += piece
    return got.startswith(b"HTTP/1.1 200")


def test_a_trickling_client_is_dropped_after_the_timeout(make_server):
    s = make_server("--gpus", "sim:24GiB", "--http-timeout-s", "2")
    sock = connect(s)
    started = time.time()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    closed_after = None
    for byte in request:
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.time() - started
            break
        time.sleep(0.25)
    if closed_after is None:
        sock.settimeout(10)
        read_all(sock)
        closed_after = time.time() - started
    assert closed_after < 2 + 3 * SLOW, closed_after
    # The server is fine.
    assert s.get("/healthz").status_code == 200


def test_an_idle_keep_alive_connection_is_closed(make_server):
    s = make_server("--gpus", "sim:24GiB", "--http-timeout-s", "1")
    sock = connect(s)
    sock.settimeout(10)
    started = time.time()
    assert read_all(sock) == b""
    assert time.time() - started < 1 + 3 * SLOW


def test_keep_alive_serves_several_requests_on_one_connection(server):
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: close\r\n\r\n")
    data = read_all(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 2


def test_oversized_headers_and_urls_are_431(server):
    for request in [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                    b"GET /v1/jobs/" + b"1" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"]:
        sock = connect(server)
        sock.sendall(request)
        data = read_all(sock)
        assert data.startswith(b"HTTP/1.1 431"), data[:100]
        assert b"application/problem+json" in data


def test_garbage_is_400_and_the_connection_closed(server):
    sock = connect(server)
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    data = read_all(sock)
    assert data.startswith(b"HTTP/1.1 400"), data[:100]


def test_connections_over_the_cap_are_refused(make_server):
    s = make_server("--gpus", "sim:24GiB", "--max-connections", "3")
    held = [connect(s) for _ in range(3)]
    assert all(served(h) for h in held)  # all three accepted and open (no sleep needed)
    extra = connect(s)
    extra.settimeout(5 * SLOW)
    try:
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed before the request went out: refused all the same
    answer = read_all(extra)  # a 503 that says why, unless the close overtook it (a reset)
    assert answer == b"" or (answer.startswith(b"HTTP/1.1 503") and b"its limit" in answer), answer
    for h in held:
        h.close()
    deadline = time.time() + 10 * SLOW  # the server notices the closes: poll, do not guess
    while True:
        try:
            if s.get("/healthz").status_code == 200:
                break
        except Exception:  # noqa: BLE001 -- refused while the closes are being noticed
            pass
        assert time.time() < deadline, "connections were not given back"
        time.sleep(0.05)
