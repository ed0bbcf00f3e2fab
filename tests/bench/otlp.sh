#!/usr/bin/env bash
# Cost of OTLP trace export (issue 23): token API throughput of two serve
# processes on one SQLite database and one sandbox Zoom, in the same run:
# one without OTEL_EXPORTER_OTLP_ENDPOINT (no export layer at all), one
# exporting every span (sampler always_on) to tests/otlp/receiver.py, the
# OpenTelemetry project's decoder. wrk alternates between them, off/on,
# BENCH_ROUNDS times, so drift on a shared machine hits both alike. Prints
# requests/s and p99 of each, and the on/off ratio of the medians.
#
#   tests/bench/otlp.sh                         # target/release/tokenbroker
#   BENCH_BIN=target/debug/tokenbroker tests/bench/otlp.sh
#
# Knobs: BENCH_DURATION (10s), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
# BENCH_ROUNDS (3). Everything runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${BENCH_DURATION:-10s}"
CONNS="${BENCH_CONNECTIONS:-32}"
THREADS="${BENCH_THREADS:-2}"
ROUNDS="${BENCH_ROUNDS:-3}"
BIN="${BENCH_BIN:-target/release/tokenbroker}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  exec 9>&- 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release (or set BENCH_BIN)"; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
ulimit -n 20000 2>/dev/null || true
PY=$(tests/otlp/setup)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not up: $1"; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# The receiver lives while fd 9 (its stdin) is open.
mkfifo "$WORK/rx-in"
"$PY" tests/otlp/receiver.py "$WORK/spans.jsonl" < "$WORK/rx-in" > "$WORK/rx-port" & PIDS+=($!)
exec 9>"$WORK/rx-in"
for _ in $(seq 1 100); do [ -s "$WORK/rx-port" ] && break; sleep 0.1; done
RX="http://127.0.0.1:$(head -n1 "$WORK/rx-port")"

off=$(port); on=$(port); sport=$(port)
export DATABASE_URL="sqlite://$WORK/bench.db?mode=rwc" TOKENBROKER_MASTER_KEY="$($BIN gen-key)" \
  TOKENBROKER_PUBLIC_URL="http://127.0.0.1:$off" \
  ZOOM_OAUTH_URL="http://127.0.0.1:$sport" ZOOM_API_URL="http://127.0.0.1:$sport/v2" \
  ZOOM_CLIENT_ID=bench-client ZOOM_CLIENT_SECRET=bench-secret \
  TOKENBROKER_BACKGROUND_REFRESH=0 RUST_LOG=warn
$BIN sandbox --bind "127.0.0.1:$sport" > "$WORK/sandbox.log" 2>&1 & PIDS+=($!)
$BIN migrate >/dev/null
$BIN org create bench >/dev/null
KEY=$($BIN api-key create --org bench | tail -n1)
TOKENBROKER_BIND="127.0.0.1:$off" $BIN serve > "$WORK/off.log" 2>&1 & PIDS+=($!)
TOKENBROKER_BIND="127.0.0.1:$on" OTEL_EXPORTER_OTLP_ENDPOINT="$RX" OTEL_TRACES_SAMPLER=always_on \
  OTEL_SERVICE_NAME=tokenbroker-bench $BIN serve > "$WORK/on.log" 2>&1 & PIDS+=($!)
base="http://127.0.0.1:$off" zoom="http://127.0.0.1:$sport"
wait_up "$base/readyz"; wait_up "http://127.0.0.1:$on/readyz"; wait_up "$zoom/_sandbox/counters"

# One user authorized through the real browser flow (curl as the browser).
link=$(curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"org":"bench","email":"bench@bench.example","app_type":"user"}' "$base/api/v1/connect-sessions" | json_field '["url"]')
form_token=$(curl -sf -c "$WORK/jar" -b "$WORK/jar" "$link" | sed -n 's/.*name="form_token" value="\([^"]*\)".*/\1/p')
to_zoom=$(curl -s -c "$WORK/jar" -b "$WORK/jar" -o /dev/null -w '%{redirect_url}' \
  -H "origin: $base" --data "form_token=$form_token" "$link")
back=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST "$zoom/oauth/authorize" \
  --data "${to_zoom#*\?}&email=bench%40bench.example&role=Member&decision=allow")
curl -sf -c "$WORK/jar" -b "$WORK/jar" -o /dev/null "$back"
path="/api/v1/orgs/bench/users/bench@bench.example/token"
for p in "$off" "$on"; do curl -sf -o /dev/null -H "Authorization: Bearer $KEY" "http://127.0.0.1:$p$path"; done

run() { # name port
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $KEY" \
    "http://127.0.0.1:$2$path" > "$WORK/wrk.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk.txt")
  p99=$(awk '$1=="99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 } printf "%.2f", v }' "$WORK/wrk.txt")
  grep -q 'Non-2xx' "$WORK/wrk.txt" && { echo "non-2xx answers from $1"; cat "$WORK/wrk.txt"; exit 1; }
  echo "$1 $rps $p99" >> "$WORK/results"
  printf '| %s | %s | %s |\n' "$1" "$rps" "$p99"
}
echo "binary: $BIN, wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds"
printf '| export | token req/s | p99 ms |\n|---|---|---|\n'
for _ in $(seq 1 "$ROUNDS"); do run off "$off"; run on "$on"; done
sleep 2
python3 - "$WORK/results" "$WORK/spans.jsonl" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {k: statistics.median(float(r[1]) for r in rows if r[0] == k) for k in ("off", "on")}
spans = sum(1 for l in open(sys.argv[2]) if '"name"' in l) if __import__("os").path.exists(sys.argv[2]) else 0
print(f"median req/s: off {med['off']:.0f}, on {med['on']:.0f}; on/off = {med['on']/med['off']:.2f}")
print(f"spans the receiver decoded: {spans}")
if spans == 0:
    sys.exit("the exporting server sent no spans: the 'on' figure measured nothing")
PY
