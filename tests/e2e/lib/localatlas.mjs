// Starts the localatlas binary for one test file: HTTPS from its local CA (the CA file written
// with --tls-ca-out), an in-memory store, the bootstrap identities read from --bootstrap-out.
// Also small helpers for the control API, which the tests use to check what the server saw.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent } from "undici";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The binary: $LOCALATLAS_BIN, else the release build, else the debug build. */
export function binary() {
  const candidates = [process.env.LOCALATLAS_BIN, join(repo, "target/release/localatlas"), join(repo, "target/debug/localatlas")];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) throw new Error("no localatlas binary: run `cargo build --release` or set LOCALATLAS_BIN");
  return found;
}

export async function start({ tls = true, flags = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "localatlas-e2e-"));
  const bootstrapFile = join(dir, "bootstrap.json");
  const caFile = join(dir, "ca.pem");
  const args = ["serve", "--listen", "127.0.0.1:0", "--store", "memory", "--bootstrap-out", bootstrapFile, ...flags];
  if (tls) args.push("--tls-ca-out", caFile);
  const child = spawn(binary(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const deadline = Date.now() + 20_000;
  while (!existsSync(bootstrapFile)) {
    if (child.exitCode !== null) throw new Error(`localatlas exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error("localatlas wrote no bootstrap file");
    await sleep(25);
  }
  const boot = JSON.parse(readFileSync(bootstrapFile, "utf8"));
  // Node's fetch trusts NODE_EXTRA_CA_CERTS only at start-up; the control helpers use an agent
  // that trusts the CA explicitly, so this process needs no environment of its own.
  const dispatcher = tls ? new Agent({ connect: { ca: readFileSync(caFile, "utf8") } }) : undefined;
  const server = {
    boot,
    baseUrl: boot.baseUrl,
    caFile: tls ? caFile : undefined,
    dir,
    get stderr() { return stderr; },
    async control(method, path, body) {
      const r = await fetch(`${boot.baseUrl}/__localatlas/${path}`, {
        method,
        dispatcher,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (;;) {
    try {
      if ((await server.control("GET", "health")).status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`localatlas never healthy: ${stderr}`);
    await sleep(25);
  }
  return server;
}

/** Every request the server recorded since start (oldest first). */
export async function requests(server) {
  return (await server.control("GET", "requests")).body.requests.slice().reverse();
}
