#!/usr/bin/env bash
# Token cache before and after cross-replica invalidation (issue 12.4), in
# one run on one machine: the same server binary and seeded database, wrk
# asking for Zipf-distributed users, first with TOKENBROKER_INVALIDATION=0
# (tokens cached TOKENBROKER_TOKEN_CACHE_MS, 1 s: the 0.1 behaviour), then
# with it on (PostgreSQL LISTEN/NOTIFY: cached until the refresh window).
# Reports requests/s (and the ratio to /healthz of the same server), p99,
# and the cache hit rate from /metrics.
#
#   tests/bench/cache_invalidation.sh          # needs target/release/tokenbroker
#
# Knobs: BENCH_USERS (10000), BENCH_DURATION (15s), BENCH_CONNECTIONS (64),
# BENCH_THREADS (2), BENCH_DBS (postgres sqlite), BENCH_PG_URL.
set -euo pipefail
cd "$(dirname "$0")/../.."

USERS="${BENCH_USERS:-10000}"
DURATION="${BENCH_DURATION:-15s}"
CONNS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
DBS="${BENCH_DBS:-postgres sqlite}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
BIN=target/release/tokenbroker
WORK="$(mktemp -d)"
PIDS=()
export PGOPTIONS='--client-min-messages=warning'
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release"; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
ulimit -n 20000 2>/dev/null || true

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not up: $1"; exit 1; }
COLS="id,org_id,app_type,subject,zoom_user_id,zoom_account_id,email,status,scopes,access_token,refresh_token,access_expires_at,version,created_at,updated_at,authorized_at,last_used_at,refresh_issued_at"
rps() { awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/$1.txt"; }
p99() { awk '$1=="99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 } printf "%.2f", v }' "$WORK/$1.txt"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
lookups() { curl -sf "$1/metrics" | awk -v o="$2" '$1 ~ "^tokenbroker_token_cache_lookups_total" && $1 ~ "\""o"\"" {print $2}' | head -n1; }

printf '| database | invalidation | /healthz req/s | token req/s (ratio) | p99 ms | cache hits | misses | hit rate |\n|---|---|---|---|---|---|---|---|\n' > "$WORK/table.md"
for db in $DBS; do
  if [ "$db" = postgres ]; then
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_cache_bench" >/dev/null
    psql "$PG_URL" -qc "CREATE DATABASE tb_cache_bench" >/dev/null
    url="${PG_URL%/*}/tb_cache_bench"
  else
    rm -f "$WORK/cache.db"*; url="sqlite://$WORK/cache.db?mode=rwc"
  fi
  export DATABASE_URL="$url" TOKENBROKER_MASTER_KEY="k1:$($BIN gen-key)" \
    ZOOM_OAUTH_URL="http://127.0.0.1:9" ZOOM_API_URL="http://127.0.0.1:9/v2" \
    ZOOM_CLIENT_ID=bench-client ZOOM_CLIENT_SECRET=bench-secret \
    TOKENBROKER_BACKGROUND_REFRESH=0 RUST_LOG=warn
  $BIN migrate >/dev/null
  $BIN org create bench >/dev/null
  KEY=$($BIN api-key create --org bench | tail -n1)
  if [ "$db" = postgres ]; then
    org=$(psql "$url" -tAc "SELECT id FROM orgs WHERE slug = 'bench'")
    python3 tests/bench/seed_connections.py "$USERS" "$org" "$TOKENBROKER_MASTER_KEY" \
      | psql "$url" -qc "\\copy connections ($COLS) FROM STDIN CSV"
    psql "$url" -qc "ANALYZE connections"
  else
    org=$(sqlite3 "$WORK/cache.db" "SELECT id FROM orgs WHERE slug = 'bench'")
    { echo "$COLS"; python3 tests/bench/seed_connections.py "$USERS" "$org" "$TOKENBROKER_MASTER_KEY"; } > "$WORK/seed.csv"
    sqlite3 "$WORK/cache.db" ".import --csv $WORK/seed.csv seed" "INSERT INTO connections ($COLS) SELECT * FROM seed" "DROP TABLE seed" "ANALYZE"
  fi
  for inv in 0 1; do
    bport=$(port); base="http://127.0.0.1:$bport"
    TOKENBROKER_BIND="127.0.0.1:$bport" TOKENBROKER_PUBLIC_URL="$base" TOKENBROKER_INVALIDATION=$inv \
      $BIN serve > "$WORK/serve.log" 2>&1 & pid=$!; PIDS+=($pid)
    wait_up "$base/readyz"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$base/healthz" > "$WORK/healthz.txt"
    USERS="$USERS" ZIPF=1 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s tests/bench/random_user.lua \
      -H "Authorization: Bearer $KEY" "$base" > "$WORK/token.txt"
    if grep -q "Non-2xx" "$WORK/token.txt"; then cat "$WORK/token.txt" "$WORK/serve.log"; echo "FAIL: non-2xx answers"; exit 1; fi
    hits=$(lookups "$base" hit); misses=$(lookups "$base" miss)
    kill $pid; wait $pid 2>/dev/null || true
    h=$(rps healthz); t=$(rps token)
    rate=$(python3 -c "h=float('${hits:-0}'); m=float('${misses:-0}'); print(f'{h/(h+m):.3f}' if h+m else 'n/a')")
    printf '| %s | %s | %s | %s (%s) | %s | %s | %s | %s |\n' "$db" "$([ $inv = 1 ] && echo on || echo off)" \
      "$h" "$t" "$(ratio "$t" "$h")" "$(p99 token)" "${hits:-0}" "${misses:-0}" "$rate" >> "$WORK/table.md"
    tail -n1 "$WORK/table.md"
  done
  [ "$db" = postgres ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_cache_bench" >/dev/null
done
echo; cat "$WORK/table.md"
