#!/usr/bin/env bash
# Holds many idle Socket.IO connections on this machine through heartbeats,
# and reports the servers' memory per connection.
#
# One process may open at most `ulimit -Hn` files (20 000 on the machines
# this was written on, and not raisable without CAP_SYS_RESOURCE), so the
# server runs as SERVERS processes sharing one port through SO_REUSEPORT,
# and the load as as many siobench processes, each holding its share from
# 16 loopback source addresses. Everything is on 127.0.0.1. TARGET=node
# runs the Node reference server instead, as one primary and SERVERS
# workers sharing the port (node:cluster); its memory is all of theirs.
#
#   bash scripts/idle-scale.sh          # N=100000 SERVERS=7 HOLD=60s
#   TARGET=node bash scripts/idle-scale.sh
#   N=10000 SERVERS=1 HOLD=30s bash scripts/idle-scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
SERVERS=${SERVERS:-7}
HOLD=${HOLD:-60s} # two 25 s ping intervals: each session answers pings, and misses none
PORT=${PORT:-4121}
OUT=${OUT:-.tmp/bench}
TARGET=${TARGET:-go}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

go build -o "$OUT/siobench" ./cmd/siobench
# BENCHSERVER=<binary> measures another build of examples/benchserver
# (an earlier commit's, say) with the same load.
if [ -n "${BENCHSERVER:-}" ]; then cp "$BENCHSERVER" "$OUT/benchserver"; else go build -o "$OUT/benchserver" ./examples/benchserver; fi

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
if [ "$TARGET" = node ]; then
  [ -d node_modules/socket.io ] || npm ci --no-audit --no-fund
  BENCH_WORKERS=$SERVERS node internal/nodepeer/scripts/bench_server.mjs "$PORT" >"$OUT/scale-server-1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$OUT/scale-server-1.log" 2>/dev/null && break; sleep 0.1; done
  if [ "$SERVERS" -gt 1 ]; then
    mapfile -t workers < <(pgrep -P "${pids[0]}")
    pids+=("${workers[@]}")
  fi
else
  for i in $(seq "$SERVERS"); do
    "$OUT/benchserver" -reuseport -addr "127.0.0.1:$PORT" >"$OUT/scale-server-$i.log" 2>&1 &
    pids+=($!)
  done
fi
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
sleep 1 # let the servers settle before their memory is read

rss() { # total resident KiB of the server processes
  local sum=0
  for p in "${pids[@]}"; do sum=$((sum + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status"))); done
  echo "$sum"
}
before=$(rss)
per=$(((N + SERVERS - 1) / SERVERS))
# An earlier run with more processes left more result files: the summary
# below reads every one there is.
rm -f "$OUT"/scale-load-*.json
loads=()
for i in $(seq "$SERVERS"); do
  "$OUT/siobench" -url "ws://127.0.0.1:$PORT" -scenario idle -clients "$per" -duration "$HOLD" >"$OUT/scale-load-$i.json" &
  loads+=($!)
done
# Sample the servers' memory while the load holds its connections.
peak=0 last=0
while kill -0 "${loads[0]}" 2>/dev/null; do
  sleep 1
  last=$(rss)
  [ "$last" -gt "$peak" ] && peak=$last
done
failed=0
for p in "${loads[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || { echo "idle-scale: a load process failed" >&2; cat "$OUT"/scale-load-*.json >&2; exit 1; }

node - "$TARGET" "$N" "$SERVERS" "$before" "$last" "$peak" "$OUT"/scale-load-*.json <<'JS'
const fs = require("node:fs");
const [target, n, servers, before, last, peak, ...files] = process.argv.slice(2);
const rows = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
const held = rows.reduce((a, r) => a + r.connections, 0);
const rate = rows.reduce((a, r) => a + r.connect_per_second, 0);
const pings = rows.reduce((a, r) => a + r.pings_answered, 0);
const kib = (x) => ((x - before) / held).toFixed(1);
console.log(`${target}: held ${held} idle connections (asked ${n}) on ${servers} server processes for ${rows[0].held_sec}s; none dropped`);
console.log(`server memory: ${before} KiB before the load, ${last} KiB at the end of the hold, ${peak} KiB at peak`);
console.log(`pings answered: ${pings} (${(pings / held).toFixed(2)} per connection)`);
console.log(`server memory per connection: ${kib(last)} KiB at the end of the hold, ${kib(peak)} KiB at peak`);
console.log(`connections opened per second: ${rate.toFixed(0)} (all load processes together)`);
JS
