#!/bin/sh
# Bitlbee in forking-daemon mode (-F, Debian's default) with the AMM plugin; includes the
# delivery-latency check over 100 messages (p99 <= 50 ms, docs/performance.md). TAP on stdout.
exec python3 "$(dirname "$0")/bitlbee.py" forking --latency 100 "$@"
