// vramq's web dashboard: GPUs, the queue, running jobs, warm workers, owners (admins), a job's page and a submit
// form, live from GET /v1/events (read with fetch, so that a token can be sent; no polling).
// No dependencies; every value from the server is put on the page as text, never as HTML.

const state = {
  token: sessionStorage.getItem("vramq-token") || "",
  gpus: new Map(),        // index -> GPU item
  history: new Map(),     // index -> [used_mb, ...]: one point every 2 s, the last 5 minutes
  running: new Map(),     // id -> job item
  queue: { queued: 0, waiting: 0, head: [] },
  workers: new Map(),     // id -> worker item
  jobs: new Map(),        // id -> the newest job item seen (for job pages)
  timeline: new Map(),    // id -> [[time, text], ...]
  tasks: null,
  live: false,
  owners: null,           // GET /v1/owners for an admin token; null for others (or no tokens)
};

const REASONS = {
  vram: "waiting for VRAM to free up", priority: "held back for a higher-priority job",
  head_of_line: "held back for an older job that waited too long",
  draining: "the server is shutting down", gpu_unknown: "its GPUs cannot be read",
  dependency: "waiting for the jobs it runs after", retry_delay: "waiting out its retry delay",
  start_failed: "its start failed on this host; trying again soon",
  worker_busy: "its task's warm workers are all busy",
  worker_unloading: "idle warm workers are unloading to make room",
  worker_backoff: "its task's workers keep crashing; backing off",
  cluster: "waiting in the Slurm cluster's queue",
  quota: "its owner is at a limit, or above its guarantee",
};

// --- small helpers ---------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") el.style.cssText = v;  // CSSOM: allowed by the page's CSP
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const gib = (mb) => (mb / 1024).toFixed(1) + " GiB";
const mib = (mb) => (mb >= 1024 ? gib(mb) : mb + " MiB");
function clock(s) {
  s = Math.max(0, Math.round(s));
  const hh = Math.floor(s / 3600), mm = Math.floor(s / 60) % 60, ss = s % 60;
  return (hh ? hh + ":" + String(mm).padStart(2, "0") : mm) + ":" + String(ss).padStart(2, "0");
}
const since = (iso) => (iso ? clock((Date.now() - Date.parse(iso)) / 1000) : "-");
function until(iso) {
  if (!iso) return "-";
  const s = (Date.parse(iso) - Date.now()) / 1000;
  return s <= 1 ? "now" : "in " + clock(s);
}
const reasonWords = (r) => (r ? REASONS[r] || r : "about to start");

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 401) throw new Unauthorized();
  return r;
}
async function json(path, options) {
  const r = await api(path, options);
  const body = await r.json();
  return { status: r.status, body, eventId: Number(r.headers.get("Vramq-Event-Id") || 0) };
}

// --- the model, fed by snapshots and events ---------------------------------------------------

function noteJob(j) {
  const before = state.jobs.get(j.id);
  state.jobs.set(j.id, j);
  if (!before || before.state !== j.state || before.pending_reason !== j.pending_reason) {
    const what = j.state === "queued" ? "queued: " + reasonWords(j.pending_reason)
      : j.state === "running" ? "running on GPU " + (j.gpus || []).join(",")
      : j.state + (j.reason && j.reason !== j.state ? " (" + j.reason + ")" : "");
    const list = state.timeline.get(j.id) || [];
    list.push([new Date(), what]);
    state.timeline.set(j.id, list.slice(-50));
  }
}

// What each owner holds changes with its jobs: read again at most once a second after a job
// event. Admins only (the route is theirs): a 403, or a server without owners, hides the panel
// and stops the reads until the next fresh view.
let ownersPending = false;
async function loadOwners() {
  try {
    const r = await json("/v1/owners");
    state.owners = r.status === 200 && r.body.owners.length ? r.body : false;
  } catch (e) {
    state.owners = null;
  }
  schedule();
}
function ownersSoon() {
  if (ownersPending || state.owners === false) return;
  ownersPending = true;
  setTimeout(() => { ownersPending = false; loadOwners(); }, 1000);
}

