// MongoDB's MCP server (npm `mongodb-mcp-server`, pinned in package.json), started by its own
// CLI over MCP stdio against https://127.0.0.1:<port> with localatlas's CA trusted, driven
// through its Atlas tools: organizations, projects, access list,
// database users, clusters, alerts and stream processing. Passes when every tool call succeeds
// and localatlas answered no request with a status the scenario did not expect.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { requests, start } from "./lib/localatlas.mjs";

// The package's own CLI (its `bin`), as `npx mongodb-mcp-server` runs it.
const mcpBin = join(dirname(fileURLToPath(import.meta.url)), "node_modules/mongodb-mcp-server/dist/esm/index.js");

let server;
let client;
let mcpStderr = "";
const elicitations = [];

before(async () => {
  server = await start();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [mcpBin, "--transport", "stdio", "--loggers", "stderr"],
    env: {
      PATH: process.env.PATH,
      HOME: server.dir,
      // Two trust settings, because the server makes requests two ways: its Admin API client and
      // token requests go through @mongodb-js/devtools-proxy-support, which builds its own CA
      // list from the system store (SSL_CERT_FILE / SSL_CERT_DIR) plus Node's bundled roots and
      // so ignores NODE_EXTRA_CA_CERTS; GET /api/private/ipinfo and telemetry use Node's global
      // fetch, which trusts NODE_EXTRA_CA_CERTS and not SSL_CERT_FILE.
      SSL_CERT_FILE: server.caFile,
      NODE_EXTRA_CA_CERTS: server.caFile,
      MDB_MCP_API_BASE_URL: `${server.baseUrl}/`,
      MDB_MCP_API_CLIENT_ID: server.boot.serviceAccount.clientId,
      MDB_MCP_API_CLIENT_SECRET: server.boot.serviceAccount.clientSecret,
      MDB_MCP_LOG_PATH: server.dir,
    },
    stderr: "pipe",
  });
  transport.stderr?.on("data", (d) => (mcpStderr += d));
  // The client offers elicitation, so tools that ask for confirmation (access list, database
  // users, streams) ask, and the test confirms as a user would.
  client = new Client({ name: "localatlas-e2e", version: "1.0.0" }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push(request.params.message);
    return { action: "accept", content: { confirmation: "Yes" } };
  });
  await client.connect(transport);
});

after(async () => {
  await client?.close();
  await server?.stop();
});

/** Calls a tool and returns its text; fails on a tool error. */
async function tool(name, args = {}) {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content ?? []).map((c) => c.text ?? "").join("\n");
  assert.ok(!result.isError, `${name} failed: ${text}\n--- MCP server log ---\n${mcpStderr.slice(-4000)}`);
  return { text, structured: result.structuredContent };
}

test("the MCP server's Atlas tools work against localatlas over HTTPS", async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const expected of ["atlas-list-orgs", "atlas-create-cluster", "atlas-create-access-list", "atlas-list-alerts", "atlas-streams-build"]) {
    assert.ok(names.includes(expected), `tool ${expected} missing: ${names.join(", ")}`);
  }
  const { orgId, projectId } = server.boot;

  const orgs = await tool("atlas-list-orgs");
  assert.match(orgs.text, new RegExp(orgId));

  const created = await tool("atlas-create-project", { projectName: "mcp-project", orgId });
  assert.match(created.text, /created/);
  const projects = await tool("atlas-list-projects", { orgId });
  assert.match(projects.text, /mcp-project/);

  // The current IP comes from GET /api/private/ipinfo.
  await tool("atlas-create-access-list", { projectId, ipAddresses: ["192.0.2.10"], cidrBlocks: ["198.51.100.0/24"], currentIpAddress: true, comment: "e2e" });
  const accessList = await tool("atlas-inspect-access-list", { projectId });
  for (const entry of ["192.0.2.10", "198.51.100.0/24", "127.0.0.1"]) assert.match(accessList.text, new RegExp(entry.replace(/\./g, "\\.")));

  await tool("atlas-create-db-user", { projectId, username: "e2e-user", password: "e2e-password-1234", roles: [{ roleName: "readWrite", databaseName: "app" }] });
  const users = await tool("atlas-list-db-users", { projectId });
  assert.match(users.text, /e2e-user/);

  // A dedicated cluster: the tool lists clusters, reads encryption at rest, adds the current IP
  // to the access list (already present: the tool carries on), then creates it.
  await tool("atlas-create-cluster", { projectId, clusterName: "mcp-cluster", provider: "AWS", regions: ["US_EAST_1"] });
  const first = await tool("atlas-inspect-cluster", { projectId, clusterName: "mcp-cluster" });
  assert.match(first.text, /CREATING/);
  const settled = await tool("atlas-inspect-cluster", { projectId, clusterName: "mcp-cluster" });
  assert.match(settled.text, /IDLE/);
  const clusters = await tool("atlas-list-clusters", { projectId });
  assert.match(clusters.text, /mcp-cluster/);

  await tool("atlas-create-free-cluster", { projectId, name: "mcp-free", region: "US_EAST_1" });
  const all = await tool("atlas-list-clusters", {});
  assert.match(all.text, /mcp-free|mcp-cluster/);

  await tool("atlas-list-alerts", { projectId });

  // Atlas Stream Processing: a workspace, a sample connection, discovery, teardown.
  await tool("atlas-streams-build", { projectId, resource: "workspace", workspaceName: "mcpstreams", cloudProvider: "AWS", region: "VIRGINIA_USA", includeSampleData: true });
  const discovered = await tool("atlas-streams-discover", { projectId, action: "list-workspaces" });
  assert.match(discovered.text, /mcpstreams/);
  const inspected = await tool("atlas-streams-discover", { projectId, action: "inspect-workspace", workspaceName: "mcpstreams" });
  assert.match(inspected.text, /mcpstreams/);
  await tool("atlas-streams-teardown", { projectId, resource: "workspace", workspaceName: "mcpstreams" });

  assert.ok(elicitations.length >= 2, `confirmations asked: ${elicitations.length}`);
});

test("localatlas answered the MCP server with no unexpected status", async () => {
  const seen = await requests(server);
  // The whole scenario runs without a single 4xx or 5xx (or a dropped connection).
  const unexpected = seen.filter((r) => r.status === null || r.status >= 400);
  assert.deepEqual(unexpected, [], JSON.stringify(unexpected, null, 1));
  // The facts the MCP server's source shows, as localatlas saw them.
  assert.ok(seen.some((r) => r.path === "/api/oauth/token" && r.status === 200), "service-account token flow");
  assert.ok(seen.some((r) => r.path === "/api/private/ipinfo" && r.status === 200), "current IP lookup");
  const atlas = seen.filter((r) => r.operationId);
  assert.ok(atlas.length > 15, `${atlas.length} Admin API calls`);
  assert.ok(atlas.every((r) => r.principal === server.boot.serviceAccount.clientId), "every call as the service account");
});
