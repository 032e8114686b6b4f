"""`vramq top` driven in a real pseudo-terminal against a real server: it renders the GPU and the
jobs, updates from the event stream, cancels the selected job after y, quits on q or a signal,
and leaves the terminal as it found it; one that fell behind the event ring gets `reset` and goes
on from a fresh view. `--once` prints one screen without a terminal."""
import fcntl
import re
import os
import pty
import signal
import struct
import subprocess
import termios
import threading

from conftest import BIN, SLOW, eventually


class Terminal:
    """`vramq top` on a 120x40 pseudo-terminal; `screen` is everything it wrote."""

    def __init__(self, server):
        self.main, self.tty = pty.openpty()
        fcntl.ioctl(self.tty, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.before = termios.tcgetattr(self.tty)
        self.proc = subprocess.Popen([BIN, "top"], stdin=self.tty, stdout=self.tty,
                                     stderr=self.tty, env=dict(os.environ, VRAMQ_SERVER=server.url))
        self.out = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.main, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.out += chunk

    @property
    def screen(self):
        return self.out.decode(errors="replace")

    def wait_for(self, text, what, since=0):
        eventually(lambda: text in self.screen[since:], 15, what)

    def press(self, keys):
        os.write(self.main, keys)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.tty)
        os.close(self.main)


def test_renders_updates_cancels_and_quits(make_server):
    s = make_server("--gpus", "sim:24GiB", "--gpu-poll-ms", "100")
    t = Terminal(s)
    try:
        t.wait_for("(live)", "connected to the event stream")
        assert "GPU 0 vramq simulated GPU" in t.screen
        mark = len(t.screen)
        job = s.submit(params={"seconds": 60, "vram_mb": 6000}).json()["id"]
        t.wait_for(f"> {job}", "the running job shown (and selected)", since=mark)
        t.wait_for("[######", "the GPU bar filled by its measured use", since=mark)
        mark = len(t.screen)
        t.press(b"c")
        t.wait_for(f"cancel job {job}? y/n", "the question", since=mark)
        t.press(b"y")
        eventually(lambda: s.job(job)["state"] == "cancelled", 15, "the job cancelled")
        t.wait_for("cancel sent", "what happened", since=mark)
        t.press(b"q")
        assert t.proc.wait(timeout=10 * SLOW) == 0
        eventually(lambda: t.screen.endswith("\x1b[?25h\x1b[?1049l"), 5, "the screen restored")
        assert termios.tcgetattr(t.tty) == t.before, "the terminal's modes restored"
    finally:
        t.close()


def test_arrows_select_and_signals_restore_the_terminal(make_server):
    s = make_server("--gpus", "sim:24GiB")
    first = s.submit(params={"seconds": 60, "vram_mb": 20000}).json()["id"]
    second = s.submit(params={"seconds": 1, "vram_mb": 20000}).json()["id"]  # queued behind it
    s.wait_state(first, ["running"])
    t = Terminal(s)
    try:
        t.wait_for(f"> {first}", "the first job selected")
        mark = len(t.screen)
        t.press(b"\x1b[B")  # down: the queued one
        t.wait_for(f"> {second}", "the selection moved to the queued job", since=mark)
        assert "waiting for VRAM to free up" in t.screen
        t.proc.send_signal(signal.SIGTERM)
        assert t.proc.wait(timeout=10 * SLOW) == 128 + signal.SIGTERM
        eventually(lambda: t.screen.endswith("\x1b[?25h\x1b[?1049l"), 5, "the screen restored")
        assert termios.tcgetattr(t.tty) == t.before
    finally:
        t.close()
        s.delete(f"/v1/jobs/{first}")


def test_once_prints_one_screen_without_a_terminal(server):
    job = server.submit(params={"seconds": 30, "vram_mb": 3000}).json()["id"]
    server.wait_state(job, ["running"])
    r = server.cli("top", "--once")
    assert r.returncode == 0, r.stderr
    assert "GPU 0 vramq simulated GPU" in r.stdout and f"  {job} " in r.stdout, r.stdout
    assert "\x1b" not in r.stdout
    bad = subprocess.run([BIN, "top"], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, VRAMQ_SERVER=server.url), stdin=subprocess.DEVNULL)
    assert bad.returncode == 2 and "needs a terminal" in bad.stderr
    server.delete(f"/v1/jobs/{job}")


def resets(server, reason):
    m = re.search(rf'^vramq_event_resets_total{{reason="{reason}"}} (\d+)$',
                  server.get("/metrics").text, re.M)
    return int(m.group(1))


def test_falling_a_ring_behind_resets_to_a_fresh_view(make_server):
    s = make_server("--gpus", "sim:24GiB", "--event-ring-size", "8", "--http-timeout-s", "300")
    t = Terminal(s)
    try:
        t.wait_for("(live)", "connected to the event stream")
        # Stopped, it reads nothing: the jobs' events (each carries a 256-byte output) fill its
        # socket's buffers, the server's write waits, and the ring moves on without it.
        t.proc.send_signal(signal.SIGSTOP)
        text = "x" * 256
        jobs = [s.submit(params={"seconds": 0, "vram_mb": 10, "output": text}).json()["id"]
                for _ in range(300)]
        for j in jobs:
            s.wait_job(j)
        # (The reset may be sent already: a burst can outrun the stream's writer by a whole
        # ring whether or not its reader reads. Either way it is the only one, and top sees it
        # when it reads again.)
        mark = len(t.screen)
        t.proc.send_signal(signal.SIGCONT)
        eventually(lambda: resets(s, "behind") == 1, 15 * SLOW, "the reset sent to top")
        t.wait_for("(live)", "live again, from a fresh view", since=mark)
        job = s.submit(params={"seconds": 60, "vram_mb": 6000}).json()["id"]
        t.wait_for(f"> {job}", "a job after the reset shown", since=mark)
        assert t.proc.poll() is None
        assert resets(s, "behind") == 1 and resets(s, "gone") == 0
    finally:
        t.proc.send_signal(signal.SIGCONT)
        t.close()