function apply(type, d) {
  if (type === "job") {
    ownersSoon();
    noteJob(d);
    if (d.state === "running") state.running.set(d.id, d); else state.running.delete(d.id);
  } else if (type === "gpu") {
    state.gpus.set(d.index, d);
  } else if (type === "worker") {
    if (d.state === "exited") state.workers.delete(d.id); else state.workers.set(d.id, d);
  } else if (type === "queue") {
    state.queue = d;
  }
}

async function snapshot() {
  const [g, r, q, w] = await Promise.all([json("/v1/gpus"), json("/v1/jobs?state=running&limit=200"),
    json("/v1/queue"), json("/v1/workers")]);
  state.gpus.clear(); state.running.clear(); state.workers.clear();
  for (const gpu of g.body.gpus) apply("gpu", gpu);
  for (const j of r.body.jobs) apply("job", j);
  apply("queue", q.body);
  for (const wk of w.body.workers) apply("worker", wk);
  await loadOwners();
  return Math.min(g.eventId, r.eventId, q.eventId, w.eventId);
}

// Server-Sent Events over fetch: EventSource cannot send the token.
async function follow(after) {
  const r = await api("/v1/events?after=" + after);
  if (r.status !== 200) throw new Error("events: HTTP " + r.status);
  setStatus("live");
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", last = after;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return last;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r\n\r\n|\n\n|\r\r/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith("\r\n\r\n", end) ? 4 : 2));
      let id = null, type = "message", data = [];
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? "" : line.slice(colon + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        if (name === "id") id = Number(v);
        else if (name === "event") type = v;
        else if (name === "data") data.push(v);
      }
      if (id !== null) last = id;
      if (type === "reset") return null;  // a fresh view, then on
      if (data.length) apply(type, JSON.parse(data.join("\n")));
      schedule();
    }
  }
}

async function stream() {
  let after = null;
  for (;;) {
    try {
      if (after === null) {
        after = await snapshot();
        schedule();
      }
      after = await follow(after);
    } catch (e) {
      if (e instanceof Unauthorized) return showLogin("The token was refused.");
      setStatus("reconnecting…");
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// --- rendering -------------------------------------------------------------------------------

let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; render(); });
}
function setStatus(text) {
  document.getElementById("status").textContent = text;
}

function gpuCard() {
  const items = [...state.gpus.values()].map((g) => {
    const total = Math.max(1, g.total_mb);
    const foreign = Math.min(g.foreign_mb, g.used_mb);
    const measured = Math.max(0, g.used_mb - foreign);
    const reserved = Math.max(0, g.committed_mb - measured);
    const pct = (mb) => Math.min(100, (100 * mb) / total).toFixed(2) + "%";
    const hist = state.history.get(g.index) || [];
    const points = hist.map((mb, i) => `${(i * 100) / (HISTORY - 1)},${40 - (40 * mb) / total}`).join(" ");
    return h("div", { class: "gpu", "data-gpu": g.index },
      h("strong", {}, `GPU ${g.index} `), h("span", { class: "dim" }, g.name),
      g.known ? null : h("span", { class: "error" }, " cannot be read"),
      h("div", { class: "bar", title: "measured, reserved, foreign, free" },
        h("span", { class: "measured", style: `width:${pct(measured)}` }),
        h("span", { class: "reserved", style: `width:${pct(reserved)}` }),
        h("span", { class: "foreign", style: `width:${pct(foreign)}` })),
      h("div", { class: "numbers" },
        `${gib(g.used_mb)} of ${gib(g.total_mb)} used · ${gib(g.reserved_mb)} reserved · ` +
        `${gib(g.foreign_mb)} foreign · ${gib(g.available_mb)} free for new jobs`),
      h("div", { class: "numbers" }, "used, the last 5 minutes:"), svgHistory(points));
  });
  return h("section", { class: "card", id: "gpus" }, h("h2", {}, "GPUs"), items,
    h("div", { class: "legend" },
      h("span", {}, h("i", { class: "measured-key" }), "measured (vramq's jobs)"),
      h("span", {}, h("i", { class: "reserved-key" }), "reserved, not used yet"),
      h("span", {}, h("i", { class: "foreign-key" }), "others"),
      h("span", {}, h("i", { class: "free-key" }), "free")));
}
function svgHistory(points) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "history");
  svg.setAttribute("viewBox", "0 0 100 40");
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points);
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  return svg;
}

