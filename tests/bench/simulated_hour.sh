#!/usr/bin/env bash
# A shortened "hour" (issue 13): N real grants (authorized through the
# sandbox's consent flow), K of them in use (one token call each per
# second), access tokens living SIM_TTL seconds instead of 3600 and the
# broker's windows shortened to match. Counts the refresh calls Zoom (the
# sandbox) receives, for today's policy (refresh everything stored, played
# with TOKENBROKER_REFRESH_USED_WITHIN_SECS=1000000000) and for refresh on
# use with a window of half a token life (an authorization counts as a use;
# with this window it lapses before the token is due, so idle grants are
# left to their next caller).
#
#   tests/bench/simulated_hour.sh      # SIM_N=300 SIM_K=10 SIM_SECS=90 SIM_TTL=60
#
# Needs a release build. Exits non-zero on a non-2xx token answer or a
# reused refresh token (a double refresh).
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${SIM_N:-300}"; K="${SIM_K:-10}"; SECS="${SIM_SECS:-90}"; TTL="${SIM_TTL:-60}"
BIN=target/release/tokenbroker
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release"; exit 1; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not up: $1"; exit 1; }
counter() { curl -sf "$ZOOM/_sandbox/counters" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

authorize() { # email
  local jar="$WORK/jar-$1" link form auth q cb
  link=$(curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d "{\"org\":\"bench\",\"email\":\"$1\",\"app_type\":\"user\"}" "$BASE/api/v1/connect-sessions" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  form=$(curl -sf -c "$jar" -b "$jar" "$link" | sed -n 's/.*name="form_token" value="\([^"]*\)".*/\1/p')
  auth=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' -H "origin: $BASE" --data "form_token=$form" "$link")
  q="${auth#*\?}"
  cb=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST "$ZOOM/oauth/authorize" --data "$q&email=${1/@/%40}&role=Member&decision=allow")
  curl -sf -c "$jar" -b "$jar" -o /dev/null "$cb"
  rm -f "$jar"
}

run() { # label used_within_secs
  local bport sport; bport=$(port); sport=$(port)
  BASE="http://127.0.0.1:$bport"; ZOOM="http://127.0.0.1:$sport"
  export DATABASE_URL="sqlite://$WORK/sim-$2.db?mode=rwc" TOKENBROKER_MASTER_KEY="$($BIN gen-key)" \
    TOKENBROKER_BIND="127.0.0.1:$bport" TOKENBROKER_PUBLIC_URL="$BASE" \
    ZOOM_OAUTH_URL="$ZOOM" ZOOM_API_URL="$ZOOM/v2" ZOOM_CLIENT_ID=sim-client ZOOM_CLIENT_SECRET=sim-secret \
    TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS=10 TOKENBROKER_STORE_RETRY_SECS=5 \
    TOKENBROKER_REFRESH_AHEAD_SECS=$(( TTL * 2 / 5 )) TOKENBROKER_REFRESH_SWEEP_SECS=2 \
    TOKENBROKER_REFRESH_USED_WITHIN_SECS="$2" TOKENBROKER_REFRESH_RATE_PER_SEC=1000 \
    TOKENBROKER_REFRESH_CONCURRENCY=16 TOKENBROKER_USAGE_FLUSH_MS=1000 RUST_LOG=warn
  $BIN sandbox --bind "127.0.0.1:$sport" --access-token-ttl "$TTL" > "$WORK/sandbox-$2.log" 2>&1 & PIDS+=($!)
  $BIN migrate >/dev/null; $BIN org create bench >/dev/null
  KEY=$($BIN api-key create --org bench | tail -n1)
  $BIN serve > "$WORK/serve-$2.log" 2>&1 & local pid=$!; PIDS+=($pid)
  wait_up "$BASE/readyz"; wait_up "$ZOOM/_sandbox/counters"
  for i in $(seq 1 "$N"); do authorize "u$i@sim.example"; done
  local before; before=$(counter refresh_token)
  local end=$(( $(date +%s) + SECS )) calls=0
  while [ "$(date +%s)" -lt "$end" ]; do
    for i in $(seq 1 "$K"); do
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$BASE/api/v1/orgs/bench/users/u$i@sim.example/token")
      [ "$code" = 200 ] || { echo "FAIL: token answer $code"; tail "$WORK/serve-$2.log"; exit 1; }
      calls=$((calls + 1))
    done
    sleep 1
  done
  local refreshes reuse; refreshes=$(( $(counter refresh_token) - before )); reuse=$(counter refresh_reuse)
  [ "$reuse" = 0 ] || { echo "FAIL: $reuse refresh tokens were used twice"; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "| $1 | $N | $K | ${SECS} s (token life ${TTL} s) | $calls | $refreshes |" | tee -a "$WORK/table.md"
}
printf '| design | N stored | K in use | run | token calls | refresh calls to Zoom |\n|---|---|---|---|---|---|\n' > "$WORK/table.md"
run "today (refresh everything)" 1000000000
run "refresh on use" "$(( TTL / 2 ))"
echo; cat "$WORK/table.md"
