#!/bin/sh
# make demo: the bundled AMM server on loopback (HTTPS, seeded users, a scripted "bob" who answers),
# and Finch with a throw-away config dir in which alice's AMM account is already set up.
set -eu
B=${AMM_BUILD_DIR:-$(pwd)/build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/purple-amm-demo.XXXXXX")
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
  echo "demo: stopped the AMM server and removed $work"
}
trap cleanup EXIT INT TERM

"$B/amm-server" --tls --cert "$B/tls/server.pem" --key "$B/tls/server-key.pem" \
  --seed "$SRC/tests/amm-server/seed.json" --state "$work/state.json" \
  --port 0 --control-port 0 --port-file "$work/ports" --bot bob@example.com \
  2>"$work/server.log" &
server_pid=$!
i=0
while [ ! -s "$work/ports" ]; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: the server did not start; see $work/server.log" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
read -r port control <"$work/ports"

# bob says hello first, so there is something to answer
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"from":"bob@example.com","to":["alice@example.com"],"body":"Hi Alice! I am a scripted bob: write to me and I answer."}' \
  "http://127.0.0.1:$control/control/send"

cfg="$work/finch"
# the same config writer the Finch and Pidgin tests use (tests/clients/test-finch.sh runs this demo)
sh "$SRC/tests/clients/purple-config.sh" "$cfg" gnt-purple "$port" "$B/tls/ca.pem" "$B/libamm.so"

cat <<MSG
demo: AMM server (HTTPS, test CA) on https://127.0.0.1:$port, control port $control, pid $server_pid
demo: users alice@example.com / alice-pw, bob@example.com / bob-pw (bob answers every message),
      carol@example.com / carol-pw, dave@example.com / dave-pw
demo: server log: $work/server.log
demo: starting Finch as alice (config $cfg). Open bob from the buddy list and chat.
      Quit Finch with Alt-Q (or Ctrl-C here); the server stops with it.
MSG
sleep 2
finch -c "$cfg"
