#!/bin/sh
# Bitlbee (bitlbee-libpurple) in inetd mode (-I, one process per accepted socket) with the AMM
# plugin from a temporary PluginDir; a scripted IRC client. TAP on stdout.
exec python3 "$(dirname "$0")/bitlbee.py" inetd "$@"
