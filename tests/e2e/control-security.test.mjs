// The control plane against other web pages, in a real browser (issue 15): headless Chromium
// opens a page of another site (http://evil.test:<port>/, served by this test) that tries what
// any page the user visits could — `fetch` with and without CORS, forms posting text/plain and
// url-encoded bodies into a hidden frame — against the control API of a localatlas on
// 127.0.0.1, and then the same localatlas under a rebound name (http://evil.test:<its port>/,
// DNS rebinding). Everything is refused and nothing changes: the clock, the state (a project
// that a reset would delete), the fault rules. The console on its own origin keeps working: it
// shows the state and adds and removes a fault rule through its own form.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { start } from "./lib/localatlas.mjs";

const browserPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

let server;
let browser;
let evil;
let evilPort;

/** The attacker's page: every request a foreign page can make without the user's help. */
function attackPage(target) {
  return `<!doctype html><meta charset="utf-8"><title>a page on another site</title>
<iframe name="sink" style="display:none"></iframe>
<script>
const T = ${JSON.stringify(target)};
const results = {};
async function attempt(name, run) {
  try { results[name] = await run(); } catch (e) { results[name] = "threw: " + e.name; }
}
function post(action, enctype, fields) {
  return new Promise((resolve) => {
    const frame = document.querySelector("iframe");
    frame.onload = () => resolve("submitted");
    const form = document.createElement("form");
    form.method = "POST"; form.action = T + action; form.enctype = enctype; form.target = "sink";
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
    setTimeout(() => resolve("timeout"), 5000);
  });
}
(async () => {
  // Simple requests need no preflight: they reach the server; only the answer is hidden.
  await attempt("clockNoCors", () => fetch(T + "/__localatlas/clock", { method: "POST", mode: "no-cors",
    headers: { "Content-Type": "text/plain" }, body: '{"advanceSeconds": 3600}' }).then((r) => r.type));
  await attempt("resetNoCors", () => fetch(T + "/__localatlas/reset", { method: "POST", mode: "no-cors" }).then((r) => r.type));
  await attempt("faultNoCors", () => fetch(T + "/__localatlas/faults", { method: "POST", mode: "no-cors",
    headers: { "Content-Type": "text/plain" }, body: '{"status": 503}' }).then((r) => r.type));
  // Reading needs CORS allowances, which never come.
  await attempt("readState", () => fetch(T + "/__localatlas/state").then((r) => r.text()).then((t) => t.slice(0, 40)));
  await attempt("jsonReset", () => fetch(T + "/__localatlas/reset", { method: "POST",
    headers: { "Content-Type": "application/json" }, body: "{}" }).then((r) => r.status));
  // Forms: the classic JSON-in-text/plain trick, and a url-encoded one.
  await attempt("formClock", () => post("/__localatlas/clock", "text/plain", { '{"advanceSeconds": 3600, "x": "': '"}' }));
  await attempt("formReset", () => post("/__localatlas/reset", "application/x-www-form-urlencoded", { go: "1" }));
  window.results = results;
})();
</script>`;
}

async function createProject(name) {
  const { apiKey, orgId } = server.boot;
  const r = spawnSync("curl", ["-s", "--digest", "-u", `${apiKey.publicKey}:${apiKey.privateKey}`,
    "-H", "Accept: application/vnd.atlas.2023-01-01+json", "-H", "Content-Type: application/json",
    "-X", "POST", `${server.baseUrl}/api/atlas/v2/groups`, "-d", JSON.stringify({ name, orgId })], { encoding: "utf8" });
  return JSON.parse(r.stdout).id;
}

async function projectNames() {
  const tree = (await server.control("GET", "resources")).body;
  return tree.organizations.flatMap((o) => o.projects.map((p) => p.name));
}

before(async () => {
  assert.ok(existsSync(browserPath), `no Chromium at ${browserPath} (apt-get install chromium)`);
  server = await start({ tls: false });
  evil = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(attackPage(server.baseUrl));
  });
  await new Promise((r) => evil.listen(0, "127.0.0.1", r));
  evilPort = evil.address().port;
  browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
      // evil.test is the attacker's name; it resolves to this machine (as after a rebinding).
      "--host-resolver-rules=MAP evil.test 127.0.0.1"],
  });
});
after(async () => {
  await browser?.close();
  await new Promise((r) => (evil ? evil.close(r) : r()));
  await server?.stop();
});

test("a page of another site can neither drive nor read the control API", async (t) => {
  const project = await createProject("witness");
  assert.ok(project, "the witness project was created");
  const clockBefore = (await server.control("GET", "clock")).body;

  const page = await browser.newPage();
  const seen = [];
  page.on("response", (r) => {
    if (r.url().startsWith(server.baseUrl)) seen.push([r.request().method(), new URL(r.url()).pathname, r.status()]);
  });
  await page.goto(`http://evil.test:${evilPort}/`);
  await page.waitForFunction(() => window.results, null, { timeout: 30_000 });
  const results = await page.evaluate(() => window.results);

  t.diagnostic(JSON.stringify({ results, seen }));
  // The answers a page could read: none.
  assert.equal(results.readState, "threw: TypeError", JSON.stringify(results));
  assert.equal(results.jsonReset, "threw: TypeError", JSON.stringify(results));
  // What reached the server (three CORS-free fetches, two forms) was refused.
  assert.ok(seen.length >= 5, `requests seen: ${JSON.stringify(seen)}`);
  for (const [method, path, status] of seen) {
    assert.ok(status >= 400 && status < 500, `${method} ${path} answered ${status}`);
  }
  // Nothing changed.
  const clockAfter = (await server.control("GET", "clock")).body;
  assert.equal(clockAfter.offsetSeconds, clockBefore.offsetSeconds, "the clock moved");
  assert.ok((await projectNames()).includes("witness"), "the state was reset");
  assert.deepEqual((await server.control("GET", "faults")).body.rules, [], "a fault rule was added");
  await page.close();
});

test("under a rebound name the server shows nothing", async () => {
  const port = new URL(server.baseUrl).port;
  const page = await browser.newPage();
  for (const path of ["/", "/__localatlas/state"]) {
    const response = await page.goto(`http://evil.test:${port}${path}`);
    assert.equal(response.status(), 403, path);
    const body = await response.json();
    assert.equal(body.error, "HOST_NOT_ALLOWED");
    assert.ok(!(await response.text()).includes(server.boot.apiKey.privateKey));
  }
  await page.close();
});

test("the console on its own origin keeps working", async () => {
  const page = await browser.newPage();
  await page.goto(`${server.baseUrl}/`);
  await page.waitForSelector("[data-org]");
  await page.fill("#fault-operation", "getGroup");
  await page.fill("#fault-status", "503");
  await page.fill("#fault-times", "1");
  await page.click("#fault-add");
  await page.locator('#fault-result[data-outcome="ok"]', { hasText: "Added rule" }).waitFor();
  const rules = (await server.control("GET", "faults")).body.rules;
  assert.equal(rules.length, 1);
  // Its remove button (a DELETE from the page's own origin).
  await page.locator(`[data-rule="${rules[0].id}"] button`).click();
  await page.locator(`[data-rule="${rules[0].id}"]`).waitFor({ state: "detached" });
  assert.deepEqual((await server.control("GET", "faults")).body.rules, []);
  await page.close();
});
