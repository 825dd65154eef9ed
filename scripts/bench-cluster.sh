#!/usr/bin/env bash
# Measures fan-out across clusters of 1, 2 and 4 nodes on this machine, in
# one run: Go nodes (examples/benchserver -redis) and Node reference nodes
# (socket.io 4.8 on @socket.io/redis-adapter, bench_server.mjs) on one
# redis-server, for each adapter. One publisher on the first node, CLIENTS
# subscribers spread over the nodes; siobench checks that every subscriber
# gets every message in order, and reports messages delivered per second
# and the latency from publish to receipt. The nodes' CPU time (from
# /proc) per delivered message shows how the cost grows with the nodes.
# Then, on Redis pub/sub, IDLE idle connections spread over each cluster are
# held through heartbeats (IDLE_HOLD, past the 25 s ping interval), for the
# cluster's resident memory per connection; IDLE=0 skips that.
# Everything listens on 127.0.0.1 and every run is bounded by DURATION.
#
#   bash scripts/bench-cluster.sh    # NODES="1 2 4" ADAPTERS="pubsub sharded streams" CLIENTS=1000 DURATION=5s IDLE=10000 IDLE_HOLD=30s
#
# A two-core machine runs the nodes, Redis and the load tool side by side,
# unpinned: figures are ratios between the Go and the Node cluster of the
# same size measured in this run, not capacities.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
NODES=${NODES:-"1 2 4"}
ADAPTERS=${ADAPTERS:-"pubsub sharded streams"}
CLIENTS=${CLIENTS:-1000}
# One load process holds every idle connection, and may open at most
# `ulimit -Hn` files (20 000 here): keep IDLE below that.
IDLE=${IDLE:-10000}
IDLE_HOLD=${IDLE_HOLD:-30s}
OUT=${OUT:-.tmp/bench-cluster}
REDIS_PORT=${REDIS_PORT:-4300}
mkdir -p "$OUT"
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

go build -o "$OUT/siobench" ./cmd/siobench
go build -o "$OUT/benchserver" ./examples/benchserver
[ -d node_modules/socket.io ] || npm ci --no-audit --no-fund

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() { # wait_port <port> <log>
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench-cluster: nothing listens on $1" >&2; cat "$2" >&2; exit 1
}

