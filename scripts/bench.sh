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

echo "bench: argon2id verify, native (release)"
native=$(cargo run --quiet --release --bin bench_argon2 | sed -n 's/^BENCH native_argon2_verify_ms p50=\([0-9.]*\).*/\1/p')
echo "bench: argon2id verify, wasm (release, V8 under node)"
wasm=$(cargo test --quiet --release --target wasm32-unknown-unknown --test wasm_argon2_bench -- --nocapture 2>&1 \
  | sed -n 's/.*BENCH wasm_argon2_verify_ms p50=\([0-9.]*\).*/\1/p' | head -1)
echo "bench: argon2id verify p50: native ${native:-?} ms, wasm ${wasm:-?} ms"

echo "bench: upload size (wrangler deploy --dry-run --outdir dist)"
size=$(node_modules/.bin/wrangler deploy --dry-run --outdir dist 2>&1 | sed -n 's/.*Total Upload: \(.*\)$/\1/p' | head -1)
echo "bench: upload ${size:-?}"

readme=(--readme)
[ "${BENCH_README:-1}" = 0 ] && readme=()
node scripts/bench.mjs --native-verify-ms "${native:-0}" --wasm-verify-ms "${wasm:-0}" --upload "${size:-unknown}" "${readme[@]}" "$@"
