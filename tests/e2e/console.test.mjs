// The console in a real browser: Debian's headless Chromium (driven by playwright-core, no
// browser download) opens http://127.0.0.1:<port>/ while a cluster is created and its manual
// lifecycle advanced; the page must show the state change, the request, the coverage and a
// fault rule, and the screenshots are checked: not blank, and the cluster's state badge changes
// from the transitional colour (amber) to the settled one (green).

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

let server;
let browser;
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
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

function createCluster(name) {
  const { apiKey, projectId } = server.boot;
  const body = JSON.stringify({ name, clusterType: "REPLICASET", replicationSpecs: [{ regionConfigs: [{
    providerName: "AWS", regionName: "US_EAST_1", priority: 7, electableSpecs: { instanceSize: "M10", nodeCount: 3 } }] }] });
  const r = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--digest", "-u", `${apiKey.publicKey}:${apiKey.privateKey}`,
    "-H", "Accept: application/vnd.atlas.2024-08-05+json", "-H", "Content-Type: application/json",
    "-X", "POST", `${server.baseUrl}/api/atlas/v2/groups/${projectId}/clusters`, "-d", body], { encoding: "utf8" });
  return r.stdout;
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

test("the console shows a cluster's state change, requests, coverage and fault rules", async () => {
  mkdirSync(shots, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${server.baseUrl}/`);
  await page.waitForSelector("[data-org]");

  assert.equal(createCluster("console-demo"), "201");
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
  await page.close();
});
