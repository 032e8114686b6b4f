// The web dashboard (docs/user-guide.md, "The web dashboard") in real headless Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core, against the real vramq binary on a simulated
// GPU: it loads without console errors and shows the GPU; a job submitted through the form goes
// queued -> running -> succeeded on screen without a reload; a job that does not fit shows why it
// waits; cancel works; after a restart it re-reads what it missed (the stream's `reset`); with
// tokens the page asks for one and shows nothing before; an admin sees the owners' panel. Screenshots go
// to $SCREENSHOTS (default build/screenshots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.VRAMQ_BIN || resolve(here, "../../build/vramq");
const SHOTS = process.env.SCREENSHOTS || resolve(here, "../../build/screenshots");
const SLOW = process.env.VRAMQ_SANITIZED ? 4 : 1;
mkdirSync(SHOTS, { recursive: true });

const servers = [];
let browser;

async function startServer(...args) {
  const dir = mkdtempSync(join(tmpdir(), "vramq-browser-"));
  mkdirSync(join(dir, "locks"));
  return launch(dir, "127.0.0.1:0", args);
}

async function launch(dir, listen, args) {
  const proc = spawn(BIN, ["serve", "--listen", listen, "--data-dir", join(dir, "data"),
    "--gpus", "sim:24GiB", "--gpu-poll-ms", "100", "--gpu-lock-dir", join(dir, "locks"), ...args],
  { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const url = await new Promise((ok, fail) => {
    const onData = (b) => {
      log += b.toString();
      const m = log.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) ok(m[1]);
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("exit", (code) => fail(new Error(`vramq exited ${code}: ${log}`)));
  });
  const server = { proc, url, dir, args, log: () => log };
  servers.push(server);
  return server;
}

// The same server again (its data directory, address and options) after a SIGTERM.
async function restartServer(s) {
  const exited = new Promise((ok) => s.proc.on("exit", ok));
  s.proc.kill("SIGTERM");
  await exited;
  return launch(s.dir, s.url.replace("http://", ""), s.args);
}

async function api(server, method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(server.url + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return r.json();
}

async function openPage(url, viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(url);
  return { page, problems };
}

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"] });
});

after(async () => {
  if (browser) await browser.close();
  for (const s of servers) s.proc.kill("SIGTERM");
});

test("loads without console errors and shows the GPU, live", async () => {
  const s = await startServer();
  const { page, problems } = await openPage(s.url);
  await page.locator("#gpus").getByText("GPU 0").waitFor();
  await page.getByText("live").waitFor();
  // Jobs started by someone else appear without a reload, with their measured use; one that
  // does not fit waits in the queue, with its reason.
  const job = await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 30, vram_mb: 6000 } });
  await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 30, vram_mb: 9000, grow_to_mb: 0 } });
  await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 5, vram_mb: 16000 } });
  await page.locator(`#running tr[data-job="${job.id}"]`).waitFor();
  await page.locator(`#running tr[data-job="${job.id}"]`).getByText("5.9 GiB / 5.9 GiB").waitFor();
  await page.locator("#queue").getByText("waiting for VRAM to free up").waitFor();
  await page.waitForTimeout(4500);  // a few points of history
  await page.screenshot({ path: join(SHOTS, "dashboard.png"), fullPage: true });
  assert.deepEqual(problems, []);
  // A phone's screen: nothing wider than it.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: join(SHOTS, "dashboard-phone.png"), fullPage: true });
  await page.close();
});

