"""Harness for vramq's end-to-end tests: the real binary, real HTTP on a free port, a real SQLite
file in a temporary data dir, real subprocesses and real signals. VRAMQ_BIN names the binary."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("VRAMQ_BIN", str(REPO / "build" / "vramq"))
# Sanitized builds are several times slower: stretch every deadline.
SLOW = 4 if os.environ.get("VRAMQ_SANITIZED") else 1


OPENAPI = json.loads((REPO / "docs" / "openapi.json").read_text())
_RESOLVER = jsonschema.RefResolver.from_schema(OPENAPI)
_PATHS = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"), t) for t in OPENAPI["paths"]]


def eventually(check, timeout, what):
    """Polls `check` until it gives something true (returned) or `timeout` seconds (stretched
    for sanitized builds) pass, then fails saying `what`: waits on the server, never guessed."""
    deadline = time.time() + timeout * SLOW
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, what
        time.sleep(0.05)


def check_contract(method, path, r):
    """Every answer the tests see must be one docs/openapi.json documents: a listed status, a
    listed content type, and a body valid against its schema."""
    template = next((t for rx, t in _PATHS if rx.match(path.split("?")[0])), None)
    if template is None:
        assert r.status_code == 404, f"{method} {path}: undocumented path answered {r.status_code}"
        return
    op = OPENAPI["paths"][template].get(method.lower())
    if op is None:
        assert r.status_code == 405, f"{method} {template}: undocumented method"
        return
    documented = op["responses"].get(str(r.status_code))
    assert documented, f"{method} {template}: status {r.status_code} is not in openapi.json"
    content = documented.get("content")
    if not content:
        return
    ctype = r.headers.get("Content-Type", "").split(";")[0]
    assert ctype in content, f"{method} {template} {r.status_code}: content type {ctype}"
    if ctype.endswith("json"):
        jsonschema.validate(r.json(), content[ctype]["schema"], resolver=_RESOLVER,
                            cls=jsonschema.Draft202012Validator)


class Server:
    def __init__(self, data_dir, args, log_path, env=None, preexec=None):
        self.data_dir = Path(data_dir)
        self.args = args
        self.env = env
        self.preexec = preexec  # run in the child before exec (resource limits)
        self.log_path = Path(log_path)
        self.proc = None
        self.url = None

    def start(self, timeout=20):
        self.log = open(self.log_path, "ab")
        cmd = [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)] + self.args
        env = dict(os.environ, **self.env) if self.env else None
        # Only this start's lines: a restarted server's log still holds the last one's port.
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=self.preexec)
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
            matches = re.findall(r"listening on (http://[\d.]+:\d+)", text)
            if matches:
                self.url = matches[-1]
                if self.get("/healthz").status_code == 200:
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"vramq exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"vramq did not start:\n{self.log_path.read_text()}")

    def get(self, path, **kw):
        r = requests.get(self.url + path, timeout=kw.pop("timeout", 30 * SLOW), **kw)
        check_contract("GET", path, r)
        return r

    def post(self, path, body=None, **kw):
        r = requests.post(self.url + path, json=body, timeout=kw.pop("timeout", 30 * SLOW), **kw)
        check_contract("POST", path, r)
        return r

    def delete(self, path, **kw):
        r = requests.delete(self.url + path, timeout=kw.pop("timeout", 30 * SLOW), **kw)
        check_contract("DELETE", path, r)
        return r

    def submit(self, task="fake-model", wait=None, **fields):
        body = {"task": task, **fields}
        path = "/v1/jobs" + (f"?wait={wait}" if wait is not None else "")
        return self.post(path, body, timeout=(wait or 0) + 30 * SLOW)

    def job(self, job_id):
        r = self.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def wait_job(self, job_id, timeout=30):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            j = self.get(f"/v1/jobs/{job_id}?wait=5", timeout=60 * SLOW).json()
            if j["state"] not in ("queued", "running"):
                return j
        raise AssertionError(f"job {job_id} did not end: {j}")

    def wait_state(self, job_id, states, timeout=30):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            j = self.job(job_id)
            if j["state"] in states:
                return j
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never reached {states}: {j}")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cli(self, *args, env=None, timeout=60):
        e = dict(os.environ, VRAMQ_SERVER=self.url)
        e.update(env or {})
        return subprocess.run([BIN, *args], env=e, capture_output=True, text=True,
                              timeout=timeout * SLOW)


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(*args, data_dir=None, env=None, preexec=None):
        d = data_dir or tmp_path / f"data{len(servers)}"
        args = list(args)
        if "--gpu-lock-dir" not in args:  # the host's own GPU locks are none of the tests' business
            (tmp_path / "gpu-locks").mkdir(exist_ok=True)
            args += ["--gpu-lock-dir", str(tmp_path / "gpu-locks")]
        s = Server(d, args, tmp_path / f"server{len(servers)}.log", env=env, preexec=preexec)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()
    # Jobs outlive their servers (under their supervisors): the test's own end them here.
    end_supervisors(tmp_path)
    for s in servers:
        # A sanitizer report or crash in the server fails the test that ran it.
        log = s.log_path.read_text(errors="replace")
        assert "ERROR: AddressSanitizer" not in log, log[-4000:]
        assert "runtime error:" not in log, log[-4000:]


@pytest.fixture
def server(make_server):
    return make_server("--gpus", "sim:24GiB")


def result_of(job):
    """The fake model's result line (its stdout) as a dict."""
    return json.loads(job["output"].strip().splitlines()[-1])


