# Sourced by ops/failover-drill.sh and tests/bench/failover_latency.sh: a
# throwaway PostgreSQL primary and a streaming standby on random ports in
# $WORK, and a broker authorized for users through the sandbox with curl.
# Never touches the shared server. Needs initdb, pg_basebackup, pg_ctl,
# postgres (PG_BIN, default: the newest /usr/lib/postgresql/*/bin), psql.

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not up: $1"; exit 1; }
pg_wait() { for _ in $(seq 1 300); do psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "postgres not up: $1"; exit 1; }

# pg_pair_start sync|async: sets P1 P2 (ports), PRIMARY_URL STANDBY_URL, PAIR_URL.
pg_pair_start() {
  local mode="$1" extra=()
  mkdir -p "$WORK/pg"
  if [ "$(id -u)" = 0 ]; then chmod 711 "$WORK"; chown postgres:postgres "$WORK/pg"; fi
  P1=$(port); P2=$(port)
  as_pg "$PG_BIN/initdb" -D "$WORK/pg/primary" -A trust -U postgres --no-sync >/dev/null
  if [ "$mode" = sync ]; then
    extra=(-c "synchronous_standby_names=*" -c synchronous_commit=on)
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/primary" -l "$WORK/pg/primary.log" -w -s \
    -o "-p $P1 -k $WORK/pg -c listen_addresses=127.0.0.1 ${extra[*]}" start
  PRIMARY_URL="postgres://postgres@127.0.0.1:$P1/postgres"
  STANDBY_URL="postgres://postgres@127.0.0.1:$P2/postgres"
  pg_wait "$PRIMARY_URL"
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres -D "$WORK/pg/standby" -R -X stream -c fast
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/standby" -l "$WORK/pg/standby.log" -w -s \
    -o "-p $P2 -k $WORK/pg -c listen_addresses=127.0.0.1" start
  pg_wait "$STANDBY_URL"
  for _ in $(seq 1 100); do
    [ "$(psql "$PRIMARY_URL" -Atqc "SELECT count(*) FROM pg_stat_replication WHERE state='streaming'")" = 1 ] && break
    sleep 0.1
  done
  PAIR_URL="postgres://postgres@127.0.0.1:$P1,127.0.0.1:$P2/postgres?target_session_attrs=read-write"
}

# The primary's machine dies: SIGKILL to the postmaster and all its backends.
pg_kill_primary() {
  local pid; pid=$(head -n1 "$WORK/pg/primary/postmaster.pid")
  kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null || true
}

pg_promote_standby() { as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/standby" -w -s promote; }

pg_pair_stop() {
  for d in primary standby; do
    [ -f "$WORK/pg/$d/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/$d" -m immediate -s stop 2>/dev/null || true
  done
}

# authorize_user BASE ZOOM KEY ORG EMAIL: the browser flow, curl as the browser.
authorize_user() {
  local base="$1" zoom="$2" key="$3" org="$4" email="$5" link form_token auth q cb jar
  jar="$WORK/jar-$email"
  link=$(curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/json' \
    -d "{\"org\":\"$org\",\"email\":\"$email\",\"app_type\":\"user\"}" "$base/api/v1/connect-sessions" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  form_token=$(curl -sf -c "$jar" -b "$jar" "$link" | sed -n 's/.*name="form_token" value="\([^"]*\)".*/\1/p')
  auth=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
    -H "origin: $base" --data "form_token=$form_token" "$link")
  q="${auth#*\?}"
  cb=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST "$zoom/oauth/authorize" \
    --data "$q&email=${email/@/%40}&role=Member&decision=allow")
  curl -sf -c "$jar" -b "$jar" -o /dev/null "$cb"
}
