#!/bin/sh
# Finch under tmux with a temporary config dir (the demo's), and `make demo` itself. TAP on stdout.
exec python3 "$(dirname "$0")/finch.py" "$@"
