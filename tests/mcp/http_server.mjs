// An MCP server over Streamable HTTP, built with the official TypeScript SDK, for
// `aarm mcp import --url` in tests/cli_mcp.rs. Its tools have the names and schemas a policy
// cannot take as they are (dashes, a reserved word, a union, a free-form object), and it lists
// them on two pages.
//
//   node http_server.mjs      prints "listening PORT" once it accepts connections
import http from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ListToolsRequestSchema, CallToolRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const pages = [
  [
    {
      name: "fetch-url",
      description: "Fetch a URL.\nReturns the body.",
      inputSchema: {
        type: "object",
        properties: {
          url: { type: "string" },
          "max-bytes": { type: "integer" },
          headers: { type: "object", additionalProperties: { type: "string" } },
        },
        required: ["url"],
      },
    },
  ],
  [
    {
      name: "test",
      inputSchema: {
        type: "object",
        properties: { value: { type: ["string", "number"] }, label: { type: ["string", "null"] } },
        required: ["value", "label"],
      },
    },
  ],
];

function mcpServer() {
  const server = new Server({ name: "http-fixture", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    const page = request.params?.cursor === "2" ? 1 : 0;
    return page === 0 ? { tools: pages[0], nextCursor: "2" } : { tools: pages[1] };
  });
  server.setRequestHandler(CallToolRequestSchema, async () => ({ content: [{ type: "text", text: "ok" }] }));
  return server;
}

// Stateless: a server and transport per request, as the SDK's examples do.
const httpServer = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on("close", () => { transport.close(); server.close(); });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
});
httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});
