# Sourced by benches/http.sh and benches/http_counts.sh, after each has built what it needs: the
# server binary to run (`$aarm`), scratch directories on disk and on /dev/shm (`$tmp`, `$shm`,
# removed on exit once the server `$pid` has stopped), and the policy, credentials and request
# bodies both measure, so that the two scripts time and count the same calls.
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
aarm=${BIN:-$target/release/aarm}

tmp=$(mktemp -d)
shm=$(mktemp -d -p /dev/shm)
pid=
# The server is waited for before its directory goes: it writes into it until it has stopped.
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp" "$shm"; }
trap cleanup EXIT

mkdir "$tmp/policy"
# The policy of the in-process load test (server/examples/load.rs), so the two agree.
cp server/examples/load.aarm "$tmp/policy/policy.aarm"
cat >"$tmp/serve.toml" <<'TOML'
[auth.agents]
"agent-token" = "load-agent"
[auth.agent_humans]
"load-agent" = ["alice@corp.com"]
TOML
"$aarm" build "$tmp/policy" -o "$tmp/policy.aarmb" >/dev/null 2>&1
# Allowed by the policy's `small` rule.
body='{"action": {"tool": "transfer", "params": {"amount": 250, "to": "acme"}}, "identity": {"human": "alice@corp.com"}}'
# Denied by the policy's `blocked` rule: no case opens, so the denial is kept for overrides.
denied='{"action": {"tool": "transfer", "params": {"amount": 250, "to": "mallory"}}, "identity": {"human": "alice@corp.com"}}'
