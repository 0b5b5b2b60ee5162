"""A misbehaving MCP server for tests/cli_mcp.rs: what a compromised or broken upstream might do.

    python3 hostile_server.py MODE

It answers `initialize` and `tools/list` properly (one tool, `echo`), then, per MODE, on
`tools/call`:
  wrong_id  answers with an id it was never sent (then a log notification, so that a test knows
            the answer came before it), and never answers the real one
  exit      exits without answering
  garbage   writes a line that is not JSON, then a correct answer
  silent    (and for every other request too) never answers
Every call it receives is appended to the file named by $HOSTILE_LOG (what reached it).
"""
import json
import os
import sys

mode = sys.argv[1]
log = os.environ.get("HOSTILE_LOG")


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    method, mid = msg.get("method"), msg.get("id")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": msg["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile", "version": "0"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [
            {"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]}})
    elif method == "tools/call":
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps(msg["params"]) + "\n")
        ok = {"content": [{"type": "text", "text": msg["params"].get("arguments", {}).get("text", "")}]}
        if mode == "wrong_id":
            send({"jsonrpc": "2.0", "id": "not-yours", "result": ok})
            send({"jsonrpc": "2.0", "method": "notifications/message",
                  "params": {"level": "info", "data": "after the wrong id"}})
        elif mode == "exit":
            sys.exit(3)
        elif mode == "garbage":
            sys.stdout.write("this is not json\n")
            send({"jsonrpc": "2.0", "id": mid, "result": ok})
    elif mid is not None and mode != "silent":
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
