#!/usr/bin/env bash
# The release wasm build, called by wrangler's [build] command (and `make build`).
# worker-build would download wasm-bindgen, wasm-opt and esbuild at build time, which fails offline;
# the <NAME>_BIN variables point it at the copies `scripts/setup.sh` installed instead.
# SKIP_WORKER_BUILD=1 reuses an existing build/ (tests build once, then start wrangler many times).
# Without it, a build/ newer than every input is reused too: `wrangler dev` calls this at start and
# again when its watcher settles, and each wasm-bindgen + wasm-opt pass costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SKIP_WORKER_BUILD:-}" = 1 ] && [ -f build/worker/shim.mjs ]; then
  echo "build.sh: SKIP_WORKER_BUILD=1, reusing build/"
  exit 0
fi

stamp=build/.built
inputs=(src migrations Cargo.toml Cargo.lock .cargo)
if [ -f "$stamp" ] && [ -f build/worker/shim.mjs ] && [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "build.sh: build/ is up to date"
  exit 0
fi

export PATH="$HOME/.cargo/bin:$PATH"
missing() { echo "build.sh: $1 not found; run \`make setup\`" >&2; exit 1; }

WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen || true)}
WASM_OPT_BIN=${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}
ESBUILD_BIN=${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}
command -v worker-build >/dev/null || missing worker-build
[ -n "$WASM_BINDGEN_BIN" ] || missing wasm-bindgen
[ -x "$WASM_OPT_BIN" ] || missing "$WASM_OPT_BIN"
[ -x "$ESBUILD_BIN" ] || missing "$ESBUILD_BIN"
export WASM_BINDGEN_BIN WASM_OPT_BIN ESBUILD_BIN

# The stamp takes the time the build started: an input edited during the build is newer than it.
# (It waits outside build/, which worker-build may recreate.)
mkdir -p target
rm -f "$stamp"
touch target/.worker-build-started
worker-build --release
mv target/.worker-build-started "$stamp"
