#!/usr/bin/env bash
# The project's two commands:
#   ./build.sh demo   start the demo web app (in-memory users, development key, nothing external)
#   ./build.sh test   install what is missing, build, run every suite, print one summary line
# Other verbs: demo-scaleout (two demo nodes sharing rooms through Redis), build, pack (make the NuGet packages and check them in a fresh project), public-api, bench (see docs/benchmarks.md).
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
CONFIG=${CONFIG:-Release}
RESULTS="$ROOT/artifacts/test-results"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_install() {
  # apt-get update once per run, only when something is missing.
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq >/dev/null || return 1; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_prereqs() {
  if ! command -v dotnet >/dev/null; then log "the .NET SDK 10 is required (dotnet on PATH)"; return 1; fi
  # Real Twisted is the judge of compatibility: the interop suites run against Debian's python3-twisted.
  if ! /usr/bin/python3 -c 'import twisted' 2>/dev/null; then
    log "installing python3-twisted"
    apt_install python3-twisted || { log "could not install python3-twisted"; return 1; }
  fi
  # The browser tests drive Debian's Chromium with playwright-core (Playwright's own browser download does not work here).
  if [ ! -x /usr/bin/chromium ]; then
    log "installing chromium"
    apt_install chromium || { log "could not install chromium"; return 1; }
  fi
  # The scale-out tests start their own Redis (a free port, persistence off): Debian's redis-server.
  if [ ! -x /usr/bin/redis-server ]; then
    log "installing redis-server"
    apt_install redis-server || { log "could not install redis-server"; return 1; }
  fi
  if [ -f package.json ] && command -v npm >/dev/null; then
    if [ ! -d node_modules ] || [ package.json -nt node_modules ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules ]; }; then
      log "installing npm packages"
      if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >/dev/null; else npm install --no-audit --no-fund >/dev/null; fi || return 1
    fi
  fi
}

build() {
  log "building ($CONFIG)"
  dotnet build Pb.Web.sln -c "$CONFIG" -nologo -clp:NoSummary -v:quiet
}

# Totals over all suites, printed last as: tests: N passed, N failed, N skipped
PASSED=0; FAILED=0; SKIPPED=0

count_trx() {
  # Adds the counters of one TRX file to the totals.
  local trx=$1 line p f t e
  line=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$line")
  e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$line")
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$line")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$line")
  PASSED=$((PASSED + ${p:-0})); FAILED=$((FAILED + ${f:-0})); SKIPPED=$((SKIPPED + ${t:-0} - ${e:-0}))
}

run_dotnet_suite() {
  local project=$1 name
  name=$(basename "$project" .csproj)
  log "running $name"
  rm -rf "$RESULTS/$name"
  dotnet test "$project" -c "$CONFIG" --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$RESULTS/$name" -- RunConfiguration.TreatNoTestsAsError=true
  local rc=$?
  if [ -f "$RESULTS/$name/$name.trx" ]; then
    count_trx "$RESULTS/$name/$name.trx"
    if [ $rc -ne 0 ] && ! grep -q 'failed="[1-9]' "$RESULTS/$name/$name.trx"; then FAILED=$((FAILED + 1)); fi
  else
    log "$name produced no results"; FAILED=$((FAILED + 1))
  fi
}

