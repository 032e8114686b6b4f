"""A client for vramq's HTTP API (docs/api.md), standard library only.

    from vramq import Client
    vq = Client("http://gpu-box:8000", token="...")
    job = vq.submit("image-to-mesh", files={"image": "cat.png"})
    for line in job.logs(stream="stderr", follow=True):
        print(line)
    job.wait()
    job.download("mesh.obj", "cat.obj")

Every submit carries an Idempotency-Key and is retried on connection errors and on 429/503
after the server's Retry-After: a retry never makes a second job. Errors are VramqError, carrying
the server's problem details (status, detail, field).
"""
import http.client
import json
import os
import time
import urllib.parse
import uuid

__all__ = ["Client", "Job", "VramqError"]

_PIECE = 64 * 1024
_ENDED = {"succeeded", "failed", "cancelled", "timeout", "interrupted"}


class VramqError(Exception):
    """An answer other than success: `status` (0 when the server could not be reached), and the
    problem details the server sent (`problem`, with `detail` and `field` as attributes)."""

    def __init__(self, status, problem):
        self.status = status
        self.problem = problem if isinstance(problem, dict) else {"detail": str(problem)}
        self.detail = self.problem.get("detail", "")
        self.field = self.problem.get("field")
        self.retry_after = None  # seconds, when the server said (429, 503, 507)
        super().__init__(f"{status}: {self.detail}" if status else self.detail)


class _Files:
    """A multipart/form-data body: the job's JSON as the part "job", then each file, read from
    disk in pieces as it is sent (never whole in memory); made again for each retry."""

    def __init__(self, job, files):
        self.boundary = "vramq-" + uuid.uuid4().hex
        self.parts = []  # (head bytes, source: bytes or a path)
        job_head = (f'--{self.boundary}\r\nContent-Disposition: form-data; name="job"\r\n'
                    "Content-Type: application/json\r\n\r\n").encode()
        self.parts.append((job_head, json.dumps(job).encode()))
        for name, source in files.items():
            if hasattr(source, "read"):
                source = source.read()
            if isinstance(source, str):
                source = os.fspath(source)
                filename = os.path.basename(source)
            elif isinstance(source, os.PathLike):
                source = os.fspath(source)
                filename = os.path.basename(source)
            else:
                filename = name
            filename = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
            head = (f'\r\n--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                    f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n')
            self.parts.append((head.encode(), source))
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    def content_type(self):
        return f"multipart/form-data; boundary={self.boundary}"

    def length(self):
        n = len(self.tail)
        for head, source in self.parts:
            n += len(head) + (os.path.getsize(source) if isinstance(source, str) else len(source))
        return n

    def __iter__(self):
        for head, source in self.parts:
            yield head
            if isinstance(source, str):
                with open(source, "rb") as f:
                    while piece := f.read(_PIECE):
                        yield piece
            else:
                yield source
        yield self.tail


