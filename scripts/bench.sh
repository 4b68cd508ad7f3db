#!/usr/bin/env bash
# `make bench`: one argon2id verify natively and in wasm, the gzipped upload size and what takes it
# (twiggy), the control worker (bench/control) and the ablation build (cargo feature `ablation`),
# then the HTTP benchmark under `wrangler dev` driven by wrk (scripts/bench.mjs), which also measures
# the wasm instantiation and writes the results into README.md's "## Performance" section
# (BENCH_README=0 leaves README.md alone; BENCH_ABLATION=0 skips the ablation build and its table;
# the report is always in .bench/last.md).
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
jwt_remembered=$(sed -n 's/.*BENCH wasm_jwt_verify_remembered_ms p50=\([0-9.]*\).*/\1/p' "$log" | head -1)
page=$(sed -n 's/.*BENCH wasm_request_page_whole_ms p50=\([0-9.]*\).*/\1/p' "$log" | head -1)
echo "bench: argon2id verify p50: native ${native:-?} ms, wasm ${wasm:-?} ms"

echo "bench: upload size (wrangler deploy --dry-run --outdir dist)"
size=$(node_modules/.bin/wrangler deploy --dry-run --outdir dist 2>&1 | sed -n 's/.*Total Upload: \(.*\)$/\1/p' | head -1)
echo "bench: upload ${size:-?}"

# What takes the space: twiggy (crates.io, installed once) on the release wasm as rustc wrote it,
# names kept (wasm-bindgen and wasm-opt run after it; the shares hold to within a few percent).
if ! command -v twiggy >/dev/null; then
  echo "bench: installing twiggy (cargo install)"
  measure cargo install twiggy --locked --version 0.8.0
fi
mkdir -p .bench
twiggy top -n 15 target/wasm32-unknown-unknown/release/extranet.wasm | sed -E 's/::h[0-9a-f]{16}//; s/ +$//' >.bench/twiggy.txt

echo "bench: the control worker (bench/control)"
measure bash scripts/build-control.sh
extra=()
if [ "${BENCH_ABLATION:-1}" = 1 ]; then
  echo "bench: the ablation build (cargo feature ablation, target/ablation-build)"
  # Its own cargo target dir, so the release build's artifacts (and twiggy's input) stay its own.
  measure env WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt" ESBUILD_BIN="$PWD/node_modules/.bin/esbuild" \
    CARGO_TARGET_DIR="$PWD/target/bench-ablation" worker-build --release --out-dir target/ablation-build --features ablation
else
  extra+=(--no-ablation)
fi

readme=(--readme)
[ "${BENCH_README:-1}" = 0 ] && readme=()
node scripts/bench.mjs --native-verify-ms "${native:-0}" --wasm-verify-ms "${wasm:-0}" --jwt-verify-ms "${jwt:-0}" --jwt-remembered-ms "${jwt_remembered:-0}" --page-cpu-ms "${page:-0}" --upload "${size:-unknown}" \
  --twiggy .bench/twiggy.txt "${extra[@]}" "${readme[@]}" "$@"
