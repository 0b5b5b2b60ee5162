#!/usr/bin/env bash
# Property test of `aarm serve`'s HTTP API from its own OpenAPI document (schemathesis):
# thousands of generated calls — valid, invalid and hostile bodies, paths, queries and headers,
# and stateful sequences that follow the document's links — as an agent, an approver and an
# operator. Every answer must be a documented status with the documented content type and body
# schema, and none may be a 5xx.
#
#   scripts/api-property.sh                      # uses target/release/aarm, 40 s per identity
#   AARM=path/to/aarm SECONDS_PER_ROLE=120 scripts/api-property.sh
#   SEED=1234 scripts/api-property.sh            # replay one run (default: a fixed seed)
#
# Needs schemathesis (`pip install schemathesis==4.32.5`); `.ci/run` installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
aarm=${AARM:-$root/target/release/aarm}
per_role=${SECONDS_PER_ROLE:-40}
seed=${SEED:-20261203}

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$aarm" build examples/quorum_transfer -o "$work/bundle.aarmb" >/dev/null
# The example configuration without its notification channels (nothing listens for them here).
sed '/^\[notify.channels\]/,$d' examples/serve.toml > "$work/serve.toml"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$aarm" serve --bundle "$work/bundle.aarmb" --store "$work/cases.db" --listen "127.0.0.1:$port" \
  --config "$work/serve.toml" --log warn > "$work/serve.log" 2>&1 &
server_pid=$!

# Cases to act on: schemathesis's generated ids rarely name one, so a few exist before it starts
# (case-000001 … case-000003), one of them approved and one denied.
python3 - "$base" <<'PY'
import json, sys, time, urllib.request, urllib.error
base = sys.argv[1]
def call(method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)
deadline = time.time() + 60
while True:
    try:
        urllib.request.urlopen(base + "/healthz", timeout=5).read()
        break
    except (urllib.error.URLError, ConnectionError):
        if time.time() > deadline:
            sys.exit("aarm serve did not start")
        time.sleep(0.2)
request = json.load(open("examples/quorum_transfer/request.json"))
cases = [call("POST", "/v1/decide", "agent-token-1", request)["case"] for _ in range(3)]
call("POST", f"/v1/cases/{cases[1]}/approve", "tok-cfo", {})
call("POST", f"/v1/cases/{cases[2]}/deny", "tok-controller", {"why": "not this one"})
print("cases:", ", ".join(cases))
PY

status=0
for role in agent:agent-token-1 approver:tok-cfo operator:tok-ops; do
  name=${role%%:*}
  token=${role#*:}
  echo "== schemathesis as the $name ($per_role s)"
  run_role() {
    schemathesis run "$base/openapi.json" \
      -H "Authorization: Bearer $token" "$@" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --max-time "$per_role" --seed "$seed" --workers 2 \
      --generation-database none --no-color --warnings off \
      > "$work/st-$name.log" 2>&1
  }
  ok=1
  if ! run_role; then
    ok=0
    # CPython 3.11 before 3.11.8 can raise "SystemError: AST constructor recursion depth
    # mismatch" while hypothesis parses its own source to describe a strategy (cpython
    # gh-106905): an interpreter bug, not an answer of the API. Only that error is run again.
    # A run whose checks found failures (its summary's "Failures:") is never run again.
    if grep -q "AST constructor recursion depth mismatch" "$work/st-$name.log" \
        && ! grep -q "^Failures:" "$work/st-$name.log"; then
      echo "(the interpreter's AST bug, cpython gh-106905, stopped this run; running it again)"
      if run_role; then
        ok=1
      elif grep -q "AST constructor recursion depth mismatch" "$work/st-$name.log" \
          && ! grep -q "^Failures:" "$work/st-$name.log"; then
        # The seed is fixed, so the same example can hit the bug every time (it did for the
        # agent's examples of approve and confirm, whose bodies now carry `max` and `answer`):
        # the role is run once more without the examples phase (the other roles still run it,
        # and coverage, fuzzing and stateful still run for this one), and the log says so.
        echo "(it did again, in the same example: the $name runs without the examples phase)"
        run_role --phases coverage,fuzzing,stateful && ok=1
      fi
    fi
  fi
  if [ "$ok" -eq 0 ]; then
    status=1
    cat "$work/st-$name.log"
  else
    grep -E "^(Test cases|=+ .* in )" "$work/st-$name.log" || tail -3 "$work/st-$name.log"
  fi
done

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "aarm serve died during the run:"; cat "$work/serve.log"; status=1
fi
if [ "$status" -eq 0 ]; then echo "api-property: 3 passed, 0 failed"; else echo "api-property: failures above"; fi
exit "$status"