class Client:
    """One vramq server. `timeout`: seconds for each request (a wait adds its own);
    `retries`: how many times a submit is tried again on a connection error, 429 or 503."""

    def __init__(self, url, token=None, timeout=30, retries=5):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self._parsed = parsed
        self.token = token if token is not None else os.environ.get("VRAMQ_TOKEN")
        self.timeout = timeout
        self.retries = retries

    # --- transport ---------------------------------------------------------------------------

    def _connection(self, timeout):
        cls = http.client.HTTPSConnection if self._parsed.scheme == "https" else http.client.HTTPConnection
        return cls(self._parsed.hostname, self._parsed.port, timeout=timeout)

    def _open(self, method, path, body=None, headers=None, timeout=None):
        """Sends a request; the response is returned unread (the caller reads or streams it)."""
        h = {"User-Agent": "vramq-python"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        conn = self._connection(timeout if timeout is not None else self.timeout)
        try:
            conn.request(method, self._parsed.path.rstrip("/") + path, body=body, headers=h)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise VramqError(0, f"cannot reach the vramq server at {self.url}: {e}") from e
        response.connection_ = conn
        return response

    def _call(self, method, path, body=None, headers=None, timeout=None, ok=(200,)):
        r = self._open(method, path, body, headers, timeout)
        try:
            data = r.read()
        finally:
            r.connection_.close()
        if r.status not in ok:
            raise _error(r.status, data, r.getheader("Retry-After"))
        return r, (json.loads(data) if data and r.getheader("Content-Type", "").endswith("json") else data)

    # --- jobs --------------------------------------------------------------------------------

    def submit(self, task=None, params=None, *, files=None, webhook=None, command=None,
               wait=None, idempotency_key=None, **fields):
        """Submits a job and returns it (a Job). `files`: {parameter: path, bytes or file}, sent
        with the job (the task's file parameters); `wait`: seconds to hold the answer until the
        job ends. Other keyword arguments are fields of the submission (vram_mb, priority,
        timeout_s, max_retries, env, name, labels, ...)."""
        job = dict(fields)
        if task is not None:
            job["task"] = task
        if command is not None:
            job["command"] = list(command)
        if params:
            job["params"] = params
        if webhook is not None:
            job["webhook"] = webhook
        key = idempotency_key or str(uuid.uuid4())
        path = "/v1/jobs" + (f"?wait={wait}" if wait else "")
        timeout = self.timeout + (wait or 0)
        for attempt in range(self.retries + 1):
            headers = {"Idempotency-Key": key}
            if files:
                form = _Files(job, files)
                body = iter(form)
                headers["Content-Type"] = form.content_type()
                headers["Content-Length"] = str(form.length())
            else:
                body = json.dumps(job).encode()
                headers["Content-Type"] = "application/json"
            try:
                r, data = self._call("POST", path, body, headers, timeout, ok=(200, 202))
                return Job(self, data)
            except VramqError as e:
                if attempt == self.retries or e.status not in (0, 429, 503):
                    raise
                time.sleep(min(60.0, e.retry_after if e.retry_after is not None else _backoff(attempt)))
        raise AssertionError("unreachable")

    def job(self, job_id):
        """The job with this id."""
        return Job(self, self._call("GET", f"/v1/jobs/{int(job_id)}")[1])

    def jobs(self, state=None, task=None, name=None, label=None, owner=None, limit=None):
        """Jobs, newest first, following the listing's pages. `state`: one or a list."""
        query = {}
        if state:
            query["state"] = state if isinstance(state, str) else ",".join(state)
        for k, v in (("task", task), ("name", name), ("label", label), ("owner", owner)):
            if v:
                query[k] = v
        before = None
        count = 0
        while True:
            q = dict(query, **({"before": before} if before else {}))
            _, data = self._call("GET", "/v1/jobs?" + urllib.parse.urlencode(q))
            for item in data["jobs"]:
                yield Job(self, item)
                count += 1
                if limit is not None and count >= limit:
                    return
            before = data.get("next")
            if not before:
                return

    def gpus(self):
        """GET /v1/gpus: the GPUs and what each holds."""
        return self._call("GET", "/v1/gpus")[1]

    def tasks(self):
        """GET /v1/tasks: the catalog."""
        return self._call("GET", "/v1/tasks")[1]


class Job:
    """A job as last read from the server (`data`, and its fields as attributes)."""

    def __init__(self, client, data):
        self.client = client
        self.data = data

    def __getattr__(self, name):
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return f"<vramq.Job {self.data.get('id')} {self.data.get('state')}>"

    @property
    def ended(self):
        return self.data.get("state") in _ENDED

    def refresh(self):
        self.data = self.client._call("GET", f"/v1/jobs/{self.id}")[1]
        return self

    def wait(self, timeout=None):
        """Waits until the job ends (at most `timeout` seconds: then TimeoutError) and returns
        it. Long polls the server (?wait=) instead of asking again and again."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ended:
            left = 60.0 if deadline is None else min(60.0, deadline - time.monotonic())
            if left <= 0:
                raise TimeoutError(f"job {self.id} is still {self.data.get('state')}")
            try:
                self.data = self.client._call("GET", f"/v1/jobs/{self.id}?wait={left:.3f}",
                                              timeout=self.client.timeout + left)[1]
            except VramqError as e:
                if e.status not in (0, 429, 503):
                    raise
                time.sleep(1)
        return self

    def logs(self, stream="stdout", follow=False):
        """The job's log, line by line (an iterator); with `follow`, as the job writes it, until
        it ends."""
        query = urllib.parse.urlencode({"stream": stream, **({"follow": 1} if follow else {})})
        r = self.client._open("GET", f"/v1/jobs/{self.id}/log?{query}",
                              timeout=None if follow else self.client.timeout)
        try:
            if r.status != 200:
                raise _error(r.status, r.read())
            pending = b""
            while piece := r.read1(_PIECE):
                pending += piece
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode(errors="replace")
            if pending:
                yield pending.decode(errors="replace")
        finally:
            r.connection_.close()

    def events(self, types=("job",)):
        """The job's events (GET /v1/events?job=ID) as (event, data, id) tuples, from now until
        the job ends (nothing when it has ended already). A dropped stream is resumed with
        Last-Event-ID; a `reset` (events were lost) is passed on after the job is read again."""
        r, self.data = self.client._call("GET", f"/v1/jobs/{self.id}")
        last = r.getheader("Vramq-Event-Id")
        while not self.ended:
            query = urllib.parse.urlencode({"job": self.id, "types": ",".join(types)})
            headers = {"Last-Event-ID": last} if last else {}
            try:
                response = self.client._open("GET", f"/v1/events?{query}", headers=headers,
                                             timeout=60)
            except VramqError:
                time.sleep(1)
                continue
            try:
                if response.status != 200:
                    raise _error(response.status, response.read())
                for event, data, event_id in _sse(response):
                    last = event_id or last
                    if event == "reset":
                        self.refresh()
                    elif event == "job":
                        self.data.update(data)
                    yield event, data, event_id
                    if self.ended:
                        return
            except (OSError, http.client.HTTPException):
                pass  # dropped: resume after the last event seen
            finally:
                response.connection_.close()

    def files(self):
        """What the job left in its directory: [{path, type, size, modified}, ...]."""
        return self.client._call("GET", f"/v1/jobs/{self.id}/files")[1]["files"]

    def download(self, path, dest):
        """Writes the job's file `path` (relative to its directory) to `dest`, in pieces."""
        quoted = urllib.parse.quote(path)
        r = self.client._open("GET", f"/v1/jobs/{self.id}/files/{quoted}")
        try:
            if r.status != 200:
                raise _error(r.status, r.read())
            with open(dest, "wb") as out:
                while piece := r.read1(_PIECE):
                    out.write(piece)
        finally:
            r.connection_.close()
        return dest

    def cancel(self):
        """Cancels the job (a running one gets SIGTERM, then SIGKILL after the grace)."""
        self.data = self.client._call("DELETE", f"/v1/jobs/{self.id}", ok=(200, 202))[1]
        return self

    def delete(self):
        """Removes an ended job: its row and its directory."""
        self.client._call("DELETE", f"/v1/jobs/{self.id}?purge=1", ok=(204,))


def _error(status, body, retry_after=None):
    try:
        problem = json.loads(body)
    except ValueError:
        problem = {"detail": body.decode(errors="replace") if isinstance(body, bytes) else str(body)}
    e = VramqError(status, problem)
    try:
        e.retry_after = float(retry_after) if retry_after is not None else None
    except ValueError:
        pass
    return e


def _backoff(attempt):
    return min(30.0, 0.5 * 2 ** attempt)


def _sse(response):
    """Server-Sent Events from a response: (event, data as JSON, id)."""
    event, data, event_id = "message", [], None
    buffered = b""
    while piece := response.read1(_PIECE):
        buffered += piece
        *lines, buffered = buffered.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace").rstrip("\r")
            if not line:
                if data:
                    text = "\n".join(data)
                    try:
                        value = json.loads(text)
                    except ValueError:
                        value = text
                    yield event, value, event_id
                event, data = "message", []
            elif line.startswith(":"):
                continue
            else:
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "event":
                    event = value
                elif key == "data":
                    data.append(value)
                elif key == "id":
                    event_id = value