cpu_ticks() { # cpu_ticks <pid...>: user+system clock ticks of the processes
  local sum=0
  for p in "$@"; do
    read -r -a f <"/proc/$p/stat"
    sum=$((sum + f[13] + f[14]))
  done
  echo "$sum"
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_port "$REDIS_PORT" "$OUT/redis.log"
hz=$(getconf CLK_TCK)

start_nodes() { # start_nodes <target> <adapter> <n>: sets nodes (pids) and urls
  nodes=() urls=()
  for i in $(seq 0 $(($3 - 1))); do
    local port=$((4310 + i)) log="$OUT/$1-$2-$3-$i.log"
    if [ "$1" = go ]; then
      "$OUT/benchserver" -addr "127.0.0.1:$port" -redis "127.0.0.1:$REDIS_PORT" -adapter "$2" >"$log" 2>&1 &
    else
      node internal/nodepeer/scripts/bench_server.mjs "$port" "$REDIS_PORT" "$2" >"$log" 2>&1 &
    fi
    nodes+=("$!")
    pids+=("$!")
    wait_port "$port" "$log"
    urls+=("ws://127.0.0.1:$port")
  done
}

: >"$OUT/results.jsonl"
for adapter in $ADAPTERS; do
  for n in $NODES; do
    for target in go node; do
      start_nodes "$target" "$adapter" "$n"
      echo "== $target, $adapter, $n node(s)" >&2
      before=$(cpu_ticks "${nodes[@]}")
      redis_before=$(cpu_ticks "$redis_pid")
      url=$(IFS=,; echo "${urls[*]}")
      # 4 broadcasts in flight, as PERFORMANCE.md's cluster figures were
      # measured (siobench's own default is higher, to saturate one server).
      if res=$("$OUT/siobench" -url "$url" -scenario fanout -inflight "${INFLIGHT:-4}" -clients "$CLIENTS" -duration "$DURATION"); then
        after=$(cpu_ticks "${nodes[@]}")
        redis_after=$(cpu_ticks "$redis_pid")
        echo "$res" | sed "s/^{/{\"target\":\"$target\",\"adapter\":\"$adapter\",\"node_cpu_s\":$(((after - before) * 100 / hz))e-2,\"redis_cpu_s\":$(((redis_after - redis_before) * 100 / hz))e-2,/" >>"$OUT/results.jsonl"
      else
        echo "{\"target\":\"$target\",\"adapter\":\"$adapter\",\"nodes\":$n,\"failed\":true}" >>"$OUT/results.jsonl"
      fi
      for p in "${nodes[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
    done
  done
done


if [ "$IDLE" -gt 0 ]; then
  for n in $NODES; do
    for target in go node; do
      start_nodes "$target" pubsub "$n"
      echo "== $target, $IDLE idle connections on $n node(s)" >&2
      url=$(IFS=,; echo "${urls[*]}")
      pidlist=$(IFS=,; echo "${nodes[*]}")
      if res=$("$OUT/siobench" -url "$url" -scenario idle -clients "$IDLE" -duration "$IDLE_HOLD" -pid "$pidlist"); then
        echo "$res" | sed "s/^{/{\"target\":\"$target\",\"adapter\":\"idle\",/" >>"$OUT/results.jsonl"
      else
        echo "{\"target\":\"$target\",\"adapter\":\"idle\",\"nodes\":$n,\"failed\":true}" >>"$OUT/results.jsonl"
      fi
      for p in "${nodes[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
    done
  done
fi

node - "$OUT/results.jsonl" <<'JS'
const fs = require("node:fs");
const rows = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const get = (t, a, n) => rows.find((r) => r.target === t && r.adapter === a && r.nodes === n) || {};
const f = (x, d = 0) => (x === undefined ? "-" : Number(x).toFixed(d));
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) + "x" : "-");
// CPU microseconds of all nodes together per delivered message.
const perMsg = (r) => (r.delivered ? (r.node_cpu_s * 1e6) / r.delivered : undefined);
console.log("adapter  nodes   go msg/s  node msg/s  go/node   go p50/p99 us   node p50/p99 us   go/node cpu per msg");
for (const a of [...new Set(rows.map((r) => r.adapter))].filter((a) => a !== "idle")) {
  for (const n of [...new Set(rows.map((r) => r.nodes))]) {
    const g = get("go", a, n), o = get("node", a, n);
    if (g.failed || o.failed) console.log(`${a.padEnd(8)} ${String(n).padStart(5)}   ${g.failed ? "go failed" : ""} ${o.failed ? "node failed" : ""}`);
    if (!g.per_second && !o.per_second) continue;
    console.log(`${a.padEnd(8)} ${String(n).padStart(5)} ${f(g.per_second).padStart(10)} ${f(o.per_second).padStart(11)} ${ratio(g.per_second, o.per_second).padStart(8)}   ${(f(g.p50_us) + "/" + f(g.p99_us)).padStart(13)}   ${(f(o.p50_us) + "/" + f(o.p99_us)).padStart(15)}   ${ratio(perMsg(g), perMsg(o)).padStart(8)} (${f(perMsg(g), 2)} vs ${f(perMsg(o), 2)} us)`);
  }
}
const idle = rows.filter((r) => r.adapter === "idle");
if (idle.length) console.log("\nidle    nodes   go KiB/conn  node KiB/conn  go/node   pings answered (go, node)");
for (const n of [...new Set(idle.map((r) => r.nodes))]) {
  const g = get("go", "idle", n), o = get("node", "idle", n);
  console.log(`idle    ${String(n).padStart(5)}   ${f(g.kib_per_connection, 1).padStart(11)}  ${f(o.kib_per_connection, 1).padStart(13)}  ${ratio(g.kib_per_connection, o.kib_per_connection).padStart(7)}   ${f(g.pings_answered)}, ${f(o.pings_answered)}${g.failed ? " (go failed)" : ""}${o.failed ? " (node failed)" : ""}`);
}
JS
