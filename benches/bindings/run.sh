#!/usr/bin/env bash
# benches/bindings/run.sh [RULES]: aarm from Python and from Node against Cedar in the same
# language (cedarpy from PyPI, @cedar-policy/cedar-wasm from npm) and against `decide_json` in
# Rust, on the comparison workload of `compare` (RULES rules, default 100). Not part of .ci/run.
# Builds the release profile into the repository's one target directory; a few minutes the first
# time. Prints nanoseconds per call and the ratios benches/README.md reports.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="$PWD/target"
rules="${1:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== workload ($rules rules) and the Rust baseline"
rust_ns="$(cargo run --release --quiet -p aarm-bench --bin bindings_workload -- "$rules" "$work" | awk '/^rust_decide_json_ns/ {print $2}')"

echo "== Python: aarm vs cedarpy"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check ./bindings/python cedarpy==4.12.2
"$work/venv/bin/python" benches/bindings/bench.py "$work" "$rust_ns"

echo "== Node: aarm vs @cedar-policy/cedar-wasm"
(cd bindings/node && npm install --no-audit --no-fund --silent)
npm ci --prefix benches/bindings --no-audit --no-fund --silent
node benches/bindings/bench.js "$work" "$rust_ns"
