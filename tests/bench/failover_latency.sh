#!/usr/bin/env bash
# What synchronous replication costs a refresh (issue 22.2): the same broker
# on a primary + streaming standby pair, first asynchronous, then with
# synchronous_standby_names='*' and synchronous_commit=on, in one run.
# Each token call refreshes (tokens live 3000 s, window 3500 s), so its
# latency is the sandbox round trip plus the rotation's commit. /healthz of
# the same server is the baseline; figures are medians and p99 over CALLS
# sequential calls, and the sync/async ratio.
#
#   tests/bench/failover_latency.sh      # BIN=target/release/tokenbroker if built, else debug
#
# Knobs: CALLS (300), BIN.
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLS="${CALLS:-300}"
if [ -z "${BIN:-}" ]; then
  BIN=target/release/tokenbroker; [ -x "$BIN" ] || BIN=target/debug/tokenbroker
fi
[ -x "$BIN" ] || { echo "build first: cargo build --release"; exit 1; }
WORK="$(mktemp -d)"; PIDS=(); [ "$(id -u)" = 0 ] && chmod 711 "$WORK"
export PGOPTIONS='--client-min-messages=warning'
. ops/pg-pair.sh
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; pg_pair_stop; rm -rf "$WORK"; }
trap cleanup EXIT

times() { # URL KEY N -> one time_total (ms) per line
  for _ in $(seq 1 "$3"); do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $2" "$1" | awk '{printf "%.3f\n", $1*1000}'
  done
}
stats() { sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)+1], a[int(NR*0.99)]}'; }

declare -A MED P99 HZ
for mode in async sync; do
  WORK_MODE="$WORK/$mode"; mkdir -p "$WORK_MODE"; OLD="$WORK"; WORK="$WORK_MODE"
  pg_pair_start "$mode"
  A=$(port); Z=$(port)
  export DATABASE_URL="$PAIR_URL" TOKENBROKER_MASTER_KEY="$($BIN gen-key)" \
    TOKENBROKER_BIND="127.0.0.1:$A" TOKENBROKER_PUBLIC_URL="http://127.0.0.1:$A" \
    ZOOM_OAUTH_URL="http://127.0.0.1:$Z" ZOOM_API_URL="http://127.0.0.1:$Z/v2" \
    ZOOM_CLIENT_ID=bench-client ZOOM_CLIENT_SECRET=bench-secret \
    TOKENBROKER_REFRESH_AHEAD_SECS=3500 TOKENBROKER_BACKGROUND_REFRESH=0 RUST_LOG=warn
  $BIN sandbox --bind "127.0.0.1:$Z" --access-token-ttl 3000 > "$WORK/sandbox.log" 2>&1 & PIDS+=($!)
  $BIN org create bench >/dev/null
  KEY=$($BIN api-key create --org bench | tail -n1)
  $BIN serve > "$WORK/serve.log" 2>&1 & PIDS+=($!)
  wait_up "http://127.0.0.1:$A/readyz"; wait_up "http://127.0.0.1:$Z/_sandbox/counters"
  authorize_user "http://127.0.0.1:$A" "http://127.0.0.1:$Z" "$KEY" bench "ann@bench.example"
  url="http://127.0.0.1:$A/api/v1/orgs/bench/users/ann@bench.example/token"
  times "$url" "$KEY" 20 >/dev/null # warm up
  before=$(curl -sf "http://127.0.0.1:$Z/_sandbox/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
  read -r MED[$mode] P99[$mode] < <(times "$url" "$KEY" "$CALLS" | stats)
  after=$(curl -sf "http://127.0.0.1:$Z/_sandbox/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
  read -r HZ[$mode] _ < <(times "http://127.0.0.1:$A/healthz" "$KEY" "$CALLS" | stats)
  echo "$mode: $((after - before)) refreshes in $CALLS calls; refresh median ${MED[$mode]} ms, p99 ${P99[$mode]} ms; /healthz median ${HZ[$mode]} ms"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; PIDS=()
  pg_pair_stop; WORK="$OLD"
done
python3 -c "print(f'sync/async: median x{${MED[sync]}/${MED[async]}:.2f}, p99 x{${P99[sync]}/${P99[async]}:.2f}; refresh minus /healthz: async {${MED[async]}-${HZ[async]}:.2f} ms, sync {${MED[sync]}-${HZ[sync]}:.2f} ms')"
