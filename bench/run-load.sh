#!/usr/bin/env bash
# Runs the load workloads W1-W4a for Pb.Web and Twisted PB side by side, in one run, on 127.0.0.1:
#   pbweb           C# client  -> C# server
#   twisted         Twisted client -> Twisted server
#   twisted->pbweb  Twisted client -> C# server
#   pbweb->twisted  C# client  -> Twisted server
# Usage: bench/run-load.sh [DURATION_SECONDS] [RUNS]   (results: artifacts/load/results.tsv and a table on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
RUNS=${2:-1}
WARMUP=2
OUT=artifacts/load
mkdir -p "$OUT"
: > "$OUT/results.tsv"
dotnet build bench/Pb.BenchServer -c Release -v:quiet -nologo >/dev/null
dotnet build bench/Pb.BenchClient -c Release -v:quiet -nologo >/dev/null
CS_SERVER=bench/Pb.BenchServer/bin/Release/net10.0/Pb.BenchServer
CS_CLIENT=bench/Pb.BenchClient/bin/Release/net10.0/Pb.BenchClient
PY=/usr/bin/python3

start_server() { # $1 = csharp|twisted; prints "port pid"
  local log; log=$(mktemp)
  if [ "$1" = csharp ]; then "$CS_SERVER" --transport tcp --port 0 --lifetime 600 >"$log" 2>&1 &
  else "$PY" bench/twisted/bench_server.py --port 0 --lifetime 600 >"$log" 2>&1 & fi
  for _ in $(seq 1 100); do grep -q READY "$log" && break; sleep 0.1; done
  sed -n 's/READY port=\([0-9]*\) pid=\([0-9]*\)/\1 \2/p' "$log"
}

run_client() { # $1 = csharp|twisted, $2 = system name, $3 = port, $4 = server pid, $5 = run
  local args=(--transport tcp --host 127.0.0.1 --port "$3" --workloads W1,W2,W3,W4,W4a --warmup "$WARMUP"
              --duration "$DURATION" --depth 64 --fanout-n 10000 --max-total 300 --system "$2" --run "$5" --server-pid "$4")
  if [ "$1" = csharp ]; then timeout 600 "$CS_CLIENT" "${args[@]}"; else timeout 600 "$PY" bench/twisted/bench_client.py "${args[@]}"; fi \
    | grep '^RESULT' | tee -a "$OUT/results.tsv"
}

for run in $(seq 1 "$RUNS"); do
  for pair in "csharp csharp pbweb" "twisted twisted twisted" "twisted csharp twisted->pbweb" "csharp twisted pbweb->twisted"; do
    set -- $pair
    read -r port pid < <(start_server "$2")
    run_client "$1" "$3" "$port" "$pid" "$run" || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done

"$PY" - "$OUT/results.tsv" <<'PYEOF'
import json, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line.split("\t", 1)[1])
    rows[(r["system"], r["workload"])].append(r["ops_per_s"])
systems = ["pbweb", "twisted", "twisted->pbweb", "pbweb->twisted"]
workloads = ["W1", "W2", "W3", "W4", "W4a"]
print("| workload | " + " | ".join(systems) + " | pbweb / twisted |")
print("|---|" + "---:|" * (len(systems) + 1))
for w in workloads:
    best = {s: max(rows[(s, w)]) if rows[(s, w)] else None for s in systems}
    cells = [f"{best[s]:,.0f}" if best[s] is not None else "-" for s in systems]
    ratio = f"{best['pbweb'] / best['twisted']:.1f}x" if best["pbweb"] and best["twisted"] else "-"
    print(f"| {w} | " + " | ".join(cells) + f" | {ratio} |")
PYEOF
