#!/usr/bin/env bash
# Installs what the browser tests need (issue 7): Debian's Chromium at /usr/bin/chromium, driven by
# playwright-core from node_modules. Browser downloads from other hosts fail here, so the browser comes
# from apt, never from `npx playwright install`. Idempotent: does nothing when the browser is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup-browser: %s\n' "$*"; }

if [ -x /usr/bin/chromium ]; then
  say "chromium: present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
else
  command -v apt-get >/dev/null 2>&1 || { say "no /usr/bin/chromium and no apt-get: install Chromium by hand" >&2; exit 1; }
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { say "installing chromium needs root (or sudo)" >&2; exit 1; }
    sudo="sudo"
  fi
  say "chromium: installing from apt (about 20 s)"
  # Retried: a mirror hiccup or a vanished download must not fail the whole test run.
  for attempt in 1 2 3; do
    if $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium; then
      break
    fi
    [ "$attempt" = 3 ] && { say "chromium: install failed three times" >&2; exit 1; }
    say "chromium: install failed (attempt $attempt), retrying in 10 s"
    sleep 10
  done
fi

# playwright-core and axe-core are devDependencies: `scripts/setup.sh` (npm ci) installs them.
for pkg in playwright-core axe-core; do
  [ -d "node_modules/$pkg" ] || { say "node_modules/$pkg missing: run \`make setup\` (npm ci)" >&2; exit 1; }
done
say "done"
