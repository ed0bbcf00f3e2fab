#!/usr/bin/env bash
# Benchmark of the Zoom API proxy: the same GET (list a user's meetings, a
# Medium-category call) sent straight to the sandbox Zoom and through the
# broker's proxy, in the same run, on SQLite and on PostgreSQL. The broker's
# rate budget is on (its permits are claimed from the ledger as in
# production) with a limit high enough never to refuse.
#
#   tests/bench/proxy.sh                 # both databases
#   BENCH_DBS=sqlite tests/bench/proxy.sh
#
# Reports, per database: latency at one connection (p50, p99; the added
# latency is proxied minus direct) and throughput at BENCH_CONNECTIONS (the
# ratio is proxied over direct). Knobs: BENCH_DURATION (10s),
# BENCH_CONNECTIONS (32), BENCH_PG_URL. Installs wrk if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${BENCH_DURATION:-10s}"
CONNS="${BENCH_CONNECTIONS:-32}"
DBS="${BENCH_DBS:-sqlite postgres}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
BIN=target/release/tokenbroker
. tests/bench/lib.sh
echo "building release binary…"
cargo build --release --quiet

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# wrk with --latency prints "Requests/sec: N" and "50%"/"99%" lines.
wrk_run() { wrk -t"$1" -c"$2" -d"$DURATION" --latency -H "Authorization: Bearer $3" "$4" > "$WORK/wrk.txt"; }
rps() { awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt"; }
pct_ms() {
  awk -v p="$1" '$1==p { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 } printf "%.3f", v }' "$WORK/wrk.txt"
}
non2xx() { awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt"; }

bench_db() {
  local db="$1" url
  if [ "$db" = postgres ]; then
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_bench_proxy" >/dev/null
    psql "$PG_URL" -qc "CREATE DATABASE tb_bench_proxy" >/dev/null
    url="${PG_URL%/*}/tb_bench_proxy"
  else
    url="sqlite://$WORK/bench.db?mode=rwc"
  fi
  local bport sport; bport=$(port); sport=$(port)
  export DATABASE_URL="$url" TOKENBROKER_MASTER_KEY="$($BIN gen-key)" \
    TOKENBROKER_BIND="127.0.0.1:$bport" TOKENBROKER_PUBLIC_URL="http://127.0.0.1:$bport" \
    ZOOM_OAUTH_URL="http://127.0.0.1:$sport" ZOOM_API_URL="http://127.0.0.1:$sport/v2" \
    TOKENBROKER_BACKGROUND_REFRESH=0 RUST_LOG=warn \
    TOKENBROKER_ZOOM_RATE_LIMITS="medium=10000000/s"
  $BIN sandbox --bind "127.0.0.1:$sport" > "$WORK/sandbox.log" 2>&1 & PIDS+=($!)
  local base="http://127.0.0.1:$bport" zoom="http://127.0.0.1:$sport"
  start_broker "$BIN" "$WORK/serve-$db.log" "$base" "$zoom"

  # A Zoom user and an S2S app of their account; the org holds the credentials.
  local account
  account=$(curl -sf -H 'content-type: application/json' -d '{"email":"ops@bench.example","role":"Admin"}' "$zoom/_sandbox/users" | json '["account_id"]')
  curl -sf -H 'content-type: application/json' \
    -d "{\"account_id\":\"$account\",\"client_id\":\"bench-s2s\",\"client_secret\":\"bench-s2s-secret\"}" "$zoom/_sandbox/s2s-apps"
  curl -sf -X PUT -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d "{\"email\":\"ops@bench.example\",\"account_id\":\"$account\",\"client_id\":\"bench-s2s\",\"client_secret\":\"bench-s2s-secret\"}" \
    "$base/api/v1/orgs/bench/s2s-credentials"
  local zoom_token
  zoom_token=$(curl -sf -H "Authorization: Bearer $KEY" "$base/api/v1/orgs/bench/users/ops@bench.example/token" | json '["access_token"]')
  curl -sf -H "Authorization: Bearer $zoom_token" -H 'content-type: application/json' \
    -d '{"topic":"Bench","type":2,"duration":30}' "$zoom/v2/users/ops%40bench.example/meetings" >/dev/null
  local direct="$zoom/v2/users/ops%40bench.example/meetings"
  local proxied="$base/api/v1/orgs/bench/zoom/users/ops%40bench.example/meetings"
  curl -sf -H "Authorization: Bearer $KEY" "$proxied" | grep -q Bench

  wrk_run 1 1 "$zoom_token" "$direct"; local d50 d99; d50=$(pct_ms 50%); d99=$(pct_ms 99%)
  wrk_run 1 1 "$KEY" "$proxied"; local p50 p99 perr1; p50=$(pct_ms 50%); p99=$(pct_ms 99%); perr1=$(non2xx)
  wrk_run 2 "$CONNS" "$zoom_token" "$direct"; local drps; drps=$(rps)
  wrk_run 2 "$CONNS" "$KEY" "$proxied"; local prps perr; prps=$(rps); perr=$(non2xx)
  # With Zoom's own latency (20 ms a call, injected by the sandbox), as in
  # production, where Zoom is not on the broker's two cores.
  curl -sf -H 'content-type: application/json' \
    -d '{"endpoint":"api","delay_ms":20,"count":4000000000}' "$zoom/_sandbox/faults"
  wrk_run 2 "$CONNS" "$zoom_token" "$direct"; local ldrps ld50; ldrps=$(rps); ld50=$(pct_ms 50%)
  wrk_run 2 "$CONNS" "$KEY" "$proxied"; local lprps lp50; lprps=$(rps); lp50=$(pct_ms 50%)
  curl -sf -X DELETE "$zoom/_sandbox/faults"
  local claims
  if [ "$db" = postgres ]; then
    claims=$(psql "$url" -Atc "SELECT COALESCE(SUM(used), 0) FROM zoom_rate_windows")
  else
    claims="(in process)"
  fi
  printf '%s\n' \
    "== $db ==" \
    "latency, 1 connection: direct p50 ${d50} ms p99 ${d99} ms | proxied p50 ${p50} ms p99 ${p99} ms" \
    "added latency: p50 $(python3 -c "print(f'{$p50-$d50:.3f}')") ms, p99 $(python3 -c "print(f'{$p99-$d99:.3f}')") ms" \
    "throughput, $CONNS connections: direct ${drps} req/s | proxied ${prps} req/s | ratio $(python3 -c "print(f'{$prps/$drps:.2f}')")" \
    "with 20 ms Zoom latency, $CONNS connections: direct ${ldrps} req/s p50 ${ld50} ms | proxied ${lprps} req/s p50 ${lp50} ms | ratio $(python3 -c "print(f'{$lprps/$ldrps:.2f}')")" \
    "proxied answers not 2xx: ${perr:-0} (1 connection: ${perr1:-0}); permits claimed from the ledger: $claims"
  stop_all
  sleep 0.5
  if [ "$db" = postgres ]; then psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_bench_proxy" >/dev/null; fi
}

for db in $DBS; do bench_db "$db"; done
