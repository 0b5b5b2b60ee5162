#!/bin/sh
# Instructions per operation of each hot path, counted by callgrind (repeatable on a busy machine).
# Usage: benches/callgrind.sh [SCENARIO...]   (default: all; see src/bin/counts.rs)
# Runs `counts SCENARIO K` and `counts SCENARIO 2K` under callgrind and prints (I(2K) - I(K)) / K:
# the setup (compile, load, convert) is the same in both runs and cancels out.
set -eu
cd "$(dirname "$0")/.."
# BIN=path counts another build of the driver (a copy made before a change, for a before/after).
if [ -z "${BIN:-}" ]; then
    CARGO_INCREMENTAL=0 cargo build --release -q -p aarm-bench --bin counts
fi
bin=${BIN:-target/release/counts}
k=${K:-2000}
scenarios=${*:-"decide10 evaluate10 json10 tree10 tool_evaluate_1 tool_evaluate_20 tool_evaluate_200 tool_decide_1 tool_decide_20 tool_decide_200"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" 2>"$tmp/log" >/dev/null
    sed -n 's/^==[0-9]*== Collected : //p' "$tmp/log"
}
for s in $scenarios; do
    one=$(count "$s" "$k")
    two=$(count "$s" $((2 * k)))
    echo "$s $(( (two - one) / k ))"
done
