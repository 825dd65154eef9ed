#!/usr/bin/env bash
# Measures fan-out across clusters of 1, 2 and 4 nodes on this machine, in
# one run: Go nodes (examples/benchserver -redis) and Node reference nodes
# (socket.io 4.8 on @socket.io/redis-adapter, bench_server.mjs) on one
# redis-server, for each adapter. One publisher on the first node, CLIENTS
# subscribers spread over the nodes; siobench checks that every subscriber
# gets every message in order, and reports messages delivered per second
# and the latency from publish to receipt. The nodes' CPU time (from
# /proc) per delivered message shows how the cost grows with the nodes.
# Everything listens on 127.0.0.1 and every run is bounded by DURATION.
#
#   bash scripts/bench-cluster.sh    # NODES="1 2 4" ADAPTERS="pubsub sharded streams" CLIENTS=1000 DURATION=5s
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

: >"$OUT/results.jsonl"
for adapter in $ADAPTERS; do
  for n in $NODES; do
    for target in go node; do
      nodes=() urls=()
      for i in $(seq 0 $((n - 1))); do
        port=$((4310 + i))
        log="$OUT/$target-$adapter-$n-$i.log"
        if [ "$target" = go ]; then
          "$OUT/benchserver" -addr "127.0.0.1:$port" -redis "127.0.0.1:$REDIS_PORT" -adapter "$adapter" >"$log" 2>&1 &
        else
          node internal/nodepeer/scripts/bench_server.mjs "$port" "$REDIS_PORT" "$adapter" >"$log" 2>&1 &
        fi
        nodes+=("$!")
        pids+=("$!")
        wait_port "$port" "$log"
        urls+=("ws://127.0.0.1:$port")
      done
      echo "== $target, $adapter, $n node(s)" >&2
      before=$(cpu_ticks "${nodes[@]}")
      redis_before=$(cpu_ticks "$redis_pid")
      url=$(IFS=,; echo "${urls[*]}")
      if res=$("$OUT/siobench" -url "$url" -scenario fanout -clients "$CLIENTS" -duration "$DURATION"); then
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

node - "$OUT/results.jsonl" <<'JS'
const fs = require("node:fs");
const rows = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const get = (t, a, n) => rows.find((r) => r.target === t && r.adapter === a && r.nodes === n) || {};
const f = (x, d = 0) => (x === undefined ? "-" : Number(x).toFixed(d));
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) + "x" : "-");
// CPU microseconds of all nodes together per delivered message.
const perMsg = (r) => (r.delivered ? (r.node_cpu_s * 1e6) / r.delivered : undefined);
console.log("adapter  nodes   go msg/s  node msg/s  go/node   go p50/p99 us   node p50/p99 us   go/node cpu per msg");
for (const a of [...new Set(rows.map((r) => r.adapter))]) {
  for (const n of [...new Set(rows.map((r) => r.nodes))]) {
    const g = get("go", a, n), o = get("node", a, n);
    if (g.failed || o.failed) console.log(`${a.padEnd(8)} ${String(n).padStart(5)}   ${g.failed ? "go failed" : ""} ${o.failed ? "node failed" : ""}`);
    if (!g.per_second && !o.per_second) continue;
    console.log(`${a.padEnd(8)} ${String(n).padStart(5)} ${f(g.per_second).padStart(10)} ${f(o.per_second).padStart(11)} ${ratio(g.per_second, o.per_second).padStart(8)}   ${(f(g.p50_us) + "/" + f(g.p99_us)).padStart(13)}   ${(f(o.p50_us) + "/" + f(o.p99_us)).padStart(15)}   ${ratio(perMsg(g), perMsg(o)).padStart(8)} (${f(perMsg(g), 2)} vs ${f(perMsg(o), 2)} us)`);
  }
}
JS
