#!/usr/bin/env bash
# Instructions `aarm serve` executes per HTTP call, counted by callgrind: repeatable on a busy
# machine, where benches/http.sh's requests a second are not.
# Usage: benches/http_counts.sh [CALL...]      (default: me decide deny_policy; N=1000 calls)
#
# The server runs under `valgrind --tool=callgrind` with its store on /dev/shm; one client sends
# N calls, then 2N in a second run, one at a time on one keep-alive connection, and the script
# prints (I(2N) - I(N)) / N: the server's own instructions per call (user space: the kernel's
# socket and file work is not counted), with start-up and shut-down cancelled out. Calls one at
# a time make every group commit hold one receipt, so a decision is charged its whole
# transaction (under load a commit is shared by several).
#   me           GET /v1/me: HTTP, the router and the bearer-token lookup
#   decide       POST /v1/decide, allowed: + reading, the engine, the receipt, the answer
#   deny_policy  a request the policy denies: + the denial kept for overrides
# Caveat: valgrind's CPU has no SHA extensions, so SHA-256 runs in software here (about ten
# times its cost on this machine's CPU, which has them): hashing weighs more in these counts
# than in time.
# BIN=path/to/aarm counts that binary instead of building this tree's.
# KEEP=dir keeps each run's callgrind output there (CALL-N.out), for callgrind_annotate.
# Repeat runs agree within about 3 %: the server's timers also run while it waits for calls.
# Not part of `.ci/run` (valgrind, and about two minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-1000}
calls=${*:-"me decide deny_policy"}
command -v valgrind >/dev/null || { echo "benches/http_counts.sh needs valgrind (apt-get install valgrind)" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
    CARGO_INCREMENTAL=0 cargo build --release --locked -q -p aarm --bin aarm
fi
# shellcheck source=benches/http_setup.sh
. benches/http_setup.sh
cat >"$tmp/client.py" <<'EOF'
import http.client, sys
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
want = sys.argv[5] if len(sys.argv) > 5 else None
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": "Bearer agent-token", "Content-Type": "application/json"}
for _ in range(n):
    conn.request("POST" if body else "GET", path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    # Every call must be the one meant: a 4xx or a different decision would count other code.
    if r.status != 200 or (want and want.encode() not in data):
        sys.exit(f"unexpected answer {r.status}: {data[:300]!r}")
EOF


count() { # CALLS PATH [BODY WANT] -> instructions of the whole run
    local port=$((20000 + RANDOM % 20000)) out="$tmp/cg.out" db
    db=$(mktemp -d -p "$shm")
    valgrind --tool=callgrind --callgrind-out-file="$out" "$aarm" serve --bundle "$tmp/policy.aarmb" \
        --store "$db/cases.db" --listen "127.0.0.1:$port" --config "$tmp/serve.toml" >"$tmp/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    python3 "$tmp/client.py" "$port" "$1" "$2" "${3:-}" "${4:-}"
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
    sed -n 's/^==[0-9]*== Collected : //p' "$tmp/serve.log"
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$out" "$KEEP/$label-$1.out"; fi
}

for call in $calls; do
    case $call in
        me) args=(/v1/me) ;;
        decide) args=(/v1/decide "$body" '"decision":"allow"') ;;
        deny_policy) args=(/v1/decide "$denied" '"decision":"deny"') ;;
        *) echo "unknown call $call (me, decide, deny_policy)" >&2; exit 2 ;;
    esac
    label=$call
    one=$(count "$n" "${args[@]}")
    two=$(count $((2 * n)) "${args[@]}")
    echo "$call $(( (two - one) / n ))"
done
