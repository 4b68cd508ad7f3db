#!/usr/bin/env bash
# Seeds the local D1 with the demo data (`make seed`). The seed SQL is idempotent, so it is applied on
# every run; the admin's password is shown only when this run created the admin, since a later run's
# password is never stored. PERSIST_TO=DIR seeds a database kept elsewhere than .wrangler/state.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

wrangler=(node_modules/.bin/wrangler d1 execute DB --local)
[ -n "${PERSIST_TO:-}" ] && wrangler+=(--persist-to "$PERSIST_TO")

count_json=$("${wrangler[@]}" --json --command "SELECT count(*) AS n FROM users WHERE kind='employee'")
employees=$(node -e 'console.log(JSON.parse(process.argv[1])[0].results[0].n)' "$count_json")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! cargo run --quiet --bin seed_sql >"$tmp/seed.sql" 2>"$tmp/seed.err"; then
  cat "$tmp/seed.err" >&2
  exit 1
fi
"${wrangler[@]}" --file "$tmp/seed.sql" >"$tmp/apply.log" 2>&1 || { cat "$tmp/apply.log" >&2; exit 1; }

if [ "$employees" = 0 ]; then
  if [ -n "${SEED_ADMIN_PASSWORD:-}" ]; then
    echo "seed: demo data loaded; the first admin (login: admin) has the password from SEED_ADMIN_PASSWORD."
  else
    echo "seed: demo data loaded; the first admin was created (login: admin). Shown once, note it now:"
    grep '^admin password:' "$tmp/seed.err" | sed 's/^/  /'
  fi
else
  echo "seed: demo data is in place (re-applied, idempotent); the admin already exists, its password is unchanged."
fi
