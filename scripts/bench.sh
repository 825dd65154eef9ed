#!/usr/bin/env bash
# Runs the same load scenarios, in one run, against our Go server, the Node
# reference socket.io server and a bare WebSocket echo, with the server
# pinned to core 1 and the load tool to core 0, and prints ratios.
# Everything listens on 127.0.0.1; every scenario is bounded by DURATION.
#
#   bash scripts/bench.sh            # DURATION=5s IDLE=10000 IDLE_HOLD=30s by default
#
# The idle scenario holds its connections past the 25 s ping interval, so
# that heartbeats run. scripts/idle-scale.sh holds 100 000.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
IDLE=${IDLE:-10000}
IDLE_HOLD=${IDLE_HOLD:-30s}
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

load() { # load <target> <port> <scenario> [flags...]
  local target=$1 port=$2 scenario=$3; shift 3
  local raw=""
  [ "$target" = raw ] && raw="-raw"
  $pin_load "$OUT/siobench" -url "ws://127.0.0.1:$port" -scenario "$scenario" -duration "$DURATION" $raw "$@" \
    | sed "s/^{/{\"target\":\"$target\",/" >>"$OUT/results.jsonl"
}

: >"$OUT/results.jsonl"
for target in go node raw; do
  case $target in
    go)   start go 4101 "$OUT/benchserver" -addr 127.0.0.1:4101; port=4101 ;;
    node) start node 4102 node internal/nodepeer/scripts/bench_server.mjs 4102; port=4102 ;;
    raw)  start raw 4103 "$OUT/benchserver" -raw -addr 127.0.0.1:4103; port=4103 ;;
  esac
  echo "== $target" >&2
  load "$target" "$port" latency
  load "$target" "$port" latency -clients "$LOADED_CLIENTS"
  load "$target" "$port" throughput
  load "$target" "$port" binary
  if [ "$target" != raw ]; then
    load "$target" "$port" polling
    load "$target" "$port" fanout
    load "$target" "$port" idle -clients "$IDLE" -pid "$PID" -duration "$IDLE_HOLD"
  fi
  [ "$target" = go ] && load "$target" "$port" rpc
  [ "$target" = go ] && load "$target" "$port" bidi
  [ "$target" = go ] && load "$target" "$port" binfanout
  [ "$target" = go ] && load "$target" "$port" rpcfanout
  kill "$PID"; wait "$PID" 2>/dev/null || true
done

node - "$OUT/results.jsonl" "$LOADED_CLIENTS" <<'JS'
const fs = require("node:fs");
const rows = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
// A scenario name may carry its client count: "latency@10".
const get = (t, s) => {
  const [name, clients] = s.split("@");
  return rows.find((r) => r.target === t && r.scenario === name && (!clients || r.clients === Number(clients))) || {};
};
const f = (x, d = 0) => (x === undefined ? "-" : Number(x).toFixed(d));
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) + "x" : "-");
const line = (name, key, d, better) => {
  const g = get("go", name)[key], n = get("node", name)[key], r = get("raw", name)[key];
  console.log(`${(name + " " + key).padEnd(26)} go ${f(g, d).padStart(10)}  node ${f(n, d).padStart(10)}  raw ${f(r, d).padStart(10)}   go/node ${ratio(g, n).padStart(7)}  go/raw ${ratio(g, r).padStart(7)}`);
};
line("latency@1", "p50_us", 0);
line("latency@1", "p99_us", 0);
line(`latency@${process.argv[3]}`, "p50_us", 0);
line(`latency@${process.argv[3]}`, "p99_us", 0);
line("polling", "p50_us", 0);
line("polling", "per_second", 0);
line("throughput", "per_second", 0);
line("binary", "mb_per_sec", 1);
line("fanout", "per_second", 0);
line("fanout", "p50_us", 0);
line("idle", "kib_per_connection", 1);
line("idle", "pings_answered", 0);
line("idle", "connect_per_second", 0);
const rpc = get("go", "rpc").per_second, bin = get("go", "throughput").per_second;
console.log(`rpc per_second (go)         ${f(rpc)}  (typed unary, 5-byte request; text echo ${f(bin)})`);
const bidi = get("go", "bidi");
const bf = get("go", "binfanout").per_second, rf = get("go", "rpcfanout").per_second;
console.log(`rpcfanout per_second (go)   ${f(rf)}  (typed room stream; ${ratio(rf, bf)} of a plain broadcast of the same bytes, ${f(bf)})`);
console.log(`bidi per_second (go)        ${f(bidi.per_second)}  (typed stream messages, ${ratio(bidi.per_second, rpc)} of unary; p50 ${f(bidi.p50_us)} us, p99 ${f(bidi.p99_us)} us)`);
JS
