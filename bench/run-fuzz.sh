#!/usr/bin/env bash
# Long fuzz run: the same in-process mutation fuzzer as tests/Pb.Core.Tests/Fuzzing (banana parser/reader,
# unjellier, broker message handling), with more inputs per target.
#   bench/run-fuzz.sh [inputs-per-target]     (default 10000000)
# Prints inputs/s, distinct outcomes and any failing input (base64) per target; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs="${1:-10000000}"
report="$(mktemp /tmp/pb-fuzz.XXXXXX)"
dotnet build tests/Pb.Core.Tests -c Release -v q -nologo
status=0
PB_FUZZ_INPUTS="$inputs" PB_FUZZ_REPORT="$report" \
  dotnet test tests/Pb.Core.Tests -c Release --no-build --filter "FullyQualifiedName~Pb.Tests.Fuzzing" -- xUnit.ParallelizeTestCollections=false || status=$?
echo "---- fuzz report ($inputs inputs per target)"
cat "$report"
rm -f "$report"
exit "$status"
