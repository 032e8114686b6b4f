"""The CLI's live line (docs/user-guide.md, The CLI): `vramq submit --wait` and `vramq wait` follow
the job's events and say where it stands, redrawn in place on a terminal (a real pseudo-terminal
here), a line per change elsewhere; without events they long-poll as before."""
import os
import pty
import subprocess
import sys
import textwrap

from conftest import BIN, SLOW


def test_plain_lines_when_not_a_terminal(make_server):
    s = make_server("--gpus", "sim:24GiB", "--gpu-poll-ms", "100")
    # Long enough that the CLI (slow to start under the sanitizers, beside clang-tidy) submits
    # while it still runs: 1.5 s was not, once.
    big = s.submit(params={"seconds": 5, "vram_mb": 20000}).json()["id"]
    s.wait_state(big, ["running"])
    # Bytes, not text: text mode (universal newlines) and splitlines() would both turn a
    # carriage return into a line end and hide it.
    raw = subprocess.run([BIN, "submit", "fake-model", "-p", "seconds=0.2", "-p", "vram_mb=6000",
                          "-p", "output=after-the-wait", "--wait"],
                         env=dict(os.environ, VRAMQ_SERVER=s.url), capture_output=True,
                         timeout=60 * SLOW)
    assert raw.returncode == 0, raw.stderr
    assert b"after-the-wait" in raw.stdout
    assert b"\x1b" not in raw.stderr and b"\r" not in raw.stderr, "no terminal codes in a log"
    lines = raw.stderr.decode().splitlines()
    job = big + 1
    assert f"job {job} queued · next in line · waiting for VRAM to free up (5.9 GiB)" in lines, lines
    assert any(l.startswith(f"job {job} running on GPU 0") for l in lines), lines
    # `vramq wait` on a job that has ended: its output at once.
    w = s.cli("wait", str(job))
    assert w.returncode == 0 and "after-the-wait" in w.stdout


def test_a_terminal_gets_one_line_redrawn_with_progress(make_server, tmp_path):
    script = tmp_path / "halfway.py"
    script.write_text(textwrap.dedent('''
        import json, os, time
        with open(os.environ["VRAMQ_PROGRESS_FILE"], "a") as f:
            f.write(json.dumps({"fraction": 0.5, "message": "halfway"}) + "\\n")
        time.sleep(1.5)
        print("finished")
    '''))
    s = make_server("--gpus", "sim:24GiB", "--allow-raw-commands", "--gpu-poll-ms", "100")
    main, tty = pty.openpty()
    p = subprocess.Popen([BIN, "submit", "--vram-mb", "100", "--wait", "--", sys.executable,
                          str(script)], stdin=tty, stdout=subprocess.PIPE, stderr=tty,
                         env=dict(os.environ, VRAMQ_SERVER=s.url))
    os.close(tty)
    out, _ = p.communicate(timeout=30 * SLOW)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert p.returncode == 0 and out.decode().strip() == "finished"
    text = seen.decode()
    assert "\r\x1b[K" in text, text
    assert "halfway [##########----------] 50%" in text, text
    assert text.endswith("\r\x1b[K") or text.rstrip("\r\n").endswith("\x1b[K"), repr(text[-200:])


def test_without_events_it_long_polls(make_server):
    s = make_server("--gpus", "sim:24GiB", "--event-ring-size", "0")
    r = s.cli("submit", "fake-model", "-p", "seconds=0.5", "-p", "output=polled", "--wait")
    assert r.returncode == 0 and "polled" in r.stdout, r.stderr
