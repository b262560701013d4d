#!/bin/sh
# Make sure the Debian packages a target needs are present.
#   ensure-deps.sh build|test|demo
# As root on Debian, installs what is missing; otherwise prints the exact command and fails.
set -u
profile=${1:-build}

build_pkgs="build-essential pkg-config libpurple-dev libglib2.0-dev libjson-glib-dev libsoup-3.0-dev glib-networking openssl"
test_pkgs="$build_pkgs ca-certificates curl"
demo_pkgs="$build_pkgs finch tmux"

missing=""
need_pc() { $PKG_CONFIG_BIN --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_file() { [ -e "$1" ] || missing="$missing $2"; }
PKG_CONFIG_BIN=${PKG_CONFIG:-pkg-config}

need_cmd cc build-essential
need_cmd make build-essential
need_cmd pkg-config pkg-config
need_cmd openssl openssl
if command -v pkg-config >/dev/null 2>&1; then
  need_pc purple libpurple-dev
  need_pc glib-2.0 libglib2.0-dev
  need_pc libsoup-3.0 libsoup-3.0-dev
  need_pc json-glib-1.0 libjson-glib-dev
fi
# glib-networking provides TLS for GIO
ls /usr/lib/*/gio/modules/libgiognutls.so >/dev/null 2>&1 || missing="$missing glib-networking"
case $profile in
  test) need_cmd curl curl; need_file /etc/ssl/certs/ca-certificates.crt ca-certificates ;;
  demo) need_cmd finch finch; need_cmd tmux tmux ;;
esac

[ -z "$missing" ] && exit 0

pkgs=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deps: installing missing packages: $pkgs"
  sh -c "$cmd" || { echo "ensure-deps: installation failed; run: $cmd" >&2; exit 1; }
else
  echo "ensure-deps: missing Debian packages: $pkgs" >&2
  echo "ensure-deps: install them with (as root):" >&2
  echo "  $cmd" >&2
  exit 1
fi