run_npm_suites() {
  [ -f package.json ] || return 0
  local ws
  for ws in $(node -e 'for (const w of require("./package.json").workspaces || []) console.log(w)'); do
    [ -f "$ws/package.json" ] || continue
    if node -e 'process.exit(require("./'"$ws"'/package.json").scripts?.test ? 0 : 1)'; then
      log "running npm tests in $ws"
      local junit="$RESULTS/Pb.Js.Client.Tests/junit.xml" rc t f e s
      rm -f "$junit"
      (cd "$ws" && npm run --silent typecheck && npm test --silent); rc=$?
      # vitest writes a JUnit report (vitest.config.ts): count from its root element
      if [ -f "$junit" ]; then
        local line
        line=$(grep -o '<testsuites [^>]*>' "$junit" | head -n 1)
        t=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$line")
        f=$(sed -n 's/.* failures="\([0-9]*\)".*/\1/p' <<<"$line")
        e=$(sed -n 's/.* errors="\([0-9]*\)".*/\1/p' <<<"$line")
        s=$(grep -o '<skipped' "$junit" | wc -l)
        PASSED=$((PASSED + ${t:-0} - ${f:-0} - ${e:-0} - s)); FAILED=$((FAILED + ${f:-0} + ${e:-0})); SKIPPED=$((SKIPPED + s))
        if [ $rc -ne 0 ] && [ "$((${f:-0} + ${e:-0}))" = 0 ]; then FAILED=$((FAILED + 1)); fi
      else
        log "$ws produced no test report"; FAILED=$((FAILED + 1))
      fi
    fi
  done
}

check_packages() {
  # dotnet pack makes the NuGet packages a user installs; a fresh project (tests/PackageConsumer, copied outside the
  # repository so none of its build settings apply) restores them from that folder and must run. Counts as one test.
  local out="$ROOT/artifacts/packages" work version pkg ok=1
  log "packing Pb.Core, Pb.AspNetCore and Pb.AspNetCore.Redis, then running a fresh project against the first two"
  rm -rf "$out"
  dotnet pack src/Pb.Core/Pb.Core.csproj -c "$CONFIG" -o "$out" -nologo -v:quiet >/dev/null &&
    dotnet pack src/Pb.AspNetCore/Pb.AspNetCore.csproj -c "$CONFIG" -o "$out" -nologo -v:quiet >/dev/null &&
    dotnet pack src/Pb.AspNetCore.Redis/Pb.AspNetCore.Redis.csproj -c "$CONFIG" -o "$out" -nologo -v:quiet >/dev/null || ok=0
  version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' src/Directory.Build.props | head -n 1)
  for pkg in Pb.Core Pb.AspNetCore Pb.AspNetCore.Redis; do
    if [ $ok = 1 ] && [ -f "$out/$pkg.$version.nupkg" ] && [ -f "$out/$pkg.$version.snupkg" ]; then
      # README and license inside, and the license declared
      /usr/bin/python3 - "$out/$pkg.$version.nupkg" "$pkg" <<'PY' || { log "$pkg: README, LICENSE or license expression missing"; ok=0; }
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
spec = z.read(sys.argv[2] + ".nuspec").decode()
sys.exit(0 if "README.md" in names and "LICENSE" in names and '<license type="expression">MIT</license>' in spec and "<readme>README.md</readme>" in spec else 1)
PY
    else
      log "$pkg.$version: package or symbols package missing"; ok=0
    fi
    # a package of this version cached by an earlier run would hide a broken one
    rm -rf "$HOME/.nuget/packages/$(tr '[:upper:]' '[:lower:]' <<<"$pkg")/$version"
  done
  if [ $ok = 1 ]; then
    work=$(mktemp -d)
    cp tests/PackageConsumer/*.cs tests/PackageConsumer/*.csproj tests/PackageConsumer/Directory.*.props "$work/"
    cat > "$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="pb-local" value="$out" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="pb-local"><package pattern="Pb.Core" /><package pattern="Pb.AspNetCore" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
CONFIG
    if (cd "$work" && dotnet run -c Release -p:PbVersion="$version" -nologo 2>&1 | tail -n 5); then
      log "the packages install and run in a fresh project"
    else
      log "the fresh project failed to restore, build or run against the packages"; ok=0
    fi
    rm -rf "$work"
  fi
  if [ $ok = 1 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

summary() {
  echo "tests: $PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
}

cmd_test() {
  if ! ensure_prereqs; then FAILED=1; summary; return 1; fi
  if ! build; then log "build failed"; FAILED=1; summary; return 1; fi
  local project
  for project in tests/*/*.csproj; do
    # every test project that holds tests (a project with none would report "no tests" as an error)
    grep -rqsE '\[(Fact|Theory)' --include='*.cs' "$(dirname "$project")" && run_dotnet_suite "$project"
  done
  run_npm_suites
  check_packages
  summary
}

