#!/usr/bin/env bash
# Fuzz smoke test: build every target once, seed the corpora from examples/, run each target for
# a few seconds. Exit status 1 when a target finds a crash (the input is in fuzz/artifacts/).
#
#   fuzz/smoke.sh            # 10 s per target
#   FUZZ_SECONDS=60 fuzz/smoke.sh
#   fuzz/smoke.sh decide_json lifecycle   # only these targets
#   AARM=$PWD/target/release/aarm fuzz/smoke.sh  # the CLI that builds the seed bundles (absolute)
#   FUZZ_SANITIZER=address fuzz/smoke.sh          # with AddressSanitizer (default: none)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); on a stable toolchain the build runs
# with RUSTC_BOOTSTRAP=1. `.ci/run` runs it last (about 8 minutes on 2 cores, mostly the build).
set -euo pipefail

cd "$(dirname "$0")"
root=..
seconds=${FUZZ_SECONDS:-10}
export RUSTC_BOOTSTRAP=1
# No sanitizer by default: every aarm crate forbids `unsafe`, so AddressSanitizer could only find
# memory errors in dependencies' unsafe code, and it makes the targets 4-6 times slower
# (fuzz/README.md, "Throughput"); panics, overflow checks, timeouts and the RSS limit work without
# it. FUZZ_SANITIZER=address builds and runs with it.
sanitizer=${FUZZ_SANITIZER:-none}
# With AddressSanitizer: it still checks every access, but stops recording a stack trace for every
# allocation and filling new memory with 0xbe (a quarter of its cost). Set ASAN_OPTIONS= to have
# allocation traces in a crash report.
export ASAN_OPTIONS=${ASAN_OPTIONS-malloc_context_size=0:max_malloc_fill_size=0}

all=(check_source bundle_load bundle_mutate decide_json differential lifecycle format_roundtrip)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

for t in "${all[@]}"; do mkdir -p "corpus/$t"; done

# Seeds: policy files, request files, and bundles built from the examples with the aarm CLI.
for f in "$root"/examples/*/*.aarm "$root"/stdlib/*.aarm; do
  cp "$f" "corpus/check_source/$(echo "${f#"$root"/}" | tr / _)"
done
for f in "$root"/examples/*/*.aarm "$root"/stdlib/*.aarm "$root"/lang/tests/format/*.aarm; do
  cp "$f" "corpus/format_roundtrip/$(echo "${f#"$root"/}" | tr / _)"
done
for d in "$root"/examples/*/; do
  n=$(basename "$d")
  cp "$d/request.json" "corpus/decide_json/$n.json"
done
# Bundles need the aarm CLI: $AARM, or the workspace's debug build (built if missing).
aarm_bin=${AARM:-}
if [ -z "$aarm_bin" ] && cargo build -q --manifest-path "$root/Cargo.toml" --bin aarm; then
  aarm_bin="$root/target/debug/aarm"
fi
if [ -n "$aarm_bin" ] && "$aarm_bin" --help 2>/dev/null | grep -q '^  build'; then
  for d in "$root"/examples/*/; do
    "$aarm_bin" build "$d" -o "corpus/bundle_load/$(basename "$d").aarmb" >/dev/null 2>&1 || true
  done
fi

# One instrumented build for all targets (`cargo fuzz run` below then finds them up to date).
if [ $# -eq 0 ]; then
  cargo fuzz build -O -s "$sanitizer"
else
  for t in "${targets[@]}"; do cargo fuzz build -O -s "$sanitizer" "$t"; done
fi
mkdir -p target
status=0
for t in "${targets[@]}"; do
  echo "== $t (${seconds}s, sanitizer: $sanitizer)"
  if cargo fuzz run -O -s "$sanitizer" "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      >"target/smoke_$t.log" 2>&1; then
    grep -E '^#[0-9]+ +DONE|Done [0-9]+ runs' "target/smoke_$t.log" | tail -n 1 || tail -n 1 "target/smoke_$t.log"
  else
    echo "!! $t failed: see fuzz/target/smoke_$t.log and fuzz/artifacts/$t/"
    tail -n 30 "target/smoke_$t.log"
    status=1
  fi
done
exit $status
