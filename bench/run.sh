#!/bin/sh
# make bench: run every benchmark program in $AMM_BUILD_DIR/bench and print its figures.
set -u
B=${AMM_BUILD_DIR:-$(pwd)/build}
export AMM_SERVER="$B/amm-server"
export AMM_PLUGIN_DIR="$B"
export AMM_TLS_DIR="$B/tls"
export AMM_SOURCE_DIR="${AMM_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
export GIO_USE_PROXY_RESOLVER="${GIO_USE_PROXY_RESOLVER:-dummy}"
rc=0
for b in "$B"/bench/bench-*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b") =="
  "$b" "$@" || rc=1
done
exit $rc
