#!/usr/bin/env bash
# The PostgreSQL failover drill on one machine (README "High availability"):
# a primary and a streaming standby (throwaway clusters on random ports), the
# sandbox Zoom, two `tokenbroker serve` replicas given both hosts
# (target_session_attrs=read-write), USERS authorized users, and a load that
# refreshes on every call. The primary is SIGKILLed mid-load, the standby
# promoted OUTAGE seconds later; the script prints what the load saw.
#
#   ops/failover-drill.sh                 # synchronous replication (no grant lost)
#   MODE=async ops/failover-drill.sh      # asynchronous: a lost rotation is possible
#
# Knobs: MODE (sync), USERS (6), OUTAGE (2), AFTER (8), BIN (target/debug/tokenbroker).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${MODE:-sync}"; USERS="${USERS:-6}"; OUTAGE="${OUTAGE:-2}"; AFTER="${AFTER:-8}"
BIN="${BIN:-target/debug/tokenbroker}"
WORK="$(mktemp -d)"; PIDS=()
export PGOPTIONS='--client-min-messages=warning'
. ops/pg-pair.sh
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; pg_pair_stop; rm -rf "$WORK"; }
trap cleanup EXIT
[ -x "$BIN" ] || { echo "build first: cargo build (or set BIN)"; exit 1; }

pg_pair_start "$MODE"
echo "primary :$P1, standby :$P2, $MODE replication"
A=$(port); B=$(port); Z=$(port)
export DATABASE_URL="$PAIR_URL" TOKENBROKER_MASTER_KEY="$($BIN gen-key)" \
  TOKENBROKER_PUBLIC_URL="http://127.0.0.1:$A" \
  ZOOM_OAUTH_URL="http://127.0.0.1:$Z" ZOOM_API_URL="http://127.0.0.1:$Z/v2" \
  ZOOM_CLIENT_ID=drill-client ZOOM_CLIENT_SECRET=drill-secret \
  TOKENBROKER_REFRESH_AHEAD_SECS=3500 TOKENBROKER_UPSTREAM_TIMEOUT_SECS=1 \
  TOKENBROKER_BACKGROUND_REFRESH=0 RUST_LOG=warn
# Tokens live 3000 s, inside the 3500 s window: every call refreshes (and rotates).
$BIN sandbox --bind "127.0.0.1:$Z" --access-token-ttl 3000 > "$WORK/sandbox.log" 2>&1 & PIDS+=($!)
$BIN org create drill >/dev/null
KEY=$($BIN api-key create --org drill | tail -n1)
TOKENBROKER_BIND="127.0.0.1:$A" $BIN serve > "$WORK/a.log" 2>&1 & PIDS+=($!)
TOKENBROKER_BIND="127.0.0.1:$B" $BIN serve > "$WORK/b.log" 2>&1 & PIDS+=($!)
wait_up "http://127.0.0.1:$A/readyz"; wait_up "http://127.0.0.1:$B/readyz"; wait_up "http://127.0.0.1:$Z/_sandbox/counters"
for i in $(seq 1 "$USERS"); do
  authorize_user "http://127.0.0.1:$A" "http://127.0.0.1:$Z" "$KEY" drill "u$i@drill.example"
done
echo "$USERS users authorized; load on both replicas"

# One loop per user and one for /readyz, alternating replicas: "t_sent t_done status retry_after path" lines.
load() {
  local i="$1" n=0 port path
  while [ ! -f "$WORK/stop" ]; do
    n=$((n + 1)); if [ $((n % 2)) = 0 ]; then port=$A; else port=$B; fi
    path="/api/v1/orgs/drill/users/u$i@drill.example/token"
    [ "$i" = ready ] && path=/readyz
    local t0; t0=$(date +%s.%N)
    local out; out=$(curl -s -o /dev/null -m 10 -D - -w 'STATUS %{http_code}\n' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$port$path" || true)
    local code retry; code=$(sed -n 's/^STATUS //p' <<<"$out"); retry=$(grep -ci '^retry-after:' <<<"$out" || true)
    echo "$t0 $(date +%s.%N) $code $retry $path" >> "$WORK/samples.$i"
    sleep 0.02
  done
}
for i in $(seq 1 "$USERS") ready; do load "$i" & PIDS+=($!); done
sleep 2
KILLED=$(date +%s.%N); pg_kill_primary; echo "primary SIGKILLed"
sleep "$OUTAGE"
PROMOTE_START=$(date +%s.%N); pg_promote_standby; PROMOTED=$(date +%s.%N); echo "standby promoted"
sleep "$AFTER"; touch "$WORK/stop"; sleep 1.2

cat "$WORK"/samples.* | python3 -c "
import sys
killed, pstart, promoted = $KILLED, $PROMOTE_START, $PROMOTED
rows = [l.split() for l in sys.stdin if len(l.split()) == 5]
rows = [(float(a), float(b), c, int(r), p) for a, b, c, r, p in rows]
api = [r for r in rows if r[4] != '/readyz']; ready = [r for r in rows if r[4] == '/readyz']
bad = [r for r in rows if not (r[2] == '200' or (r[2] == '503' and r[3] > 0))]
slow = max((r[1] - r[0] for r in api), default=0)
out_ready = [r for r in ready if r[0] > killed + 0.2 and r[1] < pstart]
fail_after = [r[1] - promoted for r in rows if r[0] >= promoted and r[2] != '200']
print(f'answers: {len(rows)} ({len(api)} token calls), statuses:', {c: sum(1 for r in rows if r[2] == c) for c in sorted({r[2] for r in rows})})
print(f'answers neither 200 nor 503+Retry-After: {len(bad)}', [b[2] for b in bad[:5]])
print(f'slowest token answer: {slow:.2f} s (limit 2 s)')
print(f'/readyz during the outage: {len(out_ready)} asked, {sum(1 for r in out_ready if r[2] == \"503\")} answered 503')
print(f'promotion took {promoted - pstart:.2f} s; last failure {max(fail_after, default=0):.2f} s after it (limit 5 s)')
"
C=$(curl -sf "http://127.0.0.1:$Z/_sandbox/counters")
echo "sandbox: $C"
echo "refresh tokens reused (a lost grant): $(python3 -c "import json; print(json.loads('$C')['refresh_reuse'])")"
curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$A/api/v1/orgs/drill/connections" |
  python3 -c 'import json,sys; c=json.load(sys.stdin)["connections"]; print("connections:", {s: sum(1 for x in c if x["status"] == s) for s in {x["status"] for x in c}}); [print("  ", x["email"], x["status"]) for x in c if x["status"] != "active"]'
for r in A B; do p=${!r}; echo "replica $r listener: $(curl -sf "http://127.0.0.1:$p/metrics" | grep -x 'tokenbroker_invalidation_listener_up [01]')"; done
grep -h "primary moved" "$WORK/a.log" "$WORK/b.log" | sed 's/^/log: /' | head -n 4
