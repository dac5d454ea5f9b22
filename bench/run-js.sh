#!/usr/bin/env bash
# Node clients over WebSocket, same run, 127.0.0.1: our TypeScript client (@pb-web/client, pb.banana) against
# Pb.BenchServer, and the @microsoft/signalr Node client (JSON and MessagePack hub protocols) against SignalR.Bench's hub.
# Workloads W1-W4 as Pb.BenchClient's (docs/benchmarks.md). Each system runs once per round, in turn, RUNS rounds.
# Usage: bench/run-js.sh [DURATION_SECONDS] [RUNS]   (results: artifacts/load/js.tsv and a table with the median of the runs)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
RUNS=${2:-3}
OUT=artifacts/load
mkdir -p "$OUT"
: > "$OUT/js.tsv"
for p in bench/Pb.BenchServer bench/SignalR.Bench; do dotnet build "$p" -c Release -v:quiet -nologo >/dev/null; done
(cd src/Pb.Js.Client && npm run --silent build >/dev/null)
(cd bench/Pb.Js.Bench && npm run --silent build >/dev/null)
PB_SERVER=bench/Pb.BenchServer/bin/Release/net10.0/Pb.BenchServer
SR=bench/SignalR.Bench/bin/Release/net10.0/SignalR.Bench
BENCH=bench/Pb.Js.Bench/dist/bench.mjs
COMMON=(--workloads W1,W2,W3,W4 --warmup 2 --duration "$DURATION" --depth 64 --fanout-n 10000)

start() { # command... ; prints "port pid"
  local log; log=$(mktemp)
  "$@" >"$log" 2>&1 &
  for _ in $(seq 1 100); do grep -q READY "$log" && break; sleep 0.1; done
  sed -n 's/READY port=\([0-9]*\) pid=\([0-9]*\)/\1 \2/p' "$log"
}

for run in $(seq 1 "$RUNS"); do
  read -r port pid < <(start "$PB_SERVER" --transport ws --port 0 --lifetime 600)
  timeout 600 node "$BENCH" --target pb --url "ws://127.0.0.1:$port/pb" "${COMMON[@]}" --system pbweb-ts --run "$run" | grep '^RESULT' | tee -a "$OUT/js.tsv" || true
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  for protocol in json msgpack; do
    read -r port pid < <(start "$SR" server --port 0 --lifetime 600)
    timeout 600 node "$BENCH" --target signalr --url "http://127.0.0.1:$port/hub" --protocol "$protocol" "${COMMON[@]}" --system "signalr-ts-$protocol" --run "$run" | grep '^RESULT' | tee -a "$OUT/js.tsv" || true
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
done

/usr/bin/python3 - "$OUT/js.tsv" <<'PYEOF'
import json, sys, collections, statistics
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line.split("\t", 1)[1])
    rows[(r["system"], r["workload"])].append(r["ops_per_s"])
systems = ["pbweb-ts", "signalr-ts-json", "signalr-ts-msgpack"]
print("| workload | " + " | ".join(systems) + " | pbweb-ts / signalr-ts-json | pbweb-ts / signalr-ts-msgpack |")
print("|---|" + "---:|" * (len(systems) + 2))
for w in ["W1", "W2", "W3", "W4"]:
    med = {s: statistics.median(rows[(s, w)]) if rows[(s, w)] else None for s in systems}
    cells = [f"{med[s]:,.0f}" if med[s] else "-" for s in systems]
    ratios = [f"{med['pbweb-ts'] / med[s]:.2f}x" if med["pbweb-ts"] and med[s] else "-" for s in ("signalr-ts-json", "signalr-ts-msgpack")]
    print(f"| {w} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
PYEOF