def process_alive(pid):
    """True if pid runs (a zombie counts as gone: it holds no memory and runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between it and the read
        return False


def _proc_table():
    """{pid: (ppid, state, cmdline)} of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        out[int(d)] = (int(fields[1]), fields[0], [c.decode(errors="replace") for c in cmdline])
    return out


def supervisors_under(root):
    """PIDs of live job supervisors whose run directory is under `root`."""
    root = str(root)
    out = []
    for pid, (_, state, cmd) in _proc_table().items():
        if state == "Z" or not cmd or not cmd[0].endswith("vramq-supervise"):
            continue
        # Its job's logs are under root; a forked one shows its launcher's command line, whose
        # last argument is the run directory (under root too).
        if any(arg.startswith(root) for arg in cmd[1:]):
            out.append(pid)
    return out


def descendants(pid):
    table = _proc_table()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, (pp, state, _) in table.items() if pp == p and state != "Z"]
        out += kids
        todo += kids
    return out


def end_supervisors(root):
    """Kills every supervisor under `root` and its job's processes (test teardown)."""
    for sup in supervisors_under(root):
        for pid in descendants(sup) + [sup]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def supervisor_pid(data_dir, job_id, attempt=1):
    """The PID of a job's supervisor, from its record in a slot of DATA_DIR/run."""
    deadline = time.time() + 10 * SLOW
    while time.time() < deadline:
        for slot in (Path(data_dir) / "run").glob("slot-*"):
            fields = dict(line.partition(" ")[::2] for line in slot.read_text().splitlines())
            if fields.get("job") == str(job_id) and fields.get("attempt") == str(attempt) \
                    and int(fields.get("supervisor_pid", 0)) > 0:
                return int(fields["supervisor_pid"])
        time.sleep(0.05)
    raise AssertionError(f"no supervisor record for job {job_id}")


def helper_pids(data_dir, job_id, count):
    """The pids of the helpers a fake-model job started (it writes them to children.pid)."""
    pid_file = Path(data_dir) / "jobs" / str(job_id) / "children.pid"
    deadline = time.time() + 10 * SLOW
    while time.time() < deadline:
        if pid_file.exists():
            pids = [int(p) for p in pid_file.read_text().split()]
            if len(pids) == count:
                return pids
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reported {count} helpers")


def all_gone(pids, timeout=5):
    """True once none of pids runs (waiting up to timeout seconds)."""
    deadline = time.time() + timeout * SLOW
    while any(process_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.05)
    return not any(process_alive(p) for p in pids)
