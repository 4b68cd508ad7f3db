#!/usr/bin/env bash
# `make fuzz`: the cargo-fuzz targets in fuzz/ (the parsers that face the internet), each run for a
# bounded time. Not part of `make test`. Installs cargo-fuzz when missing; uses the nightly
# toolchain when rustup has one, else the stable one with RUSTC_BOOTSTRAP=1 (libFuzzer's
# sanitizer flags are nightly-only).
#   FUZZ_SECONDS=N      time per target (default 60)
#   FUZZ_TARGETS="a b"  a subset (default: every target of fuzz/Cargo.toml)
# Corpora grow in fuzz/corpus/<target>; a crash is saved in fuzz/artifacts/<target>/ and fails the run
# (replay it with `cargo fuzz run <target> <file>`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (about 3 minutes)"
  cargo install cargo-fuzz --version 0.13.2
fi
if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
else
  echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

targets=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^extranet-fuzz$')}

# A few well-formed inputs to start from, so the fuzzer reaches past the first parse.
seed() {
  local dir=fuzz/corpus/$1
  shift
  [ -d "$dir" ] && return
  mkdir -p "$dir"
  local i=0
  for s in "$@"; do
    printf '%b' "$s" >"$dir/seed-$i"
    i=$((i + 1))
  done
}
seed json_bodies \
  '\x00{"login":"emily@example.test","password":"a long passphrase","totp":"123456","refresh_transport":"body"}' \
  '\x01{"refresh_token":"0190a000-0000-7000-8000-000000000051.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' \
  '\x02{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"a long passphrase","refresh_transport":"cookie"}' \
  '\x03{"user":{"login":"a@b.example","email":"a@b.example","first_name":"A","last_name":"B"},"contact_id":"0190a000-0000-7000-8000-000000000011","company_ids":["0190a000-0000-7000-8000-000000000001"]}' \
  '\x04{"company_id":"0190a000-0000-7000-8000-000000000001","pipeline_id":"0190a000-0000-7000-8000-000000000021","title":"t","description":"d","fields":{"priority":"high"}}' \
  '\x05{"id":"evt-1","type":"message","text":"hello","request_id":"0190a000-0000-7000-8000-000000000041"}'
seed refresh_token '0190a000-0000-7000-8000-000000000051.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8'
seed query_string 'company=0190a000-0000-7000-8000-000000000001&limit=50&cursor=MTc5NTQyNDQwMDphYmM'
seed telegram_update \
  '{"update_id":1,"message":{"message_id":5,"chat":{"id":42,"type":"private"},"from":{"id":42,"username":"emily"},"text":"/start AbC_123-x"}}' \
  '{"update_id":2,"message":{"message_id":6,"chat":{"id":42,"type":"private"},"text":"hi","reply_to_message":{"message_id":5}}}'

echo "fuzz: building the targets (${fuzz[*]} build)"
"${fuzz[@]}" build

failed=()
for t in $targets; do
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  mkdir -p "fuzz/corpus/$t"
  if "${fuzz[@]}" run "$t" "fuzz/corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"fuzz/$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "fuzz/$t.log" | tail -1)
    echo "fuzz: $t: no crash in ${runs:-?} runs (${cov:-cov: ?}, corpus $(ls "fuzz/corpus/$t" | wc -l) inputs)"
  else
    echo "fuzz: $t: CRASH or error; see fuzz/$t.log and fuzz/artifacts/$t/" >&2
    grep -m5 -E 'panicked|ERROR|SUMMARY' "fuzz/$t.log" >&2 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: every target ran ${SECONDS_PER_TARGET}s without a crash"