test("a job submitted through the form goes queued, running, succeeded on screen", async () => {
  const s = await startServer();
  const { page, problems } = await openPage(s.url + "/#/submit");
  await page.locator("#task").selectOption("fake-model");
  await page.locator("#param-seconds").fill("1");
  await page.locator("#param-vram_mb").fill("4096");
  await page.locator("#dry-run").getByText("Would reserve 4.0 GiB and start now on GPU 0.").waitFor();
  // Someone else's job holds the GPU for 2 s: this one must wait for it first.
  await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 2, vram_mb: 20000 } });
  await page.locator("#param-vram_mb").fill("20000");
  await page.locator("#dry-run").getByText("waiting for VRAM to free up").waitFor();
  await page.screenshot({ path: join(SHOTS, "submit.png"), fullPage: true });
  await page.getByRole("button", { name: "Submit" }).click();
  await page.waitForURL(/#\/jobs\/\d+$/);
  const seen = [];
  const deadline = Date.now() + 30000 * SLOW;
  while (Date.now() < deadline) {
    const text = await page.locator("#job-state").textContent({ timeout: 1000 }).catch(() => null);
    if (text && seen[seen.length - 1] !== text) seen.push(text);
    if (text === "succeeded") break;
    await page.waitForTimeout(50);
  }
  assert.deepEqual(seen, ["queued", "running", "succeeded"]);
  await page.locator("#log").getByText("progress 100%").waitFor();
  await page.screenshot({ path: join(SHOTS, "job.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("a file chosen in the form is uploaded with the job", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vramq-browser-tasks-"));
  const tasks = join(dir, "tasks.toml");
  writeFileSync(tasks, `[tasks.measure]
argv = ["/bin/sh", "-c", "echo bytes $(wc -c < \\"$1\\") >&2", "sh", "{image}"]
[tasks.measure.params]
image = { type = "file", media_types = ["image/png"], description = "a picture" }
[tasks.measure.vram]
base_mb = 512
`);
  const s = await startServer("--tasks", tasks);
  const { page, problems } = await openPage(s.url + "/#/submit");
  await page.locator("#task").selectOption("measure");
  await page.locator("#dry-run").getByText("Its file image is checked when it is uploaded.").waitFor();
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(1000, 7)]);
  await page.locator("#param-image").setInputFiles({ name: "cat.png", mimeType: "image/png", buffer: png });
  await page.getByRole("button", { name: "Submit" }).click();
  await page.waitForURL(/#\/jobs\/\d+$/);
  await page.locator("#job-state").getByText("succeeded").waitFor({ timeout: 30000 * SLOW });
  await page.locator("#log").getByText("bytes 1008").waitFor();
  // A file of another type is refused, and the form says why.
  await page.goto(s.url + "/#/submit");
  await page.locator("#task").selectOption("measure");
  await page.locator("#param-image").setInputFiles({ name: "notes.png", mimeType: "image/png", buffer: Buffer.from("plain text\n") });
  await page.getByRole("button", { name: "Submit" }).click();
  await page.getByText("is text/plain by its content").waitFor();
  assert.deepEqual(problems.filter((p) => !p.includes("415")), []);
  await page.close();
});

test("a job that does not fit shows why it waits, and cancel works", async () => {
  const s = await startServer();
  const big = await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 60, vram_mb: 20000 } });
  const waiting = await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 30, vram_mb: 20000 } });
  const { page, problems } = await openPage(s.url);
  const row = page.locator(`#queue tr[data-job="${waiting.id}"]`);
  await row.getByText("waiting for VRAM to free up").waitFor();
  await page.locator(`#running tr[data-job="${big.id}"] a`).click();
  await page.waitForURL(new RegExp(`#/jobs/${big.id}$`));
  page.on("dialog", (d) => d.accept());
  await page.locator("#cancel").click();
  await page.locator("#job-state").getByText("cancelled").waitFor();
  // The waiting one starts once the GPU is free, and the overview follows.
  await page.goto(s.url + "/#/");
  // It leaves the queue for the running table (not merely vanishes: a job that failed or was
  // dropped would too).
  await page.locator(`#queue tr[data-job="${waiting.id}"]`).waitFor({ state: "detached" });
  await page.locator(`#running tr[data-job="${waiting.id}"]`).waitFor();
  assert.equal((await api(s, "GET", `/v1/jobs/${waiting.id}`)).state, "running");
  await api(s, "DELETE", `/v1/jobs/${waiting.id}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test("after the server restarts it re-reads what it missed (a reset) and goes on live", async () => {
  const s = await startServer();
  const { page } = await openPage(s.url);
  await page.locator("#gpus").getByText("GPU 0").waitFor();
  // The page cannot reach the new server's stream until the jobs below exist: it resumes from
  // the old server's last event id, which the new one answers with `reset`, so it can show them
  // only if it takes a fresh view on that reset. (Its failed tries log console errors: expected.)
  await page.route("**/v1/events**", (r) => r.abort());
  const s2 = await restartServer(s);
  const big = await api(s2, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 60, vram_mb: 20000 } });
  const waiting = await api(s2, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 30, vram_mb: 20000 } });
  const deadline = Date.now() + 15000 * SLOW;
  while ((await api(s2, "GET", `/v1/jobs/${big.id}`)).state !== "running") {
    assert.ok(Date.now() < deadline, "the big job never started");
    await new Promise((r) => setTimeout(r, 50));
  }
  await page.unroute("**/v1/events**");
  await page.locator(`#queue tr[data-job="${waiting.id}"]`).getByText("waiting for VRAM to free up").waitFor();
  await page.locator(`#running tr[data-job="${big.id}"]`).waitFor();
  const metrics = await (await fetch(s2.url + "/metrics")).text();
  assert.match(metrics, /^vramq_event_resets_total\{reason="gone"\} 1$/m);
  // Live again: the waiting job starts when the big one is cancelled, and the page follows.
  await api(s2, "DELETE", `/v1/jobs/${big.id}`);
  await page.locator(`#running tr[data-job="${waiting.id}"]`).waitFor();
  await api(s2, "DELETE", `/v1/jobs/${waiting.id}`);
  await page.close();
});

