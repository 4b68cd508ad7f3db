#!/usr/bin/env bash
# `make bench`: argon2id verify natively and in wasm, then the HTTP benchmark against wrangler dev.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
native=$(cargo run --quiet --release --bin bench_argon2 | sed -n 's/^BENCH native_argon2_verify_ms p50=\([0-9.]*\).*/\1/p')
wasm=$(cargo test --release --target wasm32-unknown-unknown --test wasm_argon2_bench -- --nocapture 2>&1 \
  | sed -n 's/.*BENCH wasm_argon2_verify_ms p50=\([0-9.]*\).*/\1/p' | head -1)
echo "argon2id verify p50: native ${native:-?} ms, wasm ${wasm:-?} ms"
size=$(node_modules/.bin/wrangler deploy --dry-run --outdir dist 2>&1 | sed -n 's/.*Total Upload: \(.*\)$/\1/p' | head -1)
echo "upload (wrangler deploy --dry-run): ${size:-?}"
node scripts/bench.mjs --native-verify-ms "${native:-0}" --wasm-verify-ms "${wasm:-0}" "$@"
