#!/usr/bin/env bash
# Runs the whole `cargo test` N times in a row (default 20) while the machine is loaded, and
# stops at the first failure: a test that depends on how fast the machine is fails here.
#
#   scripts/soak-tests.sh            # 20 runs
#   scripts/soak-tests.sh 3          # 3 runs
#   SOAK_LOAD=0 scripts/soak-tests.sh 5          # without the extra load
#   SOAK_RUN_TIMEOUT=3600 scripts/soak-tests.sh  # per-run limit in seconds (a hang is a failure)
#   scripts/soak-tests.sh 20 -p aarm-server      # arguments after N go to `cargo test`
#
# Load: `stress-ng --cpu 2` when installed (apt-get install -y stress-ng), otherwise two busy
# shell loops. The tests are built once before the loop, so the runs measure the tests, not
# the compiler. Logs go to target/soak/ (run-K.log); the failing run's log is printed.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
shift || true
case "$runs" in '' | *[!0-9]*) echo "usage: $0 [N] [cargo test args...]" >&2; exit 2 ;; esac
timeout_s=${SOAK_RUN_TIMEOUT:-3600}
logs=target/soak
mkdir -p "$logs"

echo "== building the tests once"
if ! cargo test --no-run "$@" >"$logs/build.log" 2>&1; then
  tail -n 60 "$logs/build.log"
  echo "the tests do not build: see $logs/build.log" >&2
  exit 2
fi

load_pids=()
stop_load() {
  for pid in "${load_pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${load_pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  load_pids=()
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT TERM

if [ "${SOAK_LOAD:-1}" != "0" ]; then
  if command -v stress-ng >/dev/null 2>&1; then
    echo "== load: stress-ng --cpu 2"
    stress-ng --cpu 2 --quiet >/dev/null 2>&1 &
    load_pids+=($!)
  else
    echo "== load: two busy loops (stress-ng is not installed)"
    for _ in 1 2; do
      ( while :; do :; done ) &
      load_pids+=($!)
    done
  fi
fi

passed=0
failed=0
started=$(date +%s)
for k in $(seq 1 "$runs"); do
  log="$logs/run-$k.log"
  t0=$(date +%s)
  timeout --kill-after=30 "$timeout_s" cargo test "$@" >"$log" 2>&1
  rc=$?
  t1=$(date +%s)
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "run $k/$runs: passed ($((t1 - t0)) s)"
  else
    failed=$((failed + 1))
    [ "$rc" -eq 124 ] && why="timed out after ${timeout_s} s" || why="exit $rc"
    echo "run $k/$runs: FAILED ($why, $((t1 - t0)) s); log: $log"
    echo "---- failing tests"
    grep -E "^test .* FAILED$|panicked at|^---- " "$log" | head -n 40
    echo "---- end of the log"
    tail -n 80 "$log"
    break
  fi
done
stop_load
echo "== soak: $passed passed, $failed failed, of $runs runs in $(($(date +%s) - started)) s (load: ${SOAK_LOAD:-1})"
[ "$failed" -eq 0 ]
