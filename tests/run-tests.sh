#!/bin/sh
# Run every test program under $AMM_BUILD_DIR/tests (GTest, TAP output) and every executable
# tests/clients/test-*.sh (TAP output), and print one closing line:
#   N passed, N failed, N skipped
# A program that crashes, hangs (timeout) or reports fewer results than it planned counts the
# missing ones as failed. Logs: $AMM_BUILD_DIR/test-logs/<program>.log
set -u
B=${AMM_BUILD_DIR:-$(pwd)/build}
export AMM_BUILD_DIR="$B"
export AMM_SERVER="$B/amm-server"
export AMM_PLUGIN_DIR="$B"
export AMM_TLS_DIR="$B/tls"
export AMM_SOURCE_DIR="${AMM_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
export G_DEBUG="${G_DEBUG:-fatal-criticals}"
# GIO's libproxy resolver module is not needed (and not wanted) in tests
export GIO_USE_PROXY_RESOLVER="${GIO_USE_PROXY_RESOLVER:-dummy}"
timeout_s=${AMM_TEST_TIMEOUT:-300}
logs="$B/test-logs"
mkdir -p "$logs"

passed=0; failed=0; skipped=0
# The real-client tests (Finch, Pidgin, Bitlbee, install/dist/rpm) are executable scripts that
# print TAP themselves: tests/clients/test-*.sh.
# AMM_CLIENT_TESTS=0 (make check-unit, the RPM's %check) leaves them out.
clients_dir="$AMM_SOURCE_DIR/tests/clients"
[ "${AMM_CLIENT_TESTS:-1}" = 0 ] && clients_dir=/nonexistent
for t in "$B"/tests/test-* "$B"/tests/e2e-* "$clients_dir"/test-*.sh; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  log="$logs/$name.log"
  case $t in
    *.sh) timeout -k 10 "$timeout_s" "$t" >"$log" 2>&1 ;;
    *)    timeout -k 10 "$timeout_s" "$t" --tap >"$log" 2>&1 ;;
  esac
  rc=$?
  p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
  s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log" | tr -d ' ')
  f=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
  p=$((p - s))
  plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
  ran=$((p + s + f))
  if [ -n "$plan" ] && [ "$ran" -lt "$plan" ]; then
    f=$((f + plan - ran))
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=$((f + 1))
  fi
  status="ok"
  [ "$f" -gt 0 ] && status="FAILED (exit $rc, see $log)"
  printf '%-28s %3d passed, %d failed, %d skipped  %s\n' "$name" "$p" "$f" "$s" "$status"
  if [ "$f" -gt 0 ]; then
    grep -E '^not ok|^# (Bail|Start of|End of)|ERROR|CRITICAL|\*\*' "$log" | head -n 20 | sed 's/^/    /'
  fi
  grep -E '^ok [0-9]+ .*# SKIP' "$log" | sed 's/^/    /'
  grep -E '^# (latency|outgoing) ' "$log" | sed 's/^/    /'
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