const jobLink = (id) => h("a", { href: `#/jobs/${id}` }, String(id));

function progressCell(p) {
  if (!p) return "-";
  const f = p.fraction;
  return h("span", {},
    f === null || f === undefined ? null
      : h("span", { class: "progress" }, h("span", { style: `width:${(100 * f).toFixed(1)}%` })),
    f === null || f === undefined ? "" : ` ${Math.round(100 * f)}%`,
    p.message ? " " + p.message : "");
}

function runningCard() {
  const rows = [...state.running.values()].map((j) => h("tr", { "data-job": j.id },
    h("td", {}, jobLink(j.id)), h("td", {}, j.task || "(command)"), h("td", {}, (j.gpus || []).join(",")),
    h("td", {}, progressCell(j.progress)),
    h("td", {}, j.progress && j.progress.eta_s !== null ? clock(j.progress.eta_s) : "-"),
    h("td", {}, `${j.measured_vram_mb === null ? "?" : mib(j.measured_vram_mb)} / ${mib(j.vram_mb)}`),
    h("td", {}, since(j.started_at))));
  return h("section", { class: "card", id: "running" }, h("h2", {}, `Running (${state.running.size})`),
    h("table", {}, h("tr", {}, ["job", "task", "GPU", "progress", "ETA", "VRAM used / reserved", "time"]
      .map((t) => h("th", {}, t))), rows));
}

function queueCard() {
  const q = state.queue;
  const rows = (q.head || []).map((j) => h("tr", { "data-job": j.id },
    h("td", {}, j.queue_position + 1), h("td", {}, jobLink(j.id)), h("td", {}, j.task || "(command)"),
    h("td", {}, mib(j.vram_mb) + (j.gpu_count > 1 ? ` × ${j.gpu_count}` : "")),
    h("td", { class: "why" }, reasonWords(j.pending_reason)), h("td", {}, until(j.predicted_start))));
  return h("section", { class: "card", id: "queue" },
    h("h2", {}, `Queue (${q.queued}${q.waiting ? `, +${q.waiting} waiting for other jobs or a delay` : ""})`),
    h("table", {}, h("tr", {}, ["#", "job", "task", "VRAM", "why it waits", "starts"].map((t) => h("th", {}, t))),
      rows));
}

function workersCard() {
  const rows = [...state.workers.values()].map((w) => h("tr", {},
    h("td", {}, w.id), h("td", {}, w.task), h("td", {}, w.gpu), h("td", {}, w.state),
    h("td", {}, mib(w.resident_mb)), h("td", {}, w.runs),
    h("td", {}, w.state === "idle" ? since(w.idle_since) : "-"),
    h("td", { class: "why" }, w.unload_reason || "")));
  return h("section", { class: "card", id: "workers" }, h("h2", {}, `Warm workers (${state.workers.size})`),
    h("table", {}, h("tr", {}, ["id", "task", "GPU", "state", "VRAM", "runs", "idle", "unloading because"]
      .map((t) => h("th", {}, t))), rows));
}

