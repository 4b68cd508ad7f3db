#!/usr/bin/env bash
# `make bench`: one argon2id verify natively and in wasm, the gzipped upload size, then the HTTP
# benchmark against `wrangler dev` driven by wrk (scripts/bench.mjs), which also measures the wasm
# instantiation and writes the results into README.md's "## Performance" section
# (BENCH_README=0 leaves README.md alone; the report is always in .bench/last.md).
# Extra arguments go to scripts/bench.mjs (e.g. `--duration 4 --sizes 1000,10000`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

# The load generator: wrk from Debian.
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (apt-get)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk >/dev/null 2>&1 || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Runs a measurement quietly; on failure shows its output and stops.
measure() {
  "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "bench: failed: $*" >&2; exit 1; }
}
# Native at opt-level 3 (what a native server would run; the release profile's "s" is for the wasm
# size), in its own target dir so it does not invalidate the shared release build.
echo "bench: argon2id verify, native (release, opt-level 3)"
measure env CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_TARGET_DIR=target/bench-native cargo run --quiet --release --bin bench_argon2
native=$(sed -n 's/^BENCH native_argon2_verify_ms p50=\([0-9.]*\).*/\1/p' "$log")
echo "bench: argon2id verify, wasm (release, V8 under node)"
# Tests need panic=unwind; with the release profile's "abort" cargo builds the library twice in one
# run and the test sees two copies of chrono and serde_json. Its own target dir keeps the worker's
# release build untouched.
measure env CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_TARGET_DIR=target/bench-wasm \
  cargo test --release --target wasm32-unknown-unknown --test wasm_argon2_bench -- --nocapture
wasm=$(sed -n 's/.*BENCH wasm_argon2_verify_ms p50=\([0-9.]*\).*/\1/p' "$log" | head -1)
jwt=$(sed -n 's/.*BENCH wasm_jwt_verify_ms p50=\([0-9.]*\).*/\1/p' "$log" | head -1)
page=$(sed -n 's/.*BENCH wasm_request_page_whole_ms p50=\([0-9.]*\).*/\1/p' "$log" | head -1)
echo "bench: argon2id verify p50: native ${native:-?} ms, wasm ${wasm:-?} ms"

echo "bench: upload size (wrangler deploy --dry-run --outdir dist)"
size=$(node_modules/.bin/wrangler deploy --dry-run --outdir dist 2>&1 | sed -n 's/.*Total Upload: \(.*\)$/\1/p' | head -1)
echo "bench: upload ${size:-?}"

readme=(--readme)
[ "${BENCH_README:-1}" = 0 ] && readme=()
node scripts/bench.mjs --native-verify-ms "${native:-0}" --wasm-verify-ms "${wasm:-0}" --jwt-verify-ms "${jwt:-0}" --page-cpu-ms "${page:-0}" --upload "${size:-unknown}" "${readme[@]}" "$@"
