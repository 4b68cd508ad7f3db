#!/usr/bin/env bash
# Builds the bench's control worker (bench/control) with the project's tools (the same worker-build,
# wasm-bindgen, wasm-opt and esbuild as scripts/build.sh) and the project's Cargo.lock, into
# bench/control/build/. Its own cargo target dir, so the project's release build stays untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
root=$PWD
# The same versions as the project: the lock is copied before every build.
cp Cargo.lock bench/control/Cargo.lock
WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}
WASM_OPT_BIN=${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}
ESBUILD_BIN=${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}
export WASM_BINDGEN_BIN WASM_OPT_BIN ESBUILD_BIN
export CARGO_TARGET_DIR=$root/target/bench-control
cd bench/control
worker-build --release
# The same name-section strip as the project's build, so both modules are shaped alike.
node "$root/scripts/strip-wasm-names.mjs" build/index_bg.wasm