// Each owner's VRAM against its guarantee and limit: guaranteed use, then borrowed, on a bar as
// long as its limit (else its quota, else what it holds).
function ownersCard() {
  const list = state.owners && state.owners.owners;
  if (!list || !list.length) return null;
  const rows = list.map((o) => {
    const l = o.limits;
    const scale = Math.max(1, l.limit_mb || 0, l.quota_mb || 0, o.reserved_mb);
    const pct = (mb) => Math.min(100, (100 * mb) / scale).toFixed(2) + "%";
    const guaranteed = o.reserved_mb - o.borrowed_mb;
    const quota = l.quota_mb === null ? "no quota" : `quota ${mib(l.quota_mb)}`;
    const limit = l.limit_mb === null ? "" : ` · limit ${mib(l.limit_mb)}`;
    return h("div", { class: "owner", "data-owner": o.name },
      h("strong", {}, o.name), " ", h("span", { class: "dim" }, o.role + (o.group ? ` · ${o.group}` : "")),
      h("div", { class: "bar", title: "within its guarantee, borrowed, free of its limit; the mark is its quota" },
        h("span", { class: "measured", style: `width:${pct(guaranteed)}` }),
        h("span", { class: "reserved", style: `width:${pct(o.borrowed_mb)}` }),
        l.quota_mb === null ? null : h("i", { class: "quota-mark", style: `left:${pct(l.quota_mb)}` })),
      h("div", { class: "numbers" },
        `${mib(o.reserved_mb)} held` + (o.borrowed_mb ? ` (${mib(o.borrowed_mb)} borrowed)` : "") +
        ` · ${quota}${limit} · ${o.running} running · ${o.queued} waiting`));
  });
  return h("section", { class: "card", id: "owners" }, h("h2", {}, `Owners (${list.length})`), rows,
    h("div", { class: "legend" },
      h("span", {}, h("i", { class: "measured-key" }), "within its guarantee"),
      h("span", {}, h("i", { class: "reserved-key" }), "borrowed (reclaimable)"),
      h("span", {}, h("i", { class: "quota-key" }), "its quota")));
}

// --- the job page ------------------------------------------------------------------------------

let logView = { id: null, text: "", controller: null };

async function followLog(id) {
  if (logView.id === id) return;
  if (logView.controller) logView.controller.abort();
  logView = { id, text: "", controller: new AbortController() };
  const mine = logView;
  try {
    const r = await api(`/v1/jobs/${id}/log?stream=stderr&follow=1`, { signal: mine.controller.signal });
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      mine.text = (mine.text + decoder.decode(value, { stream: true })).slice(-20000);
      schedule();
    }
  } catch (e) {
    if (e instanceof Unauthorized) showLogin("The token was refused.");
  }
}

async function loadJob(id) {
  try {
    const r = await json(`/v1/jobs/${id}`);
    if (r.status === 200) { noteJob(r.body); schedule(); }
  } catch (e) { if (e instanceof Unauthorized) showLogin("The token was refused."); }
}

