#!/bin/sh
# Run each libFuzzer target for $FUZZ_SECONDS from its committed seeds (fuzz/corpus/<target>/,
# copied into a scratch corpus under $FUZZ_B so that the committed one stays small), and print
# one line per target: executions, executions per second, final corpus size, crashes.
# Crash inputs are kept as $FUZZ_B/crashes/<target>/crash-*. Exits non-zero on any crash.
# Usage: fuzz/run.sh fuzz-resources fuzz-frame ...   (make fuzz-run passes all of them)
set -u
B=${FUZZ_B:-build-fuzz}
secs=${FUZZ_SECONDS:-20}
src=$(cd "$(dirname "$0")" && pwd)
failed=0; passed=0
mkdir -p "$B/fuzz-logs"
for t in "$@"; do
  name=${t#fuzz-}
  work="$B/corpus/$name"; crashes="$B/crashes/$name"; log="$B/fuzz-logs/$t.log"
  rm -rf "$work" "$crashes"; mkdir -p "$work" "$crashes"
  [ -d "$src/corpus/$name" ] && cp "$src/corpus/$name"/* "$work"/ 2>/dev/null
  G_SLICE=always-malloc ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$src/lsan.supp UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$B/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
            -artifact_prefix="$crashes/" "$work" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  ncrash=$(ls "$crashes" | wc -l | tr -d ' ')
  size=$(ls "$work" | wc -l | tr -d ' ')
  status=ok
  if [ "$rc" -ne 0 ] || [ "$ncrash" -gt 0 ]; then
    status="CRASH (exit $rc, see $log)"; failed=$((failed + 1))
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 5 | sed 's/^/    /'
  else
    passed=$((passed + 1))
  fi
  printf '%-24s %10s execs %8s/s  corpus %5s  crashes %s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "$size" "$ncrash" "$status"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
