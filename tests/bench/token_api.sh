#!/usr/bin/env bash
# Benchmark of the token API, measured against /healthz of the same server in
# the same run, on SQLite and on PostgreSQL, plus a refresh storm.
#
#   tests/bench/token_api.sh            # both databases
#   BENCH_DBS=sqlite tests/bench/token_api.sh
#
# Knobs: BENCH_DURATION (10s), BENCH_CONNECTIONS (64), BENCH_THREADS (2),
# BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/test; a database
# tb_bench is created and dropped next to it). Installs wrk if missing.
# Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${BENCH_DURATION:-10s}"
CONNS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
DBS="${BENCH_DBS:-sqlite postgres}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
BIN=target/release/tokenbroker
. tests/bench/lib.sh
echo "building release binary…"
cargo build --release --quiet


# wrk prints "Requests/sec: N" and, with --latency, a "99%" line.
wrk_run() { wrk -t"$THREADS" -c"$1" -d"$2" --latency -H "Authorization: Bearer $KEY" "$3" > "$WORK/wrk.txt"; }
rps() { awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt"; }
p99_ms() {
  awk '$1=="99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 } printf "%.2f", v }' "$WORK/wrk.txt"
}

bench_db() {
  local db="$1" url
  if [ "$db" = postgres ]; then
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_bench" >/dev/null
    psql "$PG_URL" -qc "CREATE DATABASE tb_bench" >/dev/null
    url="${PG_URL%/*}/tb_bench"
  else
    url="sqlite://$WORK/bench.db?mode=rwc"
  fi
  local bport sport; bport=$(port); sport=$(port)
  export DATABASE_URL="$url" TOKENBROKER_MASTER_KEY="$($BIN gen-key)" \
    TOKENBROKER_BIND="127.0.0.1:$bport" TOKENBROKER_PUBLIC_URL="http://127.0.0.1:$bport" \
    ZOOM_OAUTH_URL="http://127.0.0.1:$sport" ZOOM_API_URL="http://127.0.0.1:$sport/v2" \
    ZOOM_CLIENT_ID=bench-client ZOOM_CLIENT_SECRET=bench-secret \
    TOKENBROKER_REFRESH_AHEAD_SECS=3500 TOKENBROKER_BACKGROUND_REFRESH=0 RUST_LOG=warn
  # The first token lives 3000 s, inside the 3500 s refresh window: the storm below refreshes it.
  $BIN sandbox --bind "127.0.0.1:$sport" --access-token-ttl 3000 > "$WORK/sandbox.log" 2>&1 & PIDS+=($!)
  local base="http://127.0.0.1:$bport" zoom="http://127.0.0.1:$sport"
  start_broker "$BIN" "$WORK/serve-$db.log" "$base" "$zoom"

  # Authorize one user through the real browser flow (curl as the browser).
  local link auth q cb
  link=$(curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"org":"bench","email":"bench@bench.example","app_type":"user"}' "$base/api/v1/connect-sessions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  # The connect page, then its own form (same origin, with the page's token).
  form_token=$(curl -sf -c "$WORK/jar" -b "$WORK/jar" "$link" | sed -n 's/.*name="form_token" value="\([^"]*\)".*/\1/p')
  auth=$(curl -s -c "$WORK/jar" -b "$WORK/jar" -o /dev/null -w '%{redirect_url}' \
    -H "origin: $base" --data "form_token=$form_token" "$link")
  q="${auth#*\?}"
  cb=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST "$zoom/oauth/authorize" --data "$q&email=bench%40bench.example&role=Member&decision=allow")
  curl -sf -c "$WORK/jar" -b "$WORK/jar" -o /dev/null "$cb"
  local token_url="$base/api/v1/orgs/bench/users/bench@bench.example/token"

  # Refresh storm: 1,000 connections at once on a token that must be refreshed.
  curl -sf -X POST -H 'content-type: application/json' -d '{"access_token_ttl_secs":3600}' "$zoom/_sandbox/config"
  wrk_run 1000 3s "$token_url"
  local storm_p99 storm_calls
  storm_p99=$(p99_ms); storm_calls=$(curl -sf "$zoom/_sandbox/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
  if grep -q "Non-2xx" "$WORK/wrk.txt"; then
    echo "FAIL ($db): the refresh storm got non-2xx answers"; grep "Non-2xx" "$WORK/wrk.txt"; exit 1
  fi
  if [ "$storm_calls" != 1 ]; then
    echo "FAIL ($db): the refresh storm made $storm_calls upstream refreshes, not exactly 1"; exit 1
  fi

  # Steady state: the same server, the same load, /healthz then the token API.
  wrk_run "$CONNS" 3s "$base/healthz" # warm-up
  wrk_run "$CONNS" "$DURATION" "$base/healthz"; local h_rps h_p99; h_rps=$(rps); h_p99=$(p99_ms)
  wrk_run "$CONNS" "$DURATION" "$token_url"; local t_rps t_p99; t_rps=$(rps); t_p99=$(p99_ms)
  local errors; errors=$(grep -c "Non-2xx" "$WORK/wrk.txt" || true)
  printf '%-9s healthz %9.0f req/s p99 %6s ms | token %9.0f req/s p99 %6s ms | ratio %.2f | storm: 1000 callers, %s upstream refresh, p99 %s ms%s\n' \
    "$db" "$h_rps" "$h_p99" "$t_rps" "$t_p99" "$(python3 -c "print($t_rps/$h_rps)")" "$storm_calls" "$storm_p99" \
    "$([ "$errors" != 0 ] && echo ' (NON-2xx ANSWERS!)')"
  stop_all
  if [ "$errors" != 0 ]; then echo "FAIL ($db): the token API answered non-2xx under load"; exit 1; fi
  [ "$db" = postgres ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_bench" >/dev/null
  return 0
}

echo "wrk: $THREADS threads, $CONNS connections, $DURATION per run, on $(nproc) cores"
for db in $DBS; do bench_db "$db"; done