test("with tokens it asks for one and shows nothing without it", async () => {
  const tokens = join(mkdtempSync(join(tmpdir(), "vramq-tokens-")), "tokens");
  writeFileSync(tokens, "dashboard-token-0123456789abcdef:ann\n");
  chmodSync(tokens, 0o600);
  const s = await startServer("--token-file", tokens);
  const { page } = await openPage(s.url);
  await page.locator("#login").waitFor();
  assert.equal(await page.locator("#main").textContent(), "");
  await page.locator("#token").fill("a-wrong-token-0123456789");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("The token was refused.").waitFor();
  assert.equal(await page.locator("#gpus").count(), 0);
  await page.locator("#token").fill("dashboard-token-0123456789abcdef");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#gpus").getByText("GPU 0").waitFor();
  assert.equal(await page.locator("#login").isHidden(), true);
  await page.close();
});

test("an admin sees each owner's VRAM against its quota; a user does not", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vramq-owners-"));
  const hash = (t) => {
    const r = spawnSync(BIN, ["token", "hash"], { input: t + "\n" });
    return r.stdout.toString().trim();
  };
  const owners = join(dir, "owners.toml");
  writeFileSync(owners, `[owners.ann]\ntokens = ["${hash("ann-token-0123456789abcdef")}"]\n` +
    `quota_mb = 8192\nlimit_mb = 16384\n` +
    `[owners.boss]\nrole = "admin"\ntokens = ["${hash("boss-token-0123456789abcdef")}"]\n`);
  chmodSync(owners, 0o600);
  const s = await startServer("--owners", owners);
  await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 60, vram_mb: 6144 } },
    "ann-token-0123456789abcdef");
  const { page, problems } = await openPage(s.url);
  await page.locator("#token").fill("boss-token-0123456789abcdef");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#gpus").getByText("GPU 0").waitFor();
  problems.length = 0;  // the first load's 401, before the token was given
  const ann = page.locator('#owners [data-owner="ann"]');
  await ann.getByText("6.0 GiB held · quota 8.0 GiB · limit 16.0 GiB · 1 running · 0 waiting").waitFor();
  await page.screenshot({ path: join(SHOTS, "owners.png"), fullPage: true });
  // A second job of ann's, not preemptible, waits above its guarantee: the panel follows.
  await api(s, "POST", "/v1/jobs", { task: "fake-model", params: { seconds: 60, vram_mb: 6144 } },
    "ann-token-0123456789abcdef");
  await ann.getByText("1 running · 1 waiting").waitFor();
  assert.deepEqual(problems, []);
  await page.close();
  // ann (a user) gets the overview without the panel.
  const user = await openPage(s.url);
  await user.page.locator("#token").fill("ann-token-0123456789abcdef");
  await user.page.getByRole("button", { name: "Sign in" }).click();
  await user.page.locator("#gpus").getByText("GPU 0").waitFor();
  await user.page.locator("#running tr").nth(1).waitFor();
  assert.equal(await user.page.locator("#owners").count(), 0);
  await user.page.close();
});
