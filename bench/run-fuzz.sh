#!/usr/bin/env bash
# Long fuzz run: the same in-process mutation fuzzer as tests/Pb.Core.Tests/Fuzzing (banana parser/reader,
# unjellier, broker message handling), with more inputs per target.
#   bench/run-fuzz.sh [inputs-per-target]     (default 10000000)
# Prints inputs/s, distinct outcomes and any failing input (base64) per target; exits non-zero on failure.
# Runs a copy of the test binaries, so rebuilding the tests meanwhile does not disturb it.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs="${1:-10000000}"
work="$(mktemp -d /tmp/pb-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
dotnet build tests/Pb.Core.Tests -c Release -v q -nologo
cp -r tests/Pb.Core.Tests/bin/Release/net10.0/. "$work/bin"
status=0
PB_FUZZ_INPUTS="$inputs" PB_FUZZ_REPORT="$work/report.txt" \
  dotnet "$work/bin/Pb.Core.Tests.dll" -class Pb.Tests.Fuzzing.FuzzTests -parallel none || status=$?
echo "---- fuzz report ($inputs inputs per target)"
cat "$work/report.txt"
exit "$status"
