#!/usr/bin/env bash
# Installs what building, serving and testing the worker needs, skipping whatever is already in place,
# so `make dev` and `make test` can call it every time. Prints each thing it checks or does.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'setup: %s\n' "$*"; }
need() {
  command -v "$1" >/dev/null 2>&1 || { say "$1 not found: $2" >&2; exit 1; }
}

need cargo "install Rust with rustup (https://rustup.rs)"
need rustup "the wasm target is added with rustup (https://rustup.rs)"
need node "install Node.js 20.3 or newer"
need npm "install npm (it comes with Node.js)"

# 1. The wasm target.
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rust target wasm32-unknown-unknown: present"
else
  say "rust target wasm32-unknown-unknown: adding"
  rustup target add wasm32-unknown-unknown
fi

# 2. worker-build 0.8 (it drives cargo, wasm-bindgen, wasm-opt and esbuild).
wb_version=$(worker-build --version 2>/dev/null | awk '{print $NF}' || true)
case "$wb_version" in
  0.8.*) say "worker-build $wb_version: present" ;;
  *)
    say "worker-build ^0.8: installing (found '${wb_version:-none}'; about 4 minutes cold)"
    cargo install worker-build --version '^0.8'
    ;;
esac

# 3. wasm-bindgen CLI and test runner at exactly the version the crate locks: the CLI refuses a
#    module built by another version. No --locked: a locked dependency is missing from some mirrors.
[ -f Cargo.lock ] || cargo generate-lockfile
wb_lib=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
[ -n "$wb_lib" ] || { say "no wasm-bindgen in Cargo.lock" >&2; exit 1; }
cli=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
runner=$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}' || true)
if [ "$cli" = "$wb_lib" ] && [ "$runner" = "$wb_lib" ]; then
  say "wasm-bindgen-cli $wb_lib: present"
else
  say "wasm-bindgen-cli $wb_lib: installing (found '${cli:-none}'; about 2 minutes)"
  cargo install wasm-bindgen-cli --version "=$wb_lib" --force
fi

# 4. The node side: wrangler (with workerd), binaryen's wasm-opt, esbuild.
#    npm writes node_modules/.package-lock.json on every install: it is the stamp.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "node_modules: npm ci"
  npm ci --no-audit --no-fund
else
  say "node_modules: up to date with package-lock.json"
fi

# 5. Issue 7 adds the browser (Chromium from apt, driven by playwright-core) here.

say "done"
