#!/usr/bin/env bash
# Compares the server of another revision (A) with the working tree (B) in
# one run: the same load, rounds alternating A and B (A first in odd
# rounds, B first in even ones), the server pinned to core 1 and the load
# tool to core 0. For each scenario it prints calls per second and server
# CPU per call (from /proc, user + system): medians of ROUNDS, their ratio
# B/A, the median of the rounds' own B/A ratios (the steadiest figure on a
# noisy host) and the lowest CPU per call of each side.
#
#   bash scripts/bench-ab.sh <revision> [scenario...]   # default: rpc throughput
#
# A_FLAGS and B_FLAGS are passed to each side's server, so that one
# revision can be compared with itself under other flags, for instance
# the cost of tracing: A_FLAGS= B_FLAGS='-trace 0.01' bash scripts/bench-ab.sh HEAD
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:?usage: bench-ab.sh <revision> [scenario...]}
shift
SCENARIOS=${*:-rpc throughput}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-.tmp/bench-ab}
mkdir -p "$OUT"
rm -rf "$OUT/a-src"
git worktree add -q --detach "$OUT/a-src" "$REV"
trap 'git worktree remove --force "$OUT/a-src"' EXIT
(cd "$OUT/a-src" && go build -o "../a-server" ./examples/benchserver)
go build -o "$OUT/b-server" ./examples/benchserver
go build -o "$OUT/siobench" ./cmd/siobench

pin_server="taskset -c 1"
pin_load="taskset -c 0"
command -v taskset >/dev/null || { pin_server=""; pin_load=""; }
ticks=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

: >"$OUT/results.tsv"
port=4200
for round in $(seq "$ROUNDS"); do
  order="a b"
  [ $((round % 2)) = 0 ] && order="b a"
  for side in $order; do
    port=$((port + 1))
    flags_var="${side^^}_FLAGS"
    # shellcheck disable=SC2086 # the flags are words
    $pin_server "$OUT/$side-server" ${!flags_var:-} -addr "127.0.0.1:$port" >"$OUT/$side.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    for scenario in $SCENARIOS; do
      before=$(cpu_ticks "$pid")
      line=$($pin_load "$OUT/siobench" -url "ws://127.0.0.1:$port" -scenario "$scenario" -duration "$DURATION")
      after=$(cpu_ticks "$pid")
      node -e '
        const r = JSON.parse(process.argv[1]);
        const cpu = (process.argv[3] - process.argv[2]) / process.argv[4];
        const calls = r.calls ?? r.delivered; // fan-out scenarios count delivered messages
        console.log([process.argv[5], process.argv[6], r.per_second.toFixed(0), (cpu / calls * 1e6).toFixed(2), process.argv[7]].join("\t"));
      ' "$line" "$before" "$after" "$ticks" "$side" "$scenario" "$round" >>"$OUT/results.tsv"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  echo "round $round done" >&2
done

node - "$OUT/results.tsv" "$REV" <<'JS'
const fs = require("node:fs");
const rows = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => l.split("\t"));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const scenarios = [...new Set(rows.map((r) => r[1]))];
for (const sc of scenarios) {
  const m = (side, i) => median(rows.filter((r) => r[0] === side && r[1] === sc).map((r) => Number(r[i])));
  const [ra, rb, ca, cb] = [m("a", 2), m("b", 2), m("a", 3), m("b", 3)];
  const cpu = (side, round) => Number(rows.find((r) => r[0] === side && r[1] === sc && r[4] === round)[3]);
  const rounds = [...new Set(rows.filter((r) => r[1] === sc).map((r) => r[4]))];
  const pairwise = median(rounds.map((n) => cpu("b", n) / cpu("a", n)));
  const low = (side) => Math.min(...rows.filter((r) => r[0] === side && r[1] === sc).map((r) => Number(r[3])));
  console.log(`${sc.padEnd(12)} per_second A(${process.argv[3]}) ${ra}  B ${rb}  B/A ${(rb / ra).toFixed(3)}   server us/call A ${ca}  B ${cb}  B/A ${(cb / ca).toFixed(3)}  pairwise B/A ${pairwise.toFixed(3)}  lowest A ${low("a")} B ${low("b")}`);
}
JS
