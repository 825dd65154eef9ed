#!/usr/bin/env bash
# Measures how the Go server's costs grow with the work, as curves, with
# cmd/siobench against examples/benchserver:
#
#   roomsize    fanout to one room of 10 ... 100 000 members: server CPU per
#               delivered message, delivered msgs/s, delivery latency p50
#   rooms       fanout to 1 ... 10 000 rooms, the same ROOM_RECEIVERS in every
#               room, broadcasts to the rooms in turn (siobench -scenario rooms)
#   namespaces  pipelined acks from NSP_CLIENTS clients spread over 1 ... 64
#               namespaces: acks/s and server CPU per ack
#   memory      idle connections from 1 000 to the most the machine holds,
#               through scripts/idle-scale.sh: server KiB per connection
#
# A fresh server serves each point, pinned to core 1, with the load on core
# 0, as in scripts/bench.sh (the idle runs spread over several processes,
# as idle-scale.sh does, and are not pinned). Results go to
# $OUT/results.jsonl, one JSON object a line; tables and charts
# (bench/peers/cmd/growthreport) to $OUT/report. Everything listens on
# 127.0.0.1; every load run is bounded by DURATION (idle ones by IDLE_HOLD).
#
#   bash scripts/bench-growth.sh             # all four curves, about 7 minutes
#   QUICK=1 bash scripts/bench-growth.sh     # a smoke run of about a minute
#   UPDATE=1 bash scripts/bench-growth.sh    # also rewrite PERFORMANCE.md's "How costs grow" tables and docs/bench/growth-*.svg
#   CURVES="roomsize rooms" bash scripts/bench-growth.sh   # some of: roomsize rooms namespaces memory
#   PROFILE=1 ...                            # a server CPU profile per point, $OUT/cpu-<curve>-<size>.pprof
#
# One room must be on one server process for its curve to mean anything,
# and a process may open at most `ulimit -Hn` files: room sizes above
# ROOM_MAX (that limit less a margin) are recorded as not measured, with
# the reason, and ROOM_MAX itself is measured instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -Hn)
QUICK=${QUICK:-}
if [ -n "$QUICK" ]; then
  DURATION=${DURATION:-1s}
  ROOM_SIZES=${ROOM_SIZES:-10 100 1000}
  ROOM_COUNTS=${ROOM_COUNTS:-1 100}
  NAMESPACES=${NAMESPACES:-1 4}
  IDLE_SIZES=${IDLE_SIZES:-1000}
  IDLE_HOLD=${IDLE_HOLD:-3s}
fi
DURATION=${DURATION:-5s}
ROOM_SIZES=${ROOM_SIZES:-10 100 1000 10000 100000}
ROOM_MAX=${ROOM_MAX:-$(((FD_LIMIT - 1000) / 1000 * 1000))}
ROOM_COUNTS=${ROOM_COUNTS:-1 10 100 1000 10000}
ROOM_RECEIVERS=${ROOM_RECEIVERS:-10}
NAMESPACES=${NAMESPACES:-1 4 16 64}
NSP_CLIENTS=${NSP_CLIENTS:-64}
IDLE_SIZES=${IDLE_SIZES:-1000 10000 50000 100000 200000}
IDLE_PER_PROCESS=${IDLE_PER_PROCESS:-16000} # connections per server (and load) process, under the file limit
IDLE_HOLD=${IDLE_HOLD:-30s}
CURVES=${CURVES:-roomsize rooms namespaces memory}
PORT=${PORT:-4131}
OUT=${OUT:-.tmp/growth}
mkdir -p "$OUT"

go build -o "$OUT/siobench" ./cmd/siobench
go build -o "$OUT/benchserver" ./examples/benchserver
bin=$PWD/$OUT
(cd bench/peers && go build -o "$bin/growthreport" ./cmd/growthreport)

pin_server="taskset -c 1"
pin_load="taskset -c 0"
command -v taskset >/dev/null || { pin_server=""; pin_load=""; }

PID=
stop_server() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi
}
trap stop_server EXIT

start_server() { # start_server <curve> <size>; sets PID
  local prof=()
  [ -n "${PROFILE:-}" ] && prof=(-cpuprofile "$OUT/cpu-$1-$2.pprof")
  $pin_server "$OUT/benchserver" -addr "127.0.0.1:$PORT" "${prof[@]}" >"$OUT/server-$1-$2.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "growth: the server did not start" >&2; cat "$OUT/server-$1-$2.log" >&2; exit 1
}

record() { # record <curve> <size> <json>: appends the row with its curve and size
  echo "$3" | sed "s/^{/{\"curve\":\"$1\",\"x\":$2,/" >>"$OUT/results.jsonl"
}

