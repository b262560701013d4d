#!/bin/sh
# Pidgin under Xvfb in a private D-Bus session (dbus-run-session): sign-on, an IM, a group
# conversation, screenshots. TAP on stdout.
exec dbus-run-session -- python3 "$(dirname "$0")/pidgin.py" "$@"
