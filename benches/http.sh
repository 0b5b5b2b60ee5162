#!/usr/bin/env bash
# `aarm serve`'s allow/deny throughput under wrk, set against the engine in-process, in one run.
# Usage: benches/http.sh [SECONDS] [CONNECTIONS]        (default 10 s, 16 connections)
#
# `aarm serve` runs on core 0 and wrk on core 1; the in-process baseline runs on core 0 too, so
# every figure is one core's share. Four HTTP figures tell where the time goes:
#   me          GET /v1/me: HTTP, the router and the bearer-token lookup, no JSON, no engine
#   decide      POST /v1/decide, the store on disk: + JSON, the engine, the decide receipt (fsync)
#   decide_shm  the same with the store on /dev/shm, where fsync costs nothing
#   deny        a body that is not JSON: the service's path without the engine's work
#   deny_policy a well-formed request the policy denies (`blocked`): the engine, the receipt and
#               the denial kept for overrides; deny_policy_shm the same on /dev/shm
# Every HTTP figure also gives the server's CPU time and context switches per request
# (`perf stat -e task-clock,context-switches -p PID` over the wrk run), when perf is installed.
# BIN=path/to/aarm times that binary instead of building this tree's (to set two builds side by
# side in one session).
# Not part of `.ci/run` (it needs wrk: `apt-get install wrk`, and two quiet cores).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
command -v wrk >/dev/null || { echo "benches/http.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
if [ -n "${BIN:-}" ]; then
    cargo build --release --locked -q -p aarm-runtime --example decide_rate
else
    cargo build --release --locked -q -p aarm --bin aarm -p aarm-runtime --example decide_rate
fi
# shellcheck source=benches/http_setup.sh
. benches/http_setup.sh
printf '%s' "$body" >"$tmp/body.json"

lua() { # METHOD BODY
    printf 'wrk.method = "%s"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer agent-token"\n' "$1" "$2"
}
lua GET "" >"$tmp/get.lua"
lua POST "$body" >"$tmp/post.lua"
lua POST "not json" >"$tmp/bad.lua"
lua POST "$denied" >"$tmp/denied.lua"

serve() { # STORE
    local port=$((20000 + RANDOM % 20000))
    taskset -c 0 "$aarm" serve --bundle "$tmp/policy.aarmb" --store "$1" --listen "127.0.0.1:$port" \
        --config "$tmp/serve.toml" >"$tmp/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { base="http://127.0.0.1:$port"; return; }
        sleep 0.1
    done
    cat "$tmp/serve.log" >&2
    exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
load() { # NAME SCRIPT PATH
    local out perf=
    if command -v perf >/dev/null; then
        perf stat -e task-clock,context-switches -x, -o "$tmp/perf.txt" -p "$pid" &
        perf=$!
    fi
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$2" "$base$3")
    local rps p99 n per=
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    if [ -n "$perf" ]; then
        kill -INT "$perf"
        wait "$perf" 2>/dev/null || true
        per=$(awk -F, -v n="$n" '$3 == "task-clock" {ms = $1} $3 == "context-switches" {cs = $1}
            END { if (n > 0) printf "   %6.1f µs CPU  %5.2f switches a request", ms * 1000 / n, cs / n }' "$tmp/perf.txt")
    fi
    printf '%-16s %10.0f requests/s   p99 %-8s%s\n' "$1" "$rps" "$p99" "$per"
    eval "rate_$1=$rps"
}

echo "== aarm serve on core 0, wrk -t1 -c$conns -d${secs}s on core 1"
serve "$tmp/cases.db"
load me "$tmp/get.lua" /v1/me
load decide "$tmp/post.lua" /v1/decide
load deny "$tmp/bad.lua" /v1/decide
load deny_policy "$tmp/denied.lua" /v1/decide
stop
serve "$shm/cases.db"
load decide_shm "$tmp/post.lua" /v1/decide
load deny_policy_shm "$tmp/denied.lua" /v1/decide
stop

echo "== in-process, core 0"
base_out=$(taskset -c 0 "$target/release/examples/decide_rate" "$tmp/policy.aarmb" "$tmp/body.json" "$secs")
echo "$base_out"
bare=$(awk '/^in-process decide_json:/ {print $3}' <<<"$base_out")
echo "== ratios to in-process decide_json"
for name in me decide decide_shm deny deny_policy deny_policy_shm; do
    eval "r=\$rate_$name"
    awk -v n="$name" -v r="$r" -v b="$bare" 'BEGIN { printf "%-16s %.4f\n", n, r / b }'
done
