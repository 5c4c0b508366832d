// The copy-paste recipes of docs/clients.md and the README, run as written: every block preceded
// by an `<!-- e2e: NAME [tls] [bootstrap] [stderr] [python|node|go] expect="TEXT" -->` marker is
// extracted and executed (bash, Python, Node or Go) against a fresh localatlas — plain HTTP, or
// HTTPS for blocks marked `tls` — with the variables the page tells users to set and the
// `localatlas` binary on PATH; it must exit 0 and print TEXT (on stderr with `stderr`; `$NAME`s in
// TEXT are those variables' values). Bash blocks run in an empty directory of their own; with
// `bootstrap` it holds the server's `bootstrap.json` and the variables are not set (the block
// sets them). tests/e2e/docs.test.mjs checks that every other block says why it is not run.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { binary, start } from "./lib/localatlas.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const pages = ["docs/clients.md", "README.md"];
const marker = /<!-- e2e: (\S+)([^>]*?)expect="((?:[^"\\]|\\.)*)" -->\s*\n```(\w+)\n([\s\S]*?)\n```/g;
const recipes = pages.flatMap((page) =>
  [...readFileSync(join(here, "../..", page), "utf8").matchAll(marker)].map(([, name, flags, expect, lang, code]) => ({
    name,
    page,
    tls: /\btls\b/.test(flags),
    bootstrap: /\bbootstrap\b/.test(flags),
    stderr: /\bstderr\b/.test(flags),
    lang,
    expect: expect.replace(/\\"/g, '"'),
    code,
  })),
);

/** The variables a recipe reads (unset again for `bootstrap` recipes, which set them). */
const VARIABLES = ["LOCALATLAS", "LOCALATLAS_CA", "PUBLIC_KEY", "PRIVATE_KEY", "CLIENT_ID", "CLIENT_SECRET", "ORG_ID", "PROJECT_ID"];

let plain;
let secure;
before(async () => {
  plain = await start({ tls: false });
  secure = await start({ tls: true });
});
after(async () => {
  await plain?.stop();
  await secure?.stop();
});

function environment(server) {
  const b = server.boot;
  return {
    ...process.env,
    PATH: `${dirname(binary())}:${process.env.PATH}`,
    LOCALATLAS: b.baseUrl,
    LOCALATLAS_CA: server.caFile ?? "",
    PUBLIC_KEY: b.apiKey.publicKey,
    PRIVATE_KEY: b.apiKey.privateKey,
    CLIENT_ID: b.serviceAccount.clientId,
    CLIENT_SECRET: b.serviceAccount.clientSecret,
    ORG_ID: b.orgId,
    PROJECT_ID: b.projectId,
  };
}

function run(recipe, env, server) {
  switch (recipe.lang) {
    case "bash": {
      const cwd = mkdtempSync(join(tmpdir(), `recipe-${recipe.name}-`));
      let shellEnv = env;
      if (recipe.bootstrap) {
        writeFileSync(join(cwd, "bootstrap.json"), JSON.stringify(server.boot));
        shellEnv = { ...env };
        for (const name of VARIABLES) delete shellEnv[name];
      }
      try {
        return spawnSync("bash", ["-euo", "pipefail", "-c", recipe.code], { cwd, env: shellEnv, encoding: "utf8", timeout: 60_000 });
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    }
    case "python":
      return spawnSync(process.env.PYTHON || "python3", ["-"], { env, input: recipe.code, encoding: "utf8", timeout: 60_000 });
    case "js": {
      // Written next to node_modules so the recipe's imports resolve as in a user's project.
      const file = join(here, `.recipe-${recipe.name}.mjs`);
      writeFileSync(file, recipe.code);
      try {
        return spawnSync(process.execPath, [file], { env, encoding: "utf8", timeout: 60_000 });
      } finally {
        rmSync(file, { force: true });
      }
    }
    case "go": {
      // Run inside the Go SDK test module (tests/go-sdk), whose go.mod pins the SDK, with the
      // Go caches of tests/e2e/go-clients.sh.
      const dir = join(here, "../go-sdk/recipes", recipe.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "main.go"), recipe.code);
      const cache = join(here, ".cache");
      const goEnv = {
        ...env,
        GOPATH: join(cache, "go"),
        GOMODCACHE: join(cache, "go/pkg/mod"),
        GOCACHE: join(cache, "go-build"),
        GOFLAGS: "-modcacherw",
        GOTOOLCHAIN: "local",
        SSL_CERT_FILE: env.LOCALATLAS_CA || undefined,
      };
      try {
        return spawnSync("go", ["run", "."], { cwd: dir, env: goEnv, encoding: "utf8", timeout: 300_000 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    default:
      throw new Error(`recipe ${recipe.name}: no runner for ${recipe.lang}`);
  }
}

test("docs/clients.md and the README have runnable recipes", () => {
  assert.ok(recipes.length >= 10, `found ${recipes.map((r) => r.name).join(", ")}`);
  const names = recipes.map((r) => r.name);
  assert.equal(new Set(names).size, names.length, `recipe names repeat: ${names.join(", ")}`);
});

const haveGo = spawnSync("go", ["version"]).status === 0;

for (const recipe of recipes) {
  const skip = recipe.lang === "go" && !haveGo ? "go is not installed" : false;
  test(`recipe ${recipe.name} (${recipe.page})`, { skip }, () => {
    const server = recipe.tls ? secure : plain;
    const env = environment(server);
    const result = run(recipe, env, server);
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.status, 0, `exit ${result.status}\n${output}`);
    const expect = recipe.expect.replace(/\$([A-Z_]+)/g, (_, name) => env[name] ?? "");
    const stream = recipe.stderr ? result.stderr : result.stdout;
    assert.ok(stream.includes(expect), `expected "${expect}" in:\n${output}`);
  });
}
