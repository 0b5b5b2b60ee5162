// A real MCP client (the official TypeScript SDK) for tests/cli_mcp.rs.
//
//   node client.mjs list -- COMMAND ARGS...            prints the tools/list result as JSON
//   node client.mjs call TOOL ARGS_JSON -- COMMAND ARGS... prints {"result": ..., "progress": N}
//
// With AARM_TEST_ROOT=DIR the client offers MCP roots (one: DIR), so that a server asks it for
// them (`roots/list`, a request from the server to the client), and `call` first waits, by
// calling `list_allowed_directories` at most 200 times, until the server has taken them.
//
// The server is started over stdio by the SDK's own transport; the SDK's request timeout is set
// far beyond any test's wait, so that a call blocked on an approval is ended by the proxy (or the
// test), never by the client.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const argv = process.argv.slice(2);
const sep = argv.indexOf("--");
if (sep < 0 || sep + 1 >= argv.length) {
  console.error("usage: client.mjs (list | call TOOL ARGS_JSON) -- COMMAND ARGS...");
  process.exit(2);
}
const [verb, ...rest] = argv.slice(0, sep);
const [command, ...args] = argv.slice(sep + 1);

// The SDK passes only a few safe variables to the server by default; the proxy reads its token
// (AARM_TOKEN) and identity (AARM_AGENT, ...) from the environment, so it gets all of it.
const transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
const root = process.env.AARM_TEST_ROOT;
const client = new Client(
  { name: "aarm-mcp-test", version: "1.0.0" },
  { capabilities: root ? { roots: { listChanged: false } } : {} },
);
if (root) {
  const { ListRootsRequestSchema } = await import("@modelcontextprotocol/sdk/types.js");
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file://${root}`, name: "root" }] }));
}
await client.connect(transport);
const FAR = 3_600_000;
if (root && verb === "call") {
  let taken = false;
  for (let i = 0; i < 200 && !taken; i++) {
    const dirs = await client.callTool({ name: "list_allowed_directories", arguments: {} }, undefined, { timeout: FAR });
    taken = JSON.stringify(dirs.content).includes(root);
  }
  if (!taken) {
    console.error("the server never took the client's roots");
    process.exit(1);
  }
}
let out;
if (verb === "list") {
  out = await client.listTools(undefined, { timeout: FAR });
} else if (verb === "call") {
  let progress = 0;
  const result = await client.callTool({ name: rest[0], arguments: JSON.parse(rest[1]) }, undefined, {
    timeout: FAR,
    onprogress: () => { progress += 1; },
  });
  out = { result, progress };
} else {
  console.error(`unknown verb ${verb}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(out) + "\n");
await client.close();