function jobPage(id) {
  const j = state.jobs.get(id);
  followLog(id);
  if (!j) { loadJob(id); return [h("section", { class: "card wide" }, `Loading job ${id}…`)]; }
  const live = j.state === "queued" || j.state === "running";
  const fields = [["state", h("span", { class: `state-${j.state}`, id: "job-state" }, j.state)],
    ["task", j.task || "(command)"], ["reason", j.reason], ["why it waits", j.state === "queued" ? reasonWords(j.pending_reason) : null],
    ["GPU", (j.gpus || []).join(",") || null], ["VRAM reserved", mib(j.vram_mb)],
    ["VRAM measured", j.measured_vram_mb === null ? null : mib(j.measured_vram_mb)],
    ["peak", j.peak_vram_mb === null ? null : mib(j.peak_vram_mb)],
    ["progress", j.progress ? progressCell(j.progress) : null],
    ["submitted", j.submitted_at], ["started", j.started_at], ["finished", j.finished_at],
    ["exit code", j.exit_code], ["error", j.error], ["attempt", j.attempt],
    ["params", JSON.stringify(j.params)], ["command", (j.command || []).join(" ")]]
    .filter(([, v]) => v !== null && v !== undefined && v !== "");
  const times = state.timeline.get(id) || [];
  return [
    h("section", { class: "card" }, h("h2", {}, `Job ${id}`, j.name ? ` · ${j.name}` : ""),
      h("dl", { class: "fields" }, fields.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      (j.warnings || []).map((w) => h("p", { class: "error" }, "warning: " + w)),
      live ? h("p", {}, h("button", { class: "danger", id: "cancel", onclick: () => cancel(id) }, "Cancel")) : null),
    h("section", { class: "card" }, h("h2", {}, "Timeline"),
      h("ol", { class: "timeline" }, times.map(([t, what]) => h("li", {}, `${t.toLocaleTimeString()} ${what}`)))),
    h("section", { class: "card wide" }, h("h2", {}, "stderr (live)"),
      h("pre", { class: "log", id: "log" }, logView.id === id ? logView.text : "")),
  ];
}

async function cancel(id) {
  if (!confirm(`Cancel job ${id}?`)) return;
  const r = await api(`/v1/jobs/${id}`, { method: "DELETE" });
  if (r.status >= 400) alert(`Cancel failed: HTTP ${r.status}`);
  loadJob(id);
}

// --- the submit form -----------------------------------------------------------------------------

const form = { task: null, values: {}, files: {}, dryRun: null, timer: null, message: null };

function paramInput(p) {
  const value = form.values[p.name] ?? p.default ?? "";
  const common = { name: p.name, id: `param-${p.name}`, required: p.required || false };
  let input;
  if (p.type === "enum") {
    input = h("select", common, p.values.map((v) => h("option", { value: v, selected: v === String(value) }, v === "" ? "(none)" : v)));
  } else if (p.type === "file") {
    // Uploaded with the job; the server tells its type by content (media_types) and checks its size.
    input = h("input", Object.assign({ type: "file", accept: (p.media_types || []).join(",") }, common, { required: p.required && !form.files[p.name] }));
    input.addEventListener("change", () => { form.files[p.name] = input.files[0]; form.message = null; schedule(); });
    const chosen = form.files[p.name] ? h("span", { class: "dim" }, ` ${form.files[p.name].name}`) : null;
    return h("label", {}, p.name, p.description ? h("span", { class: "dim" }, ` — ${p.description}`) : null, input, chosen);
  } else if (p.type === "int" || p.type === "float") {
    input = h("input", Object.assign({ type: "number", min: p.min, max: p.max, step: p.type === "int" ? 1 : "any", value }, common));
  } else {
    // (The pattern is the server's RE2 syntax, not the browser's: the server checks it.)
    input = h("input", Object.assign({ type: "text", maxlength: p.max_length, value, title: p.pattern }, common));
  }
  input.addEventListener("input", () => { form.values[p.name] = input.value; planSoon(); });
  return h("label", {}, p.name, p.description ? h("span", { class: "dim" }, ` — ${p.description}`) : null, input);
}

function formBody() {
  const task = (state.tasks || []).find((t) => t.name === form.task);
  const params = {};
  for (const p of task ? task.params : []) {
    if (p.type === "file") continue;  // uploaded beside the JSON (submit)
    const raw = form.values[p.name];
    if (raw === undefined || raw === "") continue;
    params[p.name] = p.type === "int" ? parseInt(raw, 10) : p.type === "float" ? parseFloat(raw) : raw;
  }
  return { task: form.task, params };
}

function planSoon() {
  clearTimeout(form.timer);
  form.timer = setTimeout(async () => {
    try {
      const r = await json("/v1/jobs?dry_run=1", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(formBody()) });
      form.dryRun = r.body;
    } catch (e) { form.dryRun = null; }
    schedule();
  }, 250);
}

function dryRunText(d) {
  if (!d) return "";
  const task = (state.tasks || []).find((t) => t.name === form.task);
  const file = d.problem && task && task.params.find((p) => p.type === "file" && d.problem.field === `params.${p.name}`);
  if (file) return `Its file ${file.name} is checked when it is uploaded.`;
  if (d.decision === "admit") return `Would reserve ${mib(d.vram_mb)} and start now on GPU ${d.gpu}.`;
  if (d.decision === "queue") return `Would reserve ${mib(d.vram_mb)} and wait: ${reasonWords(d.pending_reason)} (starts ${until(d.predicted_start)}).`;
  return `Would be refused: ${d.problem ? d.problem.detail : "invalid"}`;
}

