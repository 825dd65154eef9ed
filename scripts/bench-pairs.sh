#!/usr/bin/env bash
# Compares scenarios with each other against one server build, in one run:
# each pair "A:B" runs ROUNDS times, A first in odd rounds and B first in
# even ones, on a fresh server pinned to core 1 (the load tool on core 0).
# It prints the server CPU per call (or per delivered message, for the
# fanouts) of each side, as siobench measures it from /proc with -pid: the
# medians, the median of the rounds' own B/A ratios (the steadiest figure
# on a noisy host), and for goclient the client's CPU per call beside the
# server's.
#
#   bash scripts/bench-pairs.sh [A:B ...]   # default: rpcplain:rpc rpcplain:rpcmeta binfanout:rpcfanout
#
# SERVER_FLAGS are passed to the server; SERVER_BIN runs that server
# binary instead of building the working tree's, to compare revisions
# (each side's ratios still come from one run).
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${*:-rpcplain:rpc rpcplain:rpcmeta binfanout:rpcfanout}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-.tmp/bench-pairs}
mkdir -p "$OUT"
if [ -n "${SERVER_BIN:-}" ]; then cp "$SERVER_BIN" "$OUT/server"; else go build -o "$OUT/server" ./examples/benchserver; fi
go build -o "$OUT/siobench" ./cmd/siobench

pin_server="taskset -c 1"
pin_load="taskset -c 0"
command -v taskset >/dev/null || { pin_server=""; pin_load=""; }

: >"$OUT/results.tsv"
port=4300
for pair in $PAIRS; do
  a=${pair%%:*} b=${pair##*:}
  for round in $(seq "$ROUNDS"); do
    order="$a $b"
    [ $((round % 2)) = 0 ] && order="$b $a"
    for scenario in $order; do
      port=$((port + 1))
      # shellcheck disable=SC2086 # the flags are words
      $pin_server "$OUT/server" ${SERVER_FLAGS:-} -addr "127.0.0.1:$port" >"$OUT/server.log" 2>&1 &
      pid=$!
      for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
      line=$($pin_load "$OUT/siobench" -url "ws://127.0.0.1:$port" -scenario "$scenario" -duration "$DURATION" -pid "$pid")
      kill "$pid"; wait "$pid" 2>/dev/null || true
      node -e '
        const r = JSON.parse(process.argv[1]);
        const server = r.server_cpu_us_per_call ?? r.server_cpu_us_per_delivered;
        console.log([process.argv[2], process.argv[3], process.argv[4], r.per_second.toFixed(0), server.toFixed(3), (r.client_cpu_us_per_call ?? 0).toFixed(3)].join("\t"));
      ' "$line" "$pair" "$scenario" "$round" >>"$OUT/results.tsv"
    done
  done
  echo "$pair done" >&2
done

node - "$OUT/results.tsv" <<'JS'
const fs = require("node:fs");
const rows = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => l.split("\t"));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
for (const pair of [...new Set(rows.map((r) => r[0]))]) {
  const [a, b] = pair.split(":");
  const of = (sc) => rows.filter((r) => r[0] === pair && r[1] === sc);
  const m = (sc, i) => median(of(sc).map((r) => Number(r[i])));
  const rounds = [...new Set(of(a).map((r) => r[2]))];
  const cpu = (sc, round) => Number(of(sc).find((r) => r[2] === round)[4]);
  const pairwise = median(rounds.map((n) => cpu(b, n) / cpu(a, n)));
  let line = `${a} -> ${b}: per_second ${m(a, 3)} / ${m(b, 3)}   server us/call ${m(a, 4)} / ${m(b, 4)}  B/A ${(m(b, 4) / m(a, 4)).toFixed(3)}  pairwise B/A ${pairwise.toFixed(3)}`;
  for (const sc of [a, b]) {
    if (m(sc, 5) > 0) {
      const cs = median(of(sc).map((r) => Number(r[5]) / Number(r[4])));
      line += `   ${sc} client us/call ${m(sc, 5)}, client/server ${cs.toFixed(3)}`;
    }
  }
  console.log(line);
}
JS
