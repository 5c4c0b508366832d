// The console in a real browser: Debian's headless Chromium (driven by playwright-core, no
// browser download) opens http://127.0.0.1:<port>/ while a cluster is created and its manual
// lifecycle advanced; the page must show the state change, the request, the coverage and a
// fault rule, and the screenshots are checked: not blank, and the cluster's state badge changes
// from the transitional colour (amber) to the settled one (green). Then what a person does with
// it: open a resource and read its JSON as Atlas answers it in two versions (and run the curl the
// page gives), find a Digest call as one row, filter the requests, jump between sections, keep
// the page short at 1400 and 800 px wide with hundreds of requests, and add fault rules through
// the form (a refused one shown as an error; an injected USER_ALREADY_EXISTS naming the user).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";
import { start } from "./lib/localatlas.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const browserPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const shots = join(here, "screenshots");
/** Page heights the console must stay within, with hundreds of requests and dozens of resources. */
const MAX_HEIGHT = { 1400: 2400, 800: 3000 };

let server;
let browser;
let page;
before(async () => {
  assert.ok(existsSync(browserPath), `no Chromium at ${browserPath} (apt-get install chromium)`);
  server = await start({ tls: false, flags: ["--lifecycle", "manual"] });
  // playwright-core gives every launch a fresh temporary profile (--user-data-dir).
  browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  mkdirSync(shots, { recursive: true });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** One Atlas call with curl over HTTP Digest (a challenge, then the retry): status and body. */
function atlas(method, path, { body, version = "2024-08-05", user } = {}) {
  const { apiKey } = server.boot;
  const args = ["-s", "-w", "\n%{http_code}", "--digest", "-u", user || `${apiKey.publicKey}:${apiKey.privateKey}`,
    "-H", `Accept: application/vnd.atlas.${version}+json`, "-X", method, `${server.baseUrl}${path}`];
  if (body !== undefined) args.push("-H", "Content-Type: application/json", "-d", JSON.stringify(body));
  const r = spawnSync("curl", args, { encoding: "utf8" });
  const cut = r.stdout.lastIndexOf("\n");
  const text = r.stdout.slice(0, cut);
  return { status: Number(r.stdout.slice(cut + 1)), body: text ? JSON.parse(text) : null };
}

const project = () => `/api/atlas/v2/groups/${server.boot.projectId}`;

function createCluster(name) {
  return atlas("POST", `${project()}/clusters`, { body: { name, clusterType: "REPLICASET", replicationSpecs: [{ regionConfigs: [{
    providerName: "AWS", regionName: "US_EAST_1", priority: 7, electableSpecs: { instanceSize: "M10", nodeCount: 3 } }] }] } }).status;
}

function databaseUser(username) {
  return atlas("POST", `${project()}/databaseUsers`, { version: "2023-01-01", body: { databaseName: "admin", username,
    password: "secretpassw0rd", groupId: server.boot.projectId, roles: [{ databaseName: "admin", roleName: "readWrite" }] } });
}

/** Mean colour of the pixels that are not near-white (the badge's background and text). */
function inkColour(png) {
  let [r, g, b, n] = [0, 0, 0, 0];
  for (let i = 0; i < png.data.length; i += 4) {
    const [pr, pg, pb] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (pr > 250 && pg > 250 && pb > 250) continue;
    r += pr; g += pg; b += pb; n += 1;
  }
  assert.ok(n > 0, "the badge has no coloured pixel");
  return { r: r / n, g: g / n, b: b / n };
}

function distinctColours(png) {
  const seen = new Set();
  for (let i = 0; i < png.data.length; i += 4 * 7) seen.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
  return seen.size;
}

/** Waits until the page has polled at least once more. */
async function nextRefresh() {
  const before = await page.evaluate(() => Number(document.body.dataset.refreshed || 0));
  await page.waitForFunction((t) => Number(document.body.dataset.refreshed || 0) > t, before);
}

test("the console shows a cluster's state change, requests, coverage and fault rules", async () => {
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${server.baseUrl}/`);
  await page.waitForSelector("[data-org]");

  assert.equal(createCluster("console-demo"), 201);
  const row = page.locator(`[data-resource$="/clusters/console-demo"]`);
  await row.locator('[data-state="CREATING"]').waitFor();
  const creating = PNG.sync.read(await row.locator(".badge").screenshot());
  assert.match(await row.innerText(), /CREATING → IDLE/);

  // A fault rule shows in its table.
  const added = await server.control("POST", "faults", { operationId: "createGroupCluster", status: 503, times: 2 });
  assert.equal(added.status, 201);
  await page.locator(`[data-rule="${added.body.id}"]`).waitFor();

  // The manual lifecycle completes: the console shows the new state without anyone reading it.
  assert.equal((await server.control("POST", "lifecycle/advance")).status, 200);
  await row.locator('[data-state="IDLE"]').waitFor();
  const idle = PNG.sync.read(await row.locator(".badge").screenshot());

  // The request and the operation it touched.
  await page.locator("#request-rows tr", { hasText: "/clusters" }).first().waitFor();
  await page.locator('[data-operation="createGroupCluster"]').waitFor();
  const full = await page.screenshot({ fullPage: true });
  writeFileSync(join(shots, "console.png"), full);

  // Screenshot checks: a real page, and the badge changed from amber to green.
  const whole = PNG.sync.read(full);
  assert.ok(whole.width >= 1000 && whole.height >= 600, `${whole.width}x${whole.height}`);
  assert.ok(distinctColours(whole) > 20, "the page looks blank");
  const amber = inkColour(creating);
  const green = inkColour(idle);
  assert.ok(amber.r > amber.b, `CREATING badge is not amber: ${JSON.stringify(amber)}`);
  assert.ok(green.g > green.r, `IDLE badge is not green: ${JSON.stringify(green)}`);
  assert.equal((await server.control("DELETE", "faults")).status, 200);
});

test("a resource opens as Atlas answers it, in the version picked, with a curl that runs", async () => {
  const { apiKey } = server.boot;
  assert.equal(atlas("POST", `${project()}/accessList`, { version: "2023-01-01", body: [{ cidrBlock: "203.0.113.7/32" }] }).status, 201);
  assert.equal(databaseUser("alice").status, 201);

  // Names people know: the access-list entry decoded, the API key by its public key, no "(document)".
  const entry = page.locator(`[data-resource$="/accessList/203.0.113.7%2F32"]`);
  await entry.waitFor();
  assert.match(await entry.innerText(), /203\.0\.113\.7\/32/);
  const tree = await page.locator("#tree").innerText();
  assert.ok(!tree.includes("%2F"), "an encoded key is shown");
  assert.ok(!tree.includes("(document)"), "a meaningless label is shown");
  assert.match(tree, /organization settings/);
  assert.match(await page.locator(`[data-org] [data-resource*="/apiKeys/"]`).first().innerText(), new RegExp(apiKey.publicKey));

  // Open the cluster: its JSON in the newest version, then in 2023-02-01.
  await page.locator(`[data-resource$="/clusters/console-demo"] button[data-open]`).click();
  const json = page.locator("#viewer-json");
  await page.locator("#viewer[open]").waitFor();
  await page.waitForSelector("#viewer-json[data-version]");
  const versions = await page.locator("#viewer-version option").allInnerTexts();
  assert.ok(versions.length >= 3 && versions.includes("2023-02-01"), versions.join(" "));
  const newest = JSON.parse(await json.innerText());
  assert.equal(newest.name, "console-demo");
  assert.equal(newest.stateName, "IDLE");
  await page.locator("#viewer-version").selectOption("2023-02-01");
  await page.waitForSelector('#viewer-json[data-version="2023-02-01"]');
  const older = JSON.parse(await json.innerText());
  assert.notDeepEqual(older, newest);
  // Exactly what a client gets in that version.
  const read = atlas("GET", `${project()}/clusters/console-demo`, { version: "2023-02-01" });
  assert.equal(read.status, 200);
  assert.deepEqual(older, read.body);

  // The curl names the version and the bootstrap key's public key; the private key stays in
  // $PRIVATE_KEY and never reaches the page. Run as given, it answers the same document.
  const curl = await page.locator("#viewer-curl").innerText();
  assert.match(curl, /Accept: application\/vnd\.atlas\.2023-02-01\+json/);
  assert.ok(curl.includes(`--digest -u "${apiKey.publicKey}:$PRIVATE_KEY"`), curl);
  assert.ok(!(await page.content()).includes(apiKey.privateKey), "the private key is in the page");
  const ran = spawnSync("bash", ["-c", curl.replace(/^curl /, "curl -s ")], { encoding: "utf8", env: { ...process.env, PRIVATE_KEY: apiKey.privateKey } });
  assert.deepEqual(JSON.parse(ran.stdout), read.body);
  writeFileSync(join(shots, "console-viewer.png"), await page.screenshot());
  await page.locator("#viewer-close").click();

  // The access-list entry and the database user open too.
  await entry.locator("button[data-open]").click();
  await page.waitForSelector("#viewer-json[data-version]");
  await page.waitForFunction(() => document.querySelector("#viewer-json").textContent.includes("cidrBlock"));
  assert.equal(JSON.parse(await json.innerText()).cidrBlock, "203.0.113.7/32");
  await page.locator("#viewer-close").click();
  await page.locator(`[data-resource$="/databaseUsers/admin/alice"] button[data-open]`).click();
  await page.waitForFunction(() => document.querySelector("#viewer-json").textContent.includes('"username": "alice"'));
  assert.match(await page.locator("#viewer-op").innerText(), /getGroupDatabaseUser/);
  await page.locator("#viewer-close").click();
});

test("a Digest call is one row, and the filters narrow the requests", async () => {
  // curl --digest sends each call twice: unauthenticated (401 + WWW-Authenticate), then signed.
  assert.equal(atlas("GET", project()).status, 200);
  assert.equal(atlas("GET", `${project()}/clusters/not-there`).status, 404);
  assert.equal(atlas("GET", project(), { user: `${server.boot.apiKey.publicKey}:wrong` }).status, 401);
  await nextRefresh();
  await nextRefresh();
  const exact = page.locator(`#request-rows tr:has(td.path[title="${project()}"])`);
  const rows = await exact.evaluateAll((trs) => trs.map((tr) => tr.dataset.status));
  // The successful call and the refused one: one row each, not four.
  assert.deepEqual(rows.sort(), ["200", "401"]);
  assert.ok(await exact.locator("[data-digest]").count() >= 1, "the row does not say it was challenged");

  const statuses = () => page.locator("#request-rows tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.status));
  await page.locator("#filter-status").selectOption("4");
  const clientErrors = await statuses();
  assert.ok(clientErrors.length >= 2 && clientErrors.every((s) => s.startsWith("4")), clientErrors.join(" "));
  await page.locator("#filter-status").selectOption("");
  await page.locator("#filter-operation").selectOption("getGroup");
  const operations = await page.locator("#request-rows tr td:nth-child(6)").allInnerTexts();
  assert.ok(operations.length >= 1 && operations.every((o) => o === "getGroup"), operations.join(" "));
  await page.locator("#filter-operation").selectOption("");
  await page.locator("#filter-principal").selectOption(server.boot.apiKey.publicKey);
  const principals = await page.locator("#request-rows tr td:nth-child(7)").allInnerTexts();
  assert.ok(principals.length >= 3 && principals.every((p) => p === server.boot.apiKey.publicKey), principals.join(" "));
  await page.locator("#filter-principal").selectOption("");
});

test("the page stays short at 1400 and 800 px wide, long paths and long lists capped", async () => {
  // Hundreds of requests with long paths, and dozens of resources.
  const entries = Array.from({ length: 40 }, (_, i) => ({ cidrBlock: `198.51.100.${i}/32` }));
  assert.equal(atlas("POST", `${project()}/accessList`, { version: "2023-01-01", body: entries }).status, 201);
  const { apiKey } = server.boot;
  const urls = Array.from({ length: 200 }, (_, i) =>
    `${server.baseUrl}${project()}/clusters/a-cluster-name-long-enough-to-wrap-a-narrow-path-column-${i}/backup/snapshots`);
  spawnSync("curl", ["-s", "-o", "/dev/null", "--digest", "-u", `${apiKey.publicKey}:${apiKey.privateKey}`,
    "-H", "Accept: application/vnd.atlas.2023-01-01+json", ...urls], { encoding: "utf8" });
  await nextRefresh();
  await nextRefresh();

  const heights = {};
  for (const width of [1400, 800]) {
    await page.setViewportSize({ width, height: 1000 });
    await nextRefresh();
    const size = await page.evaluate(() => ({ height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth }));
    heights[width] = size.height;
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(shots, `console-${width}.png`), shot);
    const png = PNG.sync.read(shot);
    assert.ok(distinctColours(png) > 20, `the page looks blank at ${width}px`);
    assert.ok(size.height <= MAX_HEIGHT[width], `${size.height}px tall at ${width}px wide (at most ${MAX_HEIGHT[width]})`);
    assert.ok(size.width <= width, `${size.width}px wide content at ${width}px: the page overflows sideways`);
  }
  console.log(`# page heights: ${JSON.stringify(heights)}`);

  // The request table shows a page of rows, more on request; a long path is cut, with "more".
  await page.setViewportSize({ width: 1400, height: 1000 });
  const shownRows = () => page.locator("#request-rows tr").count();
  const first = await shownRows();
  assert.ok(first > 0 && first <= 25, `${first} rows shown at first`);
  await page.locator("#request-more").click();
  assert.ok(await shownRows() > first, "show more shows no more");
  const seq = await page.locator('#request-rows tr:has(td.path[title*="a-cluster-name-long"])').first().getAttribute("data-seq");
  const row = page.locator(`#request-rows tr[data-seq="${seq}"]`);
  const isCut = () => row.locator("td.path .p").evaluate((span) => span.scrollWidth > span.clientWidth);
  const oneLine = (await row.boundingBox()).height;
  assert.ok(await isCut(), "a long path is not cut");
  await row.locator("button.more").click();
  await row.locator("td.path.open").waitFor();
  assert.ok(!(await isCut()), "more does not show the whole path");
  assert.match(await row.locator("td.path").innerText(), /\/backup\/snapshots/);
  assert.ok((await row.boundingBox()).height > oneLine, "the opened path does not wrap");
  await row.locator("button.more").click();
  await row.locator("td.path:not(.open)").waitFor();
});

test("the navigation jumps to each section", async () => {
  await page.evaluate(() => window.scrollTo(0, 0));
  for (const [name, id] of [["Fault rules", "faults"], ["Coverage", "coverage"], ["Requests", "requests"]]) {
    await page.locator("nav a", { hasText: name }).click();
    await page.waitForFunction((target) => location.hash === "#" + target, id);
    const box = await page.locator(`#${id}`).boundingBox();
    assert.ok(box.y >= 0 && box.y < 1000, `${name}: section at ${box.y}`);
  }
  assert.ok(await page.evaluate(() => window.scrollY) > 0, "the page did not scroll");
});

test("the fault form offers operations and error codes, shows refusals as errors, and injects details that name the user", async () => {
  await page.locator("#faults").scrollIntoViewIfNeeded();
  assert.equal(await page.locator('#operation-ids option[value="createGroupDatabaseUser"]').count(), 1);
  assert.equal(await page.locator('#fault-code option[value="USER_ALREADY_EXISTS"]').count(), 1);

  // A rule the control API refuses: the reason, shown as an error (in red), not as a success.
  await page.locator("#fault-operation").fill("noSuchOperation");
  await page.locator("#fault-add").click();
  const result = page.locator('#fault-result[data-outcome="error"]');
  await result.waitFor();
  assert.match(await result.innerText(), /noSuchOperation/);
  const colour = await result.evaluate((node) => getComputedStyle(node).color);
  const [r, g, b] = colour.match(/\d+/g).map(Number);
  assert.ok(r > 120 && g < 60 && b < 60, `the refusal is not red: ${colour}`);

  // USER_ALREADY_EXISTS on creating a database user, once.
  await page.locator("#fault-operation").fill("createGroupDatabaseUser");
  await page.locator("#fault-code").selectOption("USER_ALREADY_EXISTS");
  await page.locator("#fault-times").fill("1");
  await page.locator("#fault-add").click();
  await page.locator('#fault-result[data-outcome="ok"]').waitFor();
  const id = (await page.locator("#fault-result").innerText()).match(/rule (\d+)/)[1];
  await page.locator(`[data-rule="${id}"]`).waitFor();

  const refused = databaseUser("bob");
  assert.equal(refused.status, 409);
  assert.equal(refused.body.errorCode, "USER_ALREADY_EXISTS");
  assert.equal(refused.body.detail, "A user with username bob already exists.");
  assert.ok(!refused.body.detail.includes("/api/atlas"), refused.body.detail);
  // Spent after one: the next creation goes through.
  assert.equal(databaseUser("bob").status, 201);
});