cmd_demo() {
  ensure_prereqs || return 1
  # Development: the demo users (alice/wonderland, bob/builder) and the development signing key apply only there.
  local url=${PB_DEMO_URL:-http://127.0.0.1:5080}
  log "starting the demo on $url, PB over TCP on 127.0.0.1:${PB_DEMO_TCP_PORT:-8800} (Ctrl+C to stop)"
  ASPNETCORE_ENVIRONMENT=Development dotnet run --project samples/WebDemo/WebDemo.csproj -c "$CONFIG" --no-launch-profile -- \
    --urls "$url" --PerspectiveBroker:TcpPort="${PB_DEMO_TCP_PORT:-8800}"
}

cmd_demo_scaleout() {
  # Two demo nodes sharing their rooms through Redis (docs/scale-out.md): node A on :5080 (PB TCP 8800), node B on
  # :5081 (PB TCP 8801), and a Redis of its own on 127.0.0.1:${PB_DEMO_REDIS_PORT:-6379} (persistence off) unless one
  # answers there already. Sign in as alice on one and bob on the other. Ctrl+C stops all three.
  ensure_prereqs || return 1
  local port=${PB_DEMO_REDIS_PORT:-6379} pids=()
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "starting redis-server on 127.0.0.1:$port (persistence off)"
    /usr/bin/redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning & pids+=($!)
  fi
  dotnet build samples/WebDemo/WebDemo.csproj -c "$CONFIG" -nologo -v:quiet || return 1
  trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' INT TERM EXIT
  local node
  for node in "5080 8800" "5081 8801"; do
    set -- $node
    log "starting a demo node on http://127.0.0.1:$1 (PB over TCP on $2), rooms on Redis 127.0.0.1:$port"
    ASPNETCORE_ENVIRONMENT=Development dotnet run --project samples/WebDemo/WebDemo.csproj -c "$CONFIG" --no-build --no-launch-profile -- \
      --urls "http://127.0.0.1:$1" --PerspectiveBroker:TcpPort="$2" --Redis="127.0.0.1:$port" & pids+=($!)
  done
  wait
}

cmd_public_api() {
  # Adds every public symbol the PublicApiAnalyzers report as undeclared (RS0016) to its project's
  # PublicAPI.Unshipped.txt; review the diff like any other API change.
  local project dir lines
  for project in src/Pb.Core/Pb.Core.csproj src/Pb.AspNetCore/Pb.AspNetCore.csproj src/Pb.AspNetCore.Redis/Pb.AspNetCore.Redis.csproj; do
    dir=$(dirname "$project")
    lines=$(dotnet build "$project" -c "$CONFIG" --no-incremental -nologo 2>&1 | grep "error RS0016" | grep "\[$ROOT/$dir/" \
      | sed -E "s/.*Symbol '(.*)' is not part of the declared public API.*/\1/" | sort -u)
    [ -n "$lines" ] && { printf '%s\n' "$lines" >> "$dir/PublicAPI.Unshipped.txt"; log "$dir: $(wc -l <<<"$lines") symbols added"; }
  done
  return 0
}

cmd_bench() {
  dotnet run --project bench/Pb.Benchmarks/Pb.Benchmarks.csproj -c Release -- "$@"
}

case "${1:-}" in
  test) cmd_test ;;
  demo) cmd_demo ;;
  demo-scaleout) cmd_demo_scaleout ;;
  build) ensure_prereqs && build ;;
  pack) PASSED=0; FAILED=0; check_packages; summary ;;
  bench) shift; cmd_bench "$@" ;;
  public-api) cmd_public_api ;;
  *) echo "usage: ./build.sh test | demo | demo-scaleout | build | bench [BenchmarkDotNet args]" >&2; exit 2 ;;
esac
