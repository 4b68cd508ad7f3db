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
fresh() {
  [ -f "$stamp" ] && [ -f build/worker/shim.mjs ] &&
    [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]
}
if fresh; then
  echo "build.sh: build/ is up to date"
  exit 0
fi

# One build at a time (wrangler's watcher, `make build` in another terminal): two worker-builds
# writing build/ at once leave it mixed. The one that waited may find the other's result fresh.
mkdir -p target
exec 9>target/.worker-build.lock
if command -v flock >/dev/null; then
  flock 9
  if fresh; then
    echo "build.sh: build/ is up to date (built meanwhile)"
    exit 0
  fi
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
rm -f "$stamp"
started=$(mktemp target/.worker-build-started.XXXXXX)
trap 'rm -f "$started"' EXIT
worker-build --release
# worker-build keeps the wasm name section (function names for stack traces): ~85 KiB gzipped of the
# 1 MiB upload budget. Release code has panic = "abort" and no panics by lint, so the names buy little;
# strip them (only that section is dropped; every other byte is copied as is).
node scripts/strip-wasm-names.mjs build/index_bg.wasm
mv "$started" "$stamp"
