#!/usr/bin/env bash
# Runs the same load scenarios, in one run, against our Go server, the Node
# reference socket.io server, a bare WebSocket echo and the zishang520
# socket.io server in Go, and our typed unary calls against connect-go over
# h2c, with the server pinned to core 1 and the load tool to core 0. The
# results go to $OUT/results.jsonl (one JSON object a line), and from them
# the tables and charts (bench/peers/cmd/benchreport) to $OUT/report.
# Everything listens on 127.0.0.1; every scenario is bounded by DURATION.
#
#   bash scripts/bench.sh            # DURATION=5s IDLE=10000 IDLE_HOLD=30s by default
#   QUICK=1 bash scripts/bench.sh    # a smoke run of a minute or two
#   UPDATE=1 bash scripts/bench.sh   # also rewrite PERFORMANCE.md's latest run and docs/bench/*.svg
#   TARGETS="go zishang" bash scripts/bench.sh   # some of: go node raw zishang connect
#
# The idle scenario holds its connections past the 25 s ping interval, so
# that heartbeats run. scripts/idle-scale.sh holds 100 000. The peers that
# are Go programs live in their own module, bench/peers, so that the
# product's go.mod does not carry their dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${QUICK:-}
if [ -n "$QUICK" ]; then
  DURATION=${DURATION:-1s}
  IDLE=${IDLE:-1000}
  IDLE_HOLD=${IDLE_HOLD:-3s}
fi
DURATION=${DURATION:-5s}
IDLE=${IDLE:-10000}
IDLE_HOLD=${IDLE_HOLD:-30s}
TARGETS=${TARGETS:-go node raw zishang connect}
PORT_BASE=${PORT_BASE:-4101}
# The latency scenario runs twice: one client with one call at a time (the
# loopback round trip, where every server is as fast as the kernel), and
# LOADED_CLIENTS clients each with one call at a time, where a server's
# cost per call adds up while the calls queue.
LOADED_CLIENTS=${LOADED_CLIENTS:-10}
OUT=${OUT:-.tmp/bench}
mkdir -p "$OUT"
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

go build -o "$OUT/siobench" ./cmd/siobench
go build -o "$OUT/benchserver" ./examples/benchserver
bin=$PWD/$OUT
(cd bench/peers && for c in zishangserver connectserver connectbench benchreport; do go build -o "$bin/$c" ./cmd/$c; done)
[ -d node_modules/socket.io ] || npm ci --no-audit --no-fund

pin_server="taskset -c 1"
pin_load="taskset -c 0"
command -v taskset >/dev/null || { pin_server=""; pin_load=""; }

start() { # start <name> <port> <command...>; sets PID
  local name=$1 port=$2; shift 2
  $pin_server "$@" >"$OUT/$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: $name did not start" >&2; cat "$OUT/$name.log" >&2; exit 1
}

load() { # load <target> <port> <scenario> [flags...]; a failure is recorded, not fatal
  local target=$1 port=$2 scenario=$3; shift 3
  local raw="" clients=0 prev="" a
  [ "$target" = raw ] && raw="-raw"
  for a in "$@"; do [ "$prev" = -clients ] && clients=$a; prev=$a; done
  [ "$scenario" = latency ] && [ "$clients" = 0 ] && clients=1
  # -pid: the server's CPU time per call or delivered message, which a
  # shared machine moves less than it moves rates and latencies.
  run_tool "$target" "$scenario" "$clients" "$OUT/siobench" -url "ws://127.0.0.1:$port" -scenario "$scenario" -duration "$DURATION" -pid "$PID" $raw "$@"
}

run_tool() { # run_tool <target> <scenario> <clients> <command...>: appends its JSON line, with the target
  local target=$1 scenario=$2 clients=$3 out; shift 3
  if out=$($pin_load "$@" 2>"$OUT/tool.err"); then
    echo "$out" | sed "s/^{/{\"target\":\"$target\",/" >>"$OUT/results.jsonl"
  else
    echo "bench: $target $scenario failed: $(tail -n 1 "$OUT/tool.err")" >&2
    printf '{"target":"%s","scenario":"%s","clients":%s,"failed":true}\n' "$target" "$scenario" "$clients" >>"$OUT/results.jsonl"
  fi
}

