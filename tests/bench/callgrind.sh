#!/usr/bin/env bash
# Instructions per token call (issue 20), counted by callgrind: repeatable on
# a noisy machine, unlike seconds. benches/token_calls.rs serves CALLS token
# calls through the whole router in process; each path runs twice (N1 and N2
# calls) and the cost of one call is (Ir(N2) - Ir(N1)) / (N2 - N1), so
# start-up, migrations and seeding cancel out. For healthz and cache only
# the bench's own future is counted (--toggle-collect): the broker's
# background tasks, polled beside it, run per wall second, and valgrind's
# slowdown made the longer run pay for more of them (a spread of ~1,200
# instructions per cached call between two runs of one binary; ~60
# counted this way). The db path counts every thread, since SQLite runs
# its queries on sqlx's worker thread, outside that future.
#
#   tests/bench/callgrind.sh                  # SQLite, both paths
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/tb_calls tests/bench/callgrind.sh
#   TOKEN_CALLS_BIN=/path/to/older/token_calls tests/bench/callgrind.sh   # another build
#
# Knobs: N1 (50), N2 (2050), BENCH_PATHS ("healthz cache db"). On PostgreSQL only the
# broker's side is counted (the server is another process); the database
# named is created if missing and reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
N1="${N1:-50}"; N2="${N2:-2050}"
PATHS="${BENCH_PATHS:-healthz cache db}"
BIN="${TOKEN_CALLS_BIN:-}"
if [ -z "$BIN" ]; then
  BIN=$(cargo bench --bench token_calls --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n1)
fi
[ -x "$BIN" ] || { echo "no bench binary: $BIN"; exit 1; }
URL="${BENCH_DATABASE_URL:-}"
if [ -n "$URL" ]; then
  psql "${URL%/*}/postgres" -qtAc "SELECT 1 FROM pg_database WHERE datname = '${URL##*/}'" | grep -q 1 \
    || psql "${URL%/*}/postgres" -qc "CREATE DATABASE ${URL##*/}" >/dev/null
fi
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
ir() { # path calls -> total instructions
  local only=(--toggle-collect='*token_calls::run*')
  [ "$1" = db ] && only=()
  valgrind --tool=callgrind "${only[@]}" \
    --callgrind-out-file="$WORK/out" "$BIN" "$1" "$2" $URL >/dev/null 2>"$WORK/err" \
    || { cat "$WORK/err"; exit 1; }
  awk '/^(summary|totals):/ {print $2; exit}' "$WORK/out"
}
echo "| path | Ir at $N1 calls | Ir at $N2 calls | instructions per call |"
echo "|---|---|---|---|"
for p in $PATHS; do
  a=$(ir "$p" "$N1"); b=$(ir "$p" "$N2")
  echo "| $p | $a | $b | $(( (b - a) / (N2 - N1) )) |"
done