record_failure() { # record_failure <curve> <size> <why>
  local why=${3//\"/\'}
  printf '{"curve":"%s","x":%s,"failed":true,"error":"%s"}\n' "$1" "$2" "$why" >>"$OUT/results.jsonl"
}

record_skip() { # record_skip <curve> <size> <why>: a size the machine cannot measure
  printf '{"curve":"%s","x":%s,"skipped":"%s"}\n' "$1" "$2" "$3" >>"$OUT/results.jsonl"
}

point() { # point <curve> <size> <siobench flags...>: one load run on a fresh server
  local curve=$1 size=$2 out; shift 2
  echo "== $curve $size" >&2
  start_server "$curve" "$size"
  if out=$($pin_load "$OUT/siobench" -url "ws://127.0.0.1:$PORT" -duration "$DURATION" -pid "$PID" "$@" 2>"$OUT/tool.err"); then
    record "$curve" "$size" "$out"
  else
    echo "growth: $curve $size failed: $(tail -n 1 "$OUT/tool.err")" >&2
    record_failure "$curve" "$size" "$(tail -n 1 "$OUT/tool.err")"
  fi
  stop_server
}

roomsize_curve() {
  local sizes=() n capped=""
  for n in $ROOM_SIZES; do
    if [ "$n" -gt "$ROOM_MAX" ]; then
      record_skip roomsize "$n" "one server process may open at most $FD_LIMIT files (ulimit -Hn), so a room on one process has at most about $ROOM_MAX members"
      capped=1
    else
      sizes+=("$n")
    fi
  done
  [ -n "$capped" ] && sizes+=("$ROOM_MAX")
  for n in "${sizes[@]}"; do
    point roomsize "$n" -scenario fanout -clients "$n"
  done
}

rooms_curve() {
  local r
  for r in $ROOM_COUNTS; do
    point rooms "$r" -scenario rooms -rooms "$r" -clients "$ROOM_RECEIVERS"
  done
}

namespaces_curve() {
  local n
  for n in $NAMESPACES; do
    point namespaces "$n" -scenario namespaces -namespaces "$n" -clients "$NSP_CLIENTS"
  done
}

# memory_curve runs scripts/idle-scale.sh at each size, on as many
# processes as keep each under IDLE_PER_PROCESS connections, and records
# the figures it prints.
memory_curve() {
  local n servers log
  for n in $IDLE_SIZES; do
    servers=$(((n + IDLE_PER_PROCESS - 1) / IDLE_PER_PROCESS))
    log=$OUT/idle-$n.log
    echo "== memory $n ($servers processes)" >&2
    if N=$n SERVERS=$servers HOLD=$IDLE_HOLD PORT=$PORT OUT="$OUT/idle" bash scripts/idle-scale.sh >"$log" 2>&1; then
      local held end peak rate
      held=$(sed -n 's/^go: held \([0-9]*\) idle.*/\1/p' "$log")
      end=$(sed -n 's/^server memory per connection: \([-0-9.]*\) KiB at the end.*/\1/p' "$log")
      peak=$(sed -n 's/^server memory per connection: .* KiB at the end of the hold, \([-0-9.]*\) KiB at peak.*/\1/p' "$log")
      rate=$(sed -n 's/^connections opened per second: \([0-9]*\).*/\1/p' "$log")
      record memory "$n" "{\"servers\":$servers,\"connections\":$held,\"kib_per_connection\":$end,\"peak_kib_per_connection\":$peak,\"connect_per_second\":$rate}"
    else
      # The first error a load process printed says why, not the last line.
      local why
      why=$(grep -m 1 '^siobench:' "$log" || tail -n 1 "$log")
      echo "growth: memory $n failed: $why" >&2
      record_failure memory "$n" "$why"
      break # a larger run would fail too, and load the machine for nothing
    fi
  done
}

: >"$OUT/results.jsonl"
knobs="DURATION=$DURATION ROOM_RECEIVERS=$ROOM_RECEIVERS NSP_CLIENTS=$NSP_CLIENTS IDLE_HOLD=$IDLE_HOLD IDLE_PER_PROCESS=$IDLE_PER_PROCESS${QUICK:+ QUICK=1}"
printf '{"curve":"meta","date":"%s","knobs":"%s","loadavg":"%s","cpus":%s,"fd_limit":%s}\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$knobs" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$FD_LIMIT" >>"$OUT/results.jsonl"
for curve in $CURVES; do
  case $curve in
    roomsize|rooms|namespaces|memory) "${curve}_curve" ;;
    *) echo "growth: unknown curve $curve" >&2; exit 2 ;;
  esac
done

"$OUT/growthreport" -results "$OUT/results.jsonl" -out "$OUT/report"
if [ -n "${UPDATE:-}" ]; then
  "$OUT/growthreport" -results "$OUT/results.jsonl" -out docs/bench -doc PERFORMANCE.md >/dev/null
  cp "$OUT/results.jsonl" docs/bench/growth.jsonl # the figures the committed tables and charts come from
  echo "growth: PERFORMANCE.md's \"How costs grow\" tables and docs/bench/growth-*.svg rewritten" >&2
fi
