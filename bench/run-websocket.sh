#!/usr/bin/env bash
# PB over WebSocket (.NET client, Pb.AspNetCore endpoint; sub-protocols pb.banana and pb.msgpack) against an ASP.NET Core SignalR hub (JSON and MessagePack,
# the .NET SignalR client), same workloads W1-W4, same run, 127.0.0.1.
# Usage: bench/run-websocket.sh [DURATION_SECONDS] [RUNS]   (results: artifacts/load/websocket.tsv and a table)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
RUNS=${2:-1}
OUT=artifacts/load
mkdir -p "$OUT"
: > "$OUT/websocket.tsv"
for p in bench/Pb.BenchServer bench/Pb.BenchClient bench/SignalR.Bench; do dotnet build "$p" -c Release -v:quiet -nologo >/dev/null; done
PB_SERVER=bench/Pb.BenchServer/bin/Release/net10.0/Pb.BenchServer
PB_CLIENT=bench/Pb.BenchClient/bin/Release/net10.0/Pb.BenchClient
SR=bench/SignalR.Bench/bin/Release/net10.0/SignalR.Bench
COMMON=(--workloads W1,W2,W3,W4,W1t,W2t,W3t --warmup 2 --duration "$DURATION" --depth 64 --fanout-n 10000)

start() { # command... ; prints "port pid"
  local log; log=$(mktemp)
  "$@" >"$log" 2>&1 &
  for _ in $(seq 1 100); do grep -q READY "$log" && break; sleep 0.1; done
  sed -n 's/READY port=\([0-9]*\) pid=\([0-9]*\)/\1 \2/p' "$log"
}

for run in $(seq 1 "$RUNS"); do
  read -r port pid < <(start "$PB_SERVER" --transport ws --port 0 --lifetime 600)
  timeout 600 "$PB_CLIENT" --transport ws --url "ws://127.0.0.1:$port/pb" "${COMMON[@]}" --system pbweb-ws --run "$run" | grep '^RESULT' | tee -a "$OUT/websocket.tsv" || true
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  read -r port pid < <(start "$PB_SERVER" --transport ws --port 0 --lifetime 600)
  timeout 600 "$PB_CLIENT" --transport ws --url "ws://127.0.0.1:$port/pb" --subprotocol pb.msgpack "${COMMON[@]}" --system pbweb-ws-msgpack --run "$run" | grep '^RESULT' | tee -a "$OUT/websocket.tsv" || true
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  for protocol in json msgpack; do
    read -r port pid < <(start "$SR" server --port 0 --lifetime 600)
    timeout 600 "$SR" client --url "http://127.0.0.1:$port/hub" --protocol "$protocol" "${COMMON[@]}" --system "signalr-$protocol" --run "$run" | grep '^RESULT' | tee -a "$OUT/websocket.tsv" || true
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
done

/usr/bin/python3 - "$OUT/websocket.tsv" <<'PYEOF'
import json, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line.split("\t", 1)[1])
    rows[(r["system"], r["workload"])].append(r["ops_per_s"])
systems = ["pbweb-ws", "pbweb-ws-msgpack", "signalr-json", "signalr-msgpack"]
print("| workload | " + " | ".join(systems) + " | pbweb (banana) / signalr-msgpack | pbweb (msgpack) / signalr-msgpack |")
print("|---|" + "---:|" * (len(systems) + 2))
for w in ["W1", "W2", "W3", "W4", "W1t", "W2t", "W3t"]:
    best = {s: max(rows[(s, w)]) if rows[(s, w)] else None for s in systems}
    cells = [f"{best[s]:,.0f}" if best[s] else "-" for s in systems]
    ratios = [f"{best[s] / best['signalr-msgpack']:.2f}x" if best[s] and best["signalr-msgpack"] else "-" for s in ("pbweb-ws", "pbweb-ws-msgpack")]
    print(f"| {w} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
PYEOF
