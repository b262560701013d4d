#!/bin/sh
# The e2e tests (headless libpurple + the plugin + the test server) under Valgrind memcheck:
# any memory error, or a definite leak not in tests/sanitizers/valgrind.supp, fails the program
# (--error-exitcode). The test server child is not traced (make check-asan checks it). The chaos
# run is smaller than make check's: AMM_CHAOS_MESSAGES (default here 500), AMM_CHAOS_RESTARTS (4).
# Ends with "N passed, N failed".
set -u
B=${AMM_BUILD_DIR:-$(pwd)/build}
src=$(cd "$(dirname "$0")/../.." && pwd)
export AMM_BUILD_DIR="$B" AMM_SERVER="$B/amm-server" AMM_PLUGIN_DIR="$B" AMM_TLS_DIR="$B/tls" AMM_SOURCE_DIR="$src"
export GIO_USE_PROXY_RESOLVER=dummy G_SLICE=always-malloc G_DEBUG="${G_DEBUG:-fatal-criticals}"
export AMM_CHAOS_MESSAGES="${AMM_CHAOS_MESSAGES:-500}" AMM_CHAOS_RESTARTS="${AMM_CHAOS_RESTARTS:-4}"
logs="$B/valgrind-logs"; mkdir -p "$logs"
passed=0; failed=0
for t in ${AMM_VALGRIND_TESTS:-"$B"/tests/e2e-*}; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  timeout -k 10 900 valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30 \
    --suppressions="$src/tests/sanitizers/valgrind.supp" --log-file="$logs/$name.valgrind" \
    "$t" --tap >"$logs/$name.log" 2>&1
  rc=$?
  p=$(grep -cE '^ok [0-9]+' "$logs/$name.log" | tr -d ' ')
  f=$(grep -cE '^not ok [0-9]+' "$logs/$name.log" | tr -d ' ')
  errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$logs/$name.valgrind" | tail -n 1)
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  printf '%-20s %3d passed, %d failed, valgrind errors %s (exit %d)\n' "$name" "$p" "$f" "${errs:-?}" "$rc"
  [ "$rc" -ne 0 ] && grep -E '^not ok|Invalid|uninitialised|definitely lost: [1-9]|are definitely lost' "$logs/$name.log" "$logs/$name.valgrind" | head -n 10 | sed 's/^/    /'
  passed=$((passed + p)); failed=$((failed + f))
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
