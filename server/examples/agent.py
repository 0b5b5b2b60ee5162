#!/usr/bin/env python3
"""An agent's side of `aarm serve`, with Python's standard library only.

    python3 agent.py http://127.0.0.1:8181 AGENT_TOKEN request.json

Asks for a decision; when the action is suspended (step_up or defer), blocks on the case until it
is resolved, then prints the final outcome as JSON and exits 0 if the action may run (allow or
modify), 1 if not. Anything unexpected is a "deny": the action never runs on an error.
"""
import json
import sys
import urllib.error
import urllib.request


def call(base, token, method, path, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as res:
        return json.load(res)


def decide_and_wait(base, token, request, max_wait_s=3600):
    decision = call(base, token, "POST", "/v1/decide", request)
    case = decision.get("case")
    if not case:
        return decision
    waited = 0
    while waited < max_wait_s:
        state = call(base, token, "GET", f"/v1/cases/{case}/wait?timeout_s=60", timeout=90)
        if state["resolved"]:
            return state["outcome"]
        waited += 60
    return {"decision": "deny", "reason": {"code": "agent.gave_up", "message": "no outcome in time"}}


def main():
    base, token, path = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    with open(path, encoding="utf-8") as f:
        request = json.load(f)
    try:
        outcome = decide_and_wait(base, token, request)
    except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
        outcome = {"decision": "deny", "reason": {"code": "agent.error", "message": str(e)}}
    print(json.dumps(outcome))
    sys.exit(0 if outcome.get("decision") in ("allow", "modify") else 1)


if __name__ == "__main__":
    main()