async function submit(event) {
  event.preventDefault();
  const files = Object.entries(form.files).filter(([, f]) => f);
  let request = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(formBody()) };
  if (files.length) {
    // multipart/form-data: the job's JSON first (a plain field, no filename), then each file.
    const data = new FormData();
    data.append("job", JSON.stringify(formBody()));
    for (const [name, f] of files) data.append(name, f, f.name);
    request = { method: "POST", body: data };  // the browser sets the boundary
  }
  const r = await json("/v1/jobs", request);
  if (r.status === 202 || r.status === 200) {
    form.files = {};
    // The answer is the job as admitted; the event stream may already have told more of it (a
    // short job can end before the answer arrives).
    if (!state.jobs.has(r.body.id)) noteJob(r.body);
    location.hash = `#/jobs/${r.body.id}`;
  } else {
    form.message = r.body.detail || `HTTP ${r.status}`;
    schedule();
  }
}

function submitPage() {
  if (!state.tasks) return [h("section", { class: "card wide" }, "Loading tasks…")];
  if (!form.task) { form.task = state.tasks[0] && state.tasks[0].name; planSoon(); }
  const task = state.tasks.find((t) => t.name === form.task);
  const picker = h("select", { id: "task", name: "task" },
    state.tasks.map((t) => h("option", { value: t.name, selected: t.name === form.task }, t.name)));
  picker.addEventListener("change", () => { form.task = picker.value; form.values = {}; form.files = {}; planSoon(); schedule(); });
  return [h("section", { class: "card" }, h("h2", {}, "Submit a job"),
    h("form", { class: "submit", id: "submit-form", onsubmit: submit },
      h("label", {}, "task", picker), task && task.description ? h("p", { class: "dim" }, task.description) : null,
      task ? task.params.map(paramInput) : null,
      h("p", { id: "dry-run" }, dryRunText(form.dryRun)),
      h("p", { class: "error", id: "submit-error" }, form.message || ""),
      h("button", { type: "submit" }, "Submit")))];
}

// --- pages -------------------------------------------------------------------------------------

function render() {
  const main = document.getElementById("main");
  if (!state.live && !state.tasks) return;
  const route = location.hash.replace(/^#/, "") || "/";
  const m = route.match(/^\/jobs\/(\d+)$/);
  // Keep focus and typed values: the form is rebuilt only when its page is first shown.
  if (route === "/submit" && main.dataset.page === "submit" && document.activeElement && main.contains(document.activeElement)) {
    const dry = document.getElementById("dry-run");
    if (dry) dry.textContent = dryRunText(form.dryRun);
    const error = document.getElementById("submit-error");
    if (error) error.textContent = form.message || "";
    return;
  }
  let content;
  if (m) content = jobPage(Number(m[1]));
  else if (route === "/submit") content = submitPage();
  else content = [gpuCard(), queueCard(), runningCard(), workersCard(), ownersCard()].filter(Boolean);
  main.dataset.page = m ? "job" : route === "/submit" ? "submit" : "overview";
  main.replaceChildren(...content);
}

function showLogin(message) {
  document.getElementById("main").replaceChildren();
  const login = document.getElementById("login");
  login.hidden = false;
  const err = document.getElementById("login-error");
  err.hidden = !message;
  err.textContent = message || "";
  setStatus("signed out");
}

async function start() {
  try {
    const r = await json("/v1/tasks");
    state.tasks = r.body.tasks;
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin(state.token ? "The token was refused." : "");
    setStatus("cannot reach the server");
    return setTimeout(start, 2000);
  }
  document.getElementById("login").hidden = true;
  state.live = true;
  stream();
  render();
}

document.getElementById("login").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = document.getElementById("token").value.trim();
  sessionStorage.setItem("vramq-token", state.token);
  start();
});
window.addEventListener("hashchange", render);
// The clocks (elapsed, idle, ETA) move every second; the VRAM history takes a point every 2 s.
const HISTORY = 150;
let tick = 0;
setInterval(() => {
  if (++tick % 2 === 0) {
    for (const [index, g] of state.gpus) {
      const hist = state.history.get(index) || [];
      hist.push(g.used_mb);
      state.history.set(index, hist.slice(-HISTORY));
    }
  }
  if (document.getElementById("main").dataset.page !== "submit") schedule();
}, 1000);
start();
