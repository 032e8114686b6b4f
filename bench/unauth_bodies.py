#!/usr/bin/python3
"""The review's attack on memory (issue 11, item 2): N clients each send a 1 MiB POST /v1/jobs
body without a token. Before the fix the server buffered every body before checking the token
(RSS 9 -> 289 MB for 400 clients, 270 MB after they closed). Prints the server's RSS before,
at the peak while the clients send, and after they closed; then the same with a valid token
(bodies are then read, within --max-buffered-body-bytes).
Usage: bench/unauth_bodies.py [CLIENTS=400] [VRAMQ_BIN=build/vramq]"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from bench_util import free_port, wait_listening

CLIENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 400
BIN = os.environ.get("VRAMQ_BIN", "build/vramq")
TOKEN = "bench-token-0123456789abcdef"


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0



def attack(port, token, peak, pid):
    body = b'{"task": "fake-model", "params": {"output": "' + b"x" * ((1 << 20) - 48) + b'"}}'
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    socks = []

    def send():
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        socks.append(s)
        try:
            s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n" + auth +
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                      + body)
        except OSError:
            pass  # refused and closed part-way

    threads = [threading.Thread(target=send) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], rss_mb(pid))
        time.sleep(0.01)
    peak[0] = max(peak[0], rss_mb(pid))
    for s in socks:
        s.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tokens = os.path.join(tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(f"{TOKEN}:bench\n")
        os.chmod(tokens, 0o600)
        port = free_port()
        server = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(tmp, "d"),
             "--gpus", "sim:24GiB", "--gpu-lock-dir", tmp, "--token-file", tokens,
             "--queue-max", "100000", "--stop-jobs-on-exit"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port)
            print("| clients x 1 MiB | token | RSS before MB | peak MB | after close MB |")
            print("| --- | --- | --- | --- | --- |")
            for token in (None, TOKEN):
                before = rss_mb(server.pid)
                peak = [before]
                attack(port, token, peak, server.pid)
                time.sleep(1)
                after = rss_mb(server.pid)
                print(f"| {CLIENTS} | {'valid' if token else 'none'} | {before:.0f} | {peak[0]:.0f} "
                      f"| {after:.0f} |")
        finally:
            server.terminate()
            server.wait()


main()
