#!/usr/bin/env bash
# Issue 16: memory and latency of paging through one large org.
#
#   tests/bench/paging.sh                              # 50,000 connections, both databases
#   BENCH_DBS=postgres BENCH_ROWS=1000000 tests/bench/paging.sh
#
# Seeds the connections straight through SQL (one INSERT … SELECT: a
# recursive CTE on SQLite, generate_series on PostgreSQL; every 50th needs
# re-authorization), starts `serve`, then walks every page with curl at
# limit=1000 and at the default limit (100), and runs a status filter, an
# email-prefix search and the console-sized first page. Reports the server's
# RSS idle (after one API call) and after each walk, its peak (VmHWM), page
# latencies, and the plan of a deep page. Knobs: BENCH_ROWS (50000), BENCH_DBS,
# BENCH_PG_URL (a database tb_paging is created and dropped next to it),
# BENCH_PROFILE (debug or release; debug by default, as it is already built).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS="${BENCH_ROWS:-50000}"
DBS="${BENCH_DBS:-sqlite postgres}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
PROFILE="${BENCH_PROFILE:-debug}"
BIN="target/$PROFILE/tokenbroker"
WORK="$(mktemp -d)"
PID=""
export PGOPTIONS='--client-min-messages=warning'
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "not up: $1"; exit 1; }
rss_kb() { awk -v k="$1:" '$1==k {print $2}' "/proc/$PID/status"; }

# One INSERT … SELECT; `seq` comes from the trigger (SQLite) or the sequence (PostgreSQL).
seed_sql() {
  local org="$1" n="$2" source="$3"
  cat <<SQL
INSERT INTO connections (id, org_id, app_type, subject, zoom_user_id, zoom_account_id, email,
  role_name, status, status_reason, scopes, access_token, refresh_token, access_expires_at,
  version, lease_owner, lease_until, last_refreshed_at, created_at, updated_at, authorized_at)
SELECT 'c-' || i, '$org', 'user', 'zu-' || i, 'zu-' || i, 'za-1', 'user' || i || '@bench.example',
  NULL, CASE WHEN i % 50 = 0 THEN 'needs_reauth' ELSE 'active' END, NULL, 'user:read',
  NULL, NULL, NULL, 0, NULL, NULL, NULL, 1700000000 + i, 1700000000 + i, 1700000000 + i
FROM $source;
SQL
}

# Walks every page; prints "pages rows avg_ms max_ms".
walk() {
  local query="$1" after="" pages=0 rows=0 total=0 max=0 t n
  while :; do
    t=$(curl -s -o "$WORK/page.json" -w '%{time_total}' -H "Authorization: Bearer $KEY" \
      "$BASE/api/v1/orgs/bench/connections?$query$after")
    n=$(grep -o '"id":"' "$WORK/page.json" | wc -l)
    pages=$((pages + 1)); rows=$((rows + n))
    total=$(awk -v a="$total" -v b="$t" 'BEGIN {print a + b}')
    max=$(awk -v a="$max" -v b="$t" 'BEGIN {print (b > a) ? b : a}')
    next=$(grep -o '"next":"[^"]*"' "$WORK/page.json" | cut -d'"' -f4 || true)
    [ -z "$next" ] && break
    after="&after=$next"
  done
  awk -v p="$pages" -v r="$rows" -v t="$total" -v m="$max" \
    'BEGIN {printf "%d pages, %d rows, %.1f ms avg, %.1f ms max per page", p, r, t * 1000 / p, m * 1000}'
}

once_ms() {
  curl -s -o "$WORK/one.json" -w '%{time_total}' -H "Authorization: Bearer $KEY" \
    "$BASE/api/v1/orgs/bench/connections?$1" | awk '{printf "%.1f ms", $1 * 1000}'
  printf ' (%s rows)' "$(grep -o '"id":"' "$WORK/one.json" | wc -l)"
}

