// Every code block of the README and docs/clients.md is accounted for: run by the end-to-end
// tests (`<!-- e2e: NAME … -->`, see recipes.test.mjs), checked against the binary's output
// (`<!-- e2e-output: NAME … -->`, below), or marked `<!-- not-run: REASON -->` with the reason it
// cannot run on the project's machines. A new block without one of these fails here, so a snippet
// nobody runs cannot slip in unnoticed.
//
// Also what a newcomer sees in the logs (issue 18): plain text when stderr is not a terminal, and
// at `info` the reason of a 401 and what a 406 expected, without secrets.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { binary } from "./lib/localatlas.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const PAGES = ["README.md", "docs/clients.md"];
const read = (page) => readFileSync(join(here, "../..", page), "utf8");

/** The fenced blocks of a page: opening line number, language, body, and the marker above. */
function blocks(text) {
  const lines = text.split("\n");
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    let above = i - 1;
    while (above >= 0 && lines[above].trim() === "") above--;
    found.push({
      line: i + 1,
      lang: open[1],
      body: lines.slice(i + 1, end).join("\n"),
      marker: above >= 0 ? lines[above].trim() : "",
    });
    i = end;
  }
  return found;
}

function kind(marker) {
  if (/^<!-- e2e: \S+.*expect="(?:[^"\\]|\\.)*" -->$/.test(marker)) return "run";
  if (/^<!-- e2e-output: \S+.* -->$/.test(marker)) return "output";
  const notRun = /^<!-- not-run: (.+) -->$/.exec(marker);
  if (notRun && notRun[1].trim().length >= 20) return "not-run";
  return null;
}

for (const page of PAGES) {
  test(`every code block of ${page} is run or says why not`, () => {
    const all = blocks(read(page));
    assert.ok(all.length > 0, `no code blocks found in ${page}`);
    const unaccounted = all
      .filter((b) => kind(b.marker) === null)
      .map((b) => `${page}:${b.line} (${b.lang || "no language"}): ${b.body.split("\n")[0]}`);
    assert.deepEqual(
      unaccounted,
      [],
      "put `<!-- e2e: NAME expect=\"TEXT\" -->` (run by recipes.test.mjs) or `<!-- not-run: REASON -->` right above each of these",
    );
  });
}

test("the marker check catches a block without a marker", () => {
  const page = "Text.\n\n```bash\necho hi\n```\n\n<!-- not-run: needs a thing the machines do not have -->\n```bash\nx\n```\n";
  const kinds = blocks(page).map((b) => kind(b.marker));
  assert.deepEqual(kinds, [null, "not-run"]);
  assert.equal(kind("<!-- not-run: short -->"), null, "a reason must say something");
});

/** Starts `localatlas serve` on a free port with stdout and stderr piped (not terminals). */
async function serve(env = {}) {
  const child = spawn(binary(), ["serve", "--listen", "127.0.0.1:0", "--store", "memory"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (out.stdout += d));
  child.stderr.on("data", (d) => (out.stderr += d));
  const deadline = Date.now() + 20_000;
  while (!/ready in/.test(out.stdout)) {
    if (child.exitCode !== null) throw new Error(`localatlas exited: ${out.stderr}`);
    if (Date.now() > deadline) throw new Error(`no banner: ${out.stdout}${out.stderr}`);
    await sleep(25);
  }
  const base = /serving (http:\/\/\S+)\/api\/atlas\/v2/.exec(out.stdout)[1];
  return {
    base,
    out,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    },
  };
}

test("the README's start-up banner has the labels the binary prints, in order", async () => {
  const readme = read("README.md");
  const banner = blocks(readme).find((b) => /^<!-- e2e-output: serve-banner\b/.test(b.marker));
  assert.ok(banner, "README.md has no `<!-- e2e-output: serve-banner -->` block");
  const labels = (text) => text.split("\n").map((l) => /^ {2}([A-Za-z][A-Za-z ]*?):/.exec(l)?.[1]).filter(Boolean);
  const server = await serve();
  try {
    assert.deepEqual(labels(banner.body), labels(server.out.stdout), server.out.stdout);
    assert.match(banner.body, /^localatlas \S+ serving http:\/\/127\.0\.0\.1:8080\/api\/atlas\/v2$/m);
    assert.match(server.out.stdout, /^localatlas \S+ serving http:\/\/127\.0\.0\.1:\d+\/api\/atlas\/v2$/m);
    assert.match(server.out.stdout, /^ {2}ready in \d+ ms$/m);
  } finally {
    await server.stop();
  }
});

test("logs are plain text off a terminal and say why a request was refused", async () => {
  const server = await serve({ LOCALATLAS_LOG: "info", NO_COLOR: "" });
  try {
    const orgs = `${server.base}/api/atlas/v2/orgs`;
    const v1 = { Accept: "application/vnd.atlas.2023-01-01+json" };
    const password = "the-password-in-question";
    const basic = Buffer.from(`somebody:${password}`).toString("base64");
    const statuses = [
      (await fetch(orgs, { headers: v1 })).status,
      (await fetch(orgs, { headers: { ...v1, Authorization: `Basic ${basic}` } })).status,
      (await fetch(orgs, { headers: { ...v1, Authorization: "Bearer not.a.token" } })).status,
    ];
    assert.deepEqual(statuses, [401, 401, 401]);
    await sleep(100);
    const log = server.out.stderr;
    assert.ok(!log.includes("\u001b["), `ANSI escapes in a piped log:\n${JSON.stringify(log.slice(0, 400))}`);
    assert.match(log, / INFO .*authentication failed: no Authorization header.* reason="?no_credentials/);
    assert.match(log, / INFO .*authentication failed: HTTP Basic is accepted only by \/api\/oauth\/token.* reason="?basic_not_accepted/);
    assert.match(log, / INFO .*reason="?unknown_token/);
    assert.ok(!log.includes(password), "a password reached the log");
    assert.ok(!log.includes("not.a.token"), "a token reached the log");
  } finally {
    await server.stop();
  }
});
