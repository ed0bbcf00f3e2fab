# Shared by the benchmark scripts: source it after `cd` to the repository.
# Sets WORK (a temporary directory) and PIDS (processes to stop on exit),
# installs wrk if missing and raises the open-files limit.
set -euo pipefail
WORK="$(mktemp -d)"
PIDS=()
export PGOPTIONS='--client-min-messages=warning'
bench_cleanup() { [ -n "${BENCH_KEEP_PG_LOG:-}" ] && [ -f "$WORK/pg/log" ] && cp "$WORK/pg/log" "$BENCH_KEEP_PG_LOG"; for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap bench_cleanup EXIT
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
ulimit -n 20000 2>/dev/null || true

# A free TCP port on loopback.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits until URL answers 2xx (20 s at most).
wait_up() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not up: $1"; exit 1; }
# Stops every process started so far.
stop_all() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; PIDS=(); wait 2>/dev/null || true; }

# fresh_db sqlite|postgres NAME: prints a DATABASE_URL of an empty database
# (PostgreSQL: NAME is dropped and created next to $PG_URL).
fresh_db() {
  if [ "$1" = postgres ]; then
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $2" >/dev/null
    psql "$PG_URL" -qc "CREATE DATABASE $2" >/dev/null
    echo "${PG_URL%/*}/$2"
  else
    rm -f "$WORK/$2.db"*; echo "sqlite://$WORK/$2.db?mode=rwc"
  fi
}

# own_pg NAME=VALUE…: a throwaway PostgreSQL cluster of the benchmark's own,
# initdb's defaults but for those settings (fsync on, as in production),
# stopped on exit; PG_URL then names it. For settings the shared server
# must not be restarted for, such as shared_buffers.
own_pg() {
  local bin dir pgport s settings=() run=()
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  dir="$WORK/pg"; mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then  # initdb refuses root
    chown postgres:postgres "$WORK" "$dir"; run=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
  for s in "$@"; do settings+=(-c "$s"); done
  pgport=$(port)
  "${run[@]}" "$bin/postgres" -D "$dir/data" -p "$pgport" -k "$dir" -c listen_addresses=127.0.0.1 \
    "${settings[@]}" > "$dir/log" 2>&1 & PIDS+=($!)
  for _ in $(seq 1 100); do pg_isready -q -h 127.0.0.1 -p "$pgport" && break; sleep 0.1; done
  PG_URL="postgres://postgres@127.0.0.1:$pgport/postgres"
  echo "own PostgreSQL on port $pgport: $*"
}

# wrk's --latency output in FILE: requests per second, a percentile in ms,
# and the count of non-2xx answers (0 if none).
wrk_rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
wrk_pct_ms() {
  awk -v p="$2" '$1==p { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 } printf "%.2f", v }' "$1"
}
wrk_non2xx() { awk '/Non-2xx/ {print $NF; f=1} END {if (!f) print 0}' "$1"; }

# authorize_user BASE ZOOM KEY ORG EMAIL: one user-managed connection made
# through the real browser flow (curl as the browser, the sandbox's consent).
authorize_user() {
  local base="$1" zoom="$2" key="$3" org="$4" email="$5" link form_token auth q cb jar
  jar="$WORK/jar-$email"
  link=$(curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/json' \
    -d "{\"org\":\"$org\",\"email\":\"$email\",\"app_type\":\"user\"}" "$base/api/v1/connect-sessions" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  # The connect page, then its own form (same origin, with the page's token).
  form_token=$(curl -sf -c "$jar" -b "$jar" "$link" | sed -n 's/.*name="form_token" value="\([^"]*\)".*/\1/p')
  auth=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
    -H "origin: $base" --data "form_token=$form_token" "$link")
  q="${auth#*\?}"
  cb=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST "$zoom/oauth/authorize" \
    --data "$q&email=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$email")&role=Member&decision=allow")
  curl -sf -c "$jar" -b "$jar" -o /dev/null "$cb"
}

# sandbox_counter ZOOM NAME: one of the sandbox Zoom's counters.
# The broker with org "bench" and its API key in $KEY, against the sandbox
# the caller started: migrate, create, serve, wait. Env from the caller.
start_broker() { # BIN LOG BASE ZOOM
  "$1" migrate >/dev/null
  "$1" org create bench >/dev/null
  KEY=$("$1" api-key create --org bench | tail -n1)
  "$1" serve > "$2" 2>&1 & PIDS+=($!)
  wait_up "$3/readyz"; wait_up "$4/_sandbox/counters"
}

sandbox_counter() { curl -sf "$1/_sandbox/counters" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', 0))"; }