bench_db() {
  local db="$1" url bport
  if [ "$db" = postgres ]; then
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_paging" >/dev/null
    psql "$PG_URL" -qc "CREATE DATABASE tb_paging" >/dev/null
    url="${PG_URL%/*}/tb_paging"
  else
    url="sqlite://$WORK/paging.db?mode=rwc"
  fi
  bport=$(port)
  export DATABASE_URL="$url" TOKENBROKER_MASTER_KEY="$($BIN gen-key)" \
    TOKENBROKER_BIND="127.0.0.1:$bport" TOKENBROKER_PUBLIC_URL="http://127.0.0.1:$bport" \
    ZOOM_CLIENT_ID=bench-client ZOOM_CLIENT_SECRET=bench-secret \
    TOKENBROKER_BACKGROUND_REFRESH=0 RUST_LOG=warn
  BASE="http://127.0.0.1:$bport"
  $BIN migrate >/dev/null
  $BIN org create bench >/dev/null
  KEY=$($BIN api-key create --org bench | tail -n1)
  local started=$SECONDS org
  if [ "$db" = postgres ]; then
    org=$(psql "$url" -tAc "SELECT id FROM orgs WHERE slug = 'bench'")
    seed_sql "$org" "$ROWS" "generate_series(1, $ROWS) AS g(i)" | psql "$url" -q
    psql "$url" -qc "ANALYZE connections"
  else
    local file="$WORK/paging.db"
    org=$(sqlite3 "$file" "SELECT id FROM orgs WHERE slug = 'bench'")
    { echo "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $ROWS)";
      seed_sql "$org" "$ROWS" "g"; } | sqlite3 "$file"
    sqlite3 "$file" "ANALYZE"
  fi
  echo "== $db: $ROWS connections seeded in $((SECONDS - started)) s ($PROFILE binary)"

  $BIN serve > "$WORK/serve.log" 2>&1 & PID=$!
  wait_up "$BASE/healthz"
  curl -sf -o /dev/null -H "Authorization: Bearer $KEY" "$BASE/api/v1/orgs/bench/connections?limit=1"
  local idle; idle=$(rss_kb VmRSS)
  echo "RSS idle (after one API call): $((idle / 1024)) MB"
  echo "walk limit=1000:  $(walk 'limit=1000')"
  echo "  RSS after: $(( $(rss_kb VmRSS) / 1024 )) MB, peak so far $(( $(rss_kb VmHWM) / 1024 )) MB"
  echo "walk limit=100:   $(walk '')"
  echo "  RSS after: $(( $(rss_kb VmRSS) / 1024 )) MB, peak so far $(( $(rss_kb VmHWM) / 1024 )) MB"
  echo "walk status=needs_reauth limit=1000: $(walk 'status=needs_reauth&limit=1000')"
  echo "email_prefix=user4242 : $(once_ms 'email_prefix=user4242')"
  echo "email=user$ROWS@bench.example : $(once_ms "email=user$ROWS@bench.example")"
  echo "first console-sized page (limit=25): $(once_ms 'limit=25')"
  echo "RSS at the end: $(( $(rss_kb VmRSS) / 1024 )) MB (idle was $((idle / 1024)) MB), peak $(( $(rss_kb VmHWM) / 1024 )) MB"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""

  local deep=$((ROWS - 500))
  echo "plan of a deep page (after seq $deep):"
  if [ "$db" = postgres ]; then
    psql "$url" -tAc "EXPLAIN ANALYZE SELECT * FROM connections WHERE org_id = '$org' AND seq > $deep ORDER BY seq LIMIT 101" | sed 's/^/  /'
    psql "$url" -tAc "EXPLAIN SELECT status, COUNT(*) FROM connections WHERE org_id = '$org' GROUP BY status" | sed 's/^/  /'
    psql "$PG_URL" -qc "DROP DATABASE tb_paging" >/dev/null
  else
    sqlite3 "$WORK/paging.db" "EXPLAIN QUERY PLAN SELECT * FROM connections WHERE org_id = '$org' AND seq > $deep ORDER BY seq LIMIT 101" | sed 's/^/  /'
    sqlite3 "$WORK/paging.db" "EXPLAIN QUERY PLAN SELECT status, COUNT(*) FROM connections WHERE org_id = '$org' GROUP BY status" | sed 's/^/  /'
  fi
}

for db in $DBS; do bench_db "$db"; done