: >"$OUT/results.jsonl"
printf '{"target":"meta","date":"%s","duration":"%s","idle":%s,"idle_hold":"%s","quick":%s,"loadavg":"%s","cpus":%s,"targets":"%s"}\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$DURATION" "$IDLE" "$IDLE_HOLD" "$([ -n "$QUICK" ] && echo true || echo false)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$TARGETS" >>"$OUT/results.jsonl"
start_target() { # start_target <target>: a fresh server of target; sets port and PID
  case $1 in
    go)      port=$((PORT_BASE + 0)); start go "$port" "$OUT/benchserver" -addr "127.0.0.1:$port" ;;
    node)    port=$((PORT_BASE + 1)); start node "$port" node internal/nodepeer/scripts/bench_server.mjs "$port" ;;
    raw)     port=$((PORT_BASE + 2)); start raw "$port" "$OUT/benchserver" -raw -addr "127.0.0.1:$port" ;;
    zishang) port=$((PORT_BASE + 3)); start zishang "$port" "$OUT/zishangserver" -addr "127.0.0.1:$port" ;;
    connect) port=$((PORT_BASE + 4)); start connect "$port" "$OUT/connectserver" -addr "127.0.0.1:$port" ;;
    *) echo "bench: unknown target $1" >&2; exit 2 ;;
  esac
}

for target in $TARGETS; do
  start_target "$target"
  echo "== $target" >&2
  # The machine may be shared: each server's rows are read beside the load
  # average when it started.
  printf '{"target":"load","of":"%s","loadavg":"%s"}\n' "$target" "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/results.jsonl"
  if [ "$target" = connect ]; then
    # Typed unary calls in the shape of siobench's goclient scenario:
    # replies not compressed, then as connect-go's defaults have it (the
    # client accepts gzip, so every reply is gzipped).
    run_tool connect connect 50 "$OUT/connectbench" -url "http://127.0.0.1:$port" -duration "$DURATION" -pid "$PID"
    run_tool connect connect-gzip 50 "$OUT/connectbench" -url "http://127.0.0.1:$port" -duration "$DURATION" -pid "$PID" -gzip
  else
    load "$target" "$port" latency
    load "$target" "$port" latency -clients "$LOADED_CLIENTS"
    load "$target" "$port" throughput
    load "$target" "$port" binary
    if [ "$target" != raw ]; then
      load "$target" "$port" polling
      load "$target" "$port" fanout
    fi
    if [ "$target" = go ]; then
      load go "$port" rpc
      load go "$port" goclient
      load go "$port" bidi
      load go "$port" binfanout
      load go "$port" rpcfanout
    fi
    if [ "$target" != raw ]; then
      # Idle memory on a fresh process: after the other scenarios, RSS
      # growth from a baseline they had inflated read low for Go and
      # below zero for Node (their garbage freed during the hold).
      kill "$PID"; wait "$PID" 2>/dev/null || true
      start_target "$target"
      load "$target" "$port" idle -clients "$IDLE" -duration "$IDLE_HOLD"
    fi
  fi
  kill "$PID"; wait "$PID" 2>/dev/null || true
done

"$OUT/benchreport" -results "$OUT/results.jsonl" -out "$OUT/report" -loaded "$LOADED_CLIENTS"
if [ -n "${UPDATE:-}" ]; then
  "$OUT/benchreport" -results "$OUT/results.jsonl" -out docs/bench -doc PERFORMANCE.md -loaded "$LOADED_CLIENTS" >/dev/null
  cp "$OUT/results.jsonl" docs/bench/results.jsonl # the figures the committed tables and charts come from
  echo "bench: PERFORMANCE.md's latest run and docs/bench/*.svg rewritten" >&2
fi
