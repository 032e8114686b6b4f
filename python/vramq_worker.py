"""vramq_worker: write a warm worker for vramq in a few lines (docs/workers.md).

A warm worker loads its model once and then serves many runs. Subclass Worker, load the model in
setup(), do one run in run(params, job_dir), and call serve():

    from vramq_worker import Worker, serve

    class Mesh(Worker):
        def setup(self):
            self.model = load_model()          # once, however long it takes

        def run(self, params, job_dir):
            mesh = self.model(params["image"])
            mesh.save(f"{job_dir}/mesh.obj")   # large outputs are files in the job's directory
            return {"vertices": len(mesh.vertices)}  # the run's output (text or JSON)

    if __name__ == "__main__":
        serve(Mesh())

and declare it in vramq's catalog:

    [tasks.mesh.worker]
    argv = ["/opt/mesh/.venv/bin/python", "/opt/mesh/worker.py"]

The helper speaks the protocol (newline-delimited JSON on stdin/stdout) for you: it answers
pings while a run is going on, turns an exception into the run's error (retryable for
RetryableError and CUDA out-of-memory errors), and points file descriptor 1 at stderr so that a
stray print() or a native library's output lands in the run's log instead of breaking the
protocol. A run can watch self.cancel_requested (or call self.check_cancelled()) to stop early
when its job is cancelled or times out; one that does not is stopped by vramq after the grace.
Standard library only: works with any Python 3.8+.
"""
import json
import os
import sys
import threading
import traceback

__all__ = ["Worker", "RetryableError", "Cancelled", "serve"]

PROTOCOL = 1


class RetryableError(Exception):
    """The run failed for a reason a new attempt may not meet (within the job's max_retries)."""


class Cancelled(Exception):
    """Raised by Worker.check_cancelled() once vramq asked the current run to stop."""


class Worker:
    """Override setup() and run(); the other attributes are set by serve()."""

    worker_id = None   # vramq's id for this worker
    task = None        # the catalog task it serves
    gpu = None         # vramq's GPU index (CUDA_VISIBLE_DEVICES names the device)
    job_id = None      # the run being served
    deadline_ms = 0    # Unix ms when vramq stops the run (0: no timeout)

    def __init__(self):
        self._cancel = threading.Event()
        self._send = None

    def setup(self):
        """Load the model. Runs once, before the first run."""

    def run(self, params, job_dir):
        """One run: `params` as the job gave them (a dict), `job_dir` its directory. Return its
        output: a str, or anything JSON can encode (None: no output)."""
        raise NotImplementedError

    def teardown(self):
        """Called once when vramq unloads the worker (after its last run)."""

    @property
    def cancel_requested(self):
        return self._cancel.is_set()

    def check_cancelled(self):
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, fraction=None, message=""):
        """Reports how far the current run is (0..1) and what it does."""
        if self._send is None or self.job_id is None:
            return
        msg = {"type": "progress", "job": self.job_id, "message": str(message)}
        if fraction is not None:
            msg["fraction"] = min(1.0, max(0.0, float(fraction)))
        self._send(msg)


def _looks_like_gpu_oom(text):
    return "CUDA out of memory" in text or "OutOfMemoryError" in text


def serve(worker, stdin=None, stdout=None):
    """Serves vramq's protocol until shutdown or the end of stdin; returns the exit code.

    With the default streams, fd 1 is kept for the protocol and then pointed at stderr."""
    if stdout is None:
        proto_fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        stdout = os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)
    if stdin is None:
        stdin = sys.stdin
    lock = threading.Lock()

    def send(msg):
        line = json.dumps(msg, separators=(",", ":")) + "\n"
        with lock:
            stdout.write(line)
            stdout.flush()

    worker._send = send
    runs = []              # run commands for the main thread, in order
    more = threading.Condition()
    cancelled = set()      # jobs vramq asked to stop (also before their run has begun here)
    state = {"done": False, "shutdown": False}

    def read():
        # Pings and cancels are answered here, also while a run is going on.
        for raw in stdin:
            raw = raw.strip()
            if not raw:
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                print(f"vramq_worker: ignored a line that is not JSON: {raw[:200]}", file=sys.stderr)
                continue
            kind = msg.get("type")
            if kind == "ping":
                send({"type": "pong", "seq": msg.get("seq", 0)})
            elif kind == "cancel":
                with more:
                    cancelled.add(msg.get("job"))
                    if msg.get("job") == worker.job_id:
                        worker._cancel.set()
            elif kind in ("init", "run"):
                with more:
                    runs.append(msg)
                    more.notify()
            elif kind == "shutdown":
                with more:
                    state["shutdown"] = True
                    more.notify()
                return
        with more:
            state["done"] = True
            more.notify()

    reader = threading.Thread(target=read, name="vramq-protocol", daemon=True)
    reader.start()

    def next_command():
        with more:
            while not runs and not state["done"] and not state["shutdown"]:
                more.wait()
            return runs.pop(0) if runs else None

    init = next_command()
    while init is not None and init.get("type") != "init":
        init = next_command()
    if init is None:
        return 0
    worker.worker_id = init.get("worker")
    worker.task = init.get("task")
    worker.gpu = init.get("gpu")
    try:
        worker.setup()
    except BaseException as e:  # noqa: B902 - whatever stops setup is fatal
        traceback.print_exc()
        send({"type": "fatal", "message": f"setup failed: {type(e).__name__}: {e}"})
        return 1
    send({"type": "ready"})

    while True:
        cmd = next_command()
        if cmd is None:
            break
        if cmd.get("type") != "run":
            continue
        job = cmd.get("job")
        with more:  # one step for the reader: a cancel is never lost between the two
            worker.job_id = job
            worker._cancel.clear()
            if job in cancelled:
                cancelled.discard(job)
                worker._cancel.set()
        worker.deadline_ms = cmd.get("deadline_ms", 0)
        try:
            out = worker.run(cmd.get("params", {}), cmd.get("job_dir", "."))
            if worker._cancel.is_set():
                reply = {"type": "cancelled", "job": job}
            else:
                text = out if isinstance(out, str) else ("" if out is None else json.dumps(out))
                reply = {"type": "result", "job": job, "output": text}
        except Cancelled:
            reply = {"type": "cancelled", "job": job}
        except Exception as e:  # noqa: BLE001 - a run's failure is the run's, not the worker's
            traceback.print_exc()
            message = f"{type(e).__name__}: {e}"
            if worker._cancel.is_set():
                reply = {"type": "cancelled", "job": job}
            else:
                retryable = isinstance(e, RetryableError) or _looks_like_gpu_oom(message)
                reply = {"type": "error", "job": job, "message": message, "retryable": retryable}
        # What the run wrote goes to its log before vramq hears that it ended.
        sys.stderr.flush()
        with more:
            worker.job_id = None
            cancelled.discard(job)
        send(reply)
    try:
        worker.teardown()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    return 0
