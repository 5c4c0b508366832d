// The copy-paste recipes of docs/clients.md, run as written: every block preceded by an
// `<!-- e2e: NAME [tls] [python|node|go] expect="TEXT" -->` marker is extracted and executed (bash,
// Python, Node or Go) against a fresh localatlas — plain HTTP, or HTTPS for blocks marked `tls` —
// with the variables the page tells users to set; it must exit 0 and print TEXT.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { binary, start } from "./lib/localatlas.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const page = readFileSync(join(here, "../../docs/clients.md"), "utf8");
const marker = /<!-- e2e: (\S+)([^>]*?)expect="((?:[^"\\]|\\.)*)" -->\s*\n```(\w+)\n([\s\S]*?)\n```/g;
const recipes = [...page.matchAll(marker)].map(([, name, flags, expect, lang, code]) => ({
  name,
  tls: /\btls\b/.test(flags),
  lang,
  expect: expect.replace(/\\"/g, '"'),
  code,
}));

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

function run(recipe, env) {
  switch (recipe.lang) {
    case "bash":
      return spawnSync("bash", ["-euo", "pipefail", "-c", recipe.code], { env, encoding: "utf8", timeout: 60_000 });
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

test("docs/clients.md has runnable recipes", () => {
  assert.ok(recipes.length >= 7, `found ${recipes.map((r) => r.name).join(", ")}`);
});

const haveGo = spawnSync("go", ["version"]).status === 0;

for (const recipe of recipes) {
  const skip = recipe.lang === "go" && !haveGo ? "go is not installed" : false;
  test(`recipe ${recipe.name}`, { skip }, () => {
    const result = run(recipe, environment(recipe.tls ? secure : plain));
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.status, 0, `exit ${result.status}\n${output}`);
    assert.ok(result.stdout.includes(recipe.expect), `expected "${recipe.expect}" in:\n${output}`);
  });
}
