# Extranet: `make dev` serves the worker locally, `make test` runs every test layer.
# Both install what is missing first (scripts/setup.sh), so they work on a fresh machine.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
# One step at a time: the machine has two cores, and the steps share cargo's target dir.
.NOTPARALLEL:

export PATH := $(HOME)/.cargo/bin:$(PATH)
# No telemetry, and no lookup of the request `cf` object at every start (it fails offline).
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

WRANGLER := node_modules/.bin/wrangler
DEV_PORT ?= 8787

.PHONY: setup build migrate seed dev test test-native test-wasm test-e2e test-schema test-browser bench fuzz

setup:
	bash scripts/setup.sh

# Local secrets, generated once with fresh random values; delete the file to get new ones.
.dev.vars:
	node scripts/gen-dev-vars.mjs .dev.vars

build: setup
	bash scripts/build.sh

# Local D1 under .wrangler/state (wrangler's default), so data survives restarts.
migrate: setup
	$(WRANGLER) d1 migrations apply DB --local

seed: migrate
	bash scripts/seed.sh

# build/ is fresh at this point, so wrangler's own start-up build is a no-op (scripts/build.sh);
# after editing src/, wrangler rebuilds and reloads by itself.
dev: setup .dev.vars build migrate seed
	$(WRANGLER) dev --ip 127.0.0.1 --port $(DEV_PORT)

test: setup .dev.vars test-native test-wasm test-e2e test-schema test-browser

test-native: setup
	cargo test

test-wasm: setup
	cargo test --target wasm32-unknown-unknown --test wasm

# Each test file starts its own wrangler on free ports with a fresh database (tests/e2e/harness.mjs).
test-e2e: build
	node --test tests/e2e/

bench: setup .dev.vars build
	bash scripts/bench.sh

# schemathesis (PyPI, pinned; installed into target/ when missing) against /openapi.json of the
# seeded release build under wrangler dev: no 5xx, no response off the schema, no warning that
# cases never reached the code (scripts/schemathesis.sh).
test-schema: build
	bash scripts/schemathesis.sh

# cargo-fuzz targets for the parsers that face the internet, each for a bounded time
# (FUZZ_SECONDS, default 60); not part of `make test` (scripts/fuzz.sh).
fuzz:
	bash scripts/fuzz.sh

# The pages in a real browser (Debian's Chromium, driven by playwright-core) against wrangler dev:
# the seed's walkthrough, axe-core on every page, screenshots in tests/browser/.out/.
test-browser: build
	bash scripts/setup-browser.sh
	node --test tests/browser/
