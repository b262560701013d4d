#!/bin/sh
# Make sure the Debian packages a target needs are present.
#   ensure-deps.sh build|test|demo|bench
# As root on Debian, installs what is missing; otherwise prints the exact command and fails.
set -u
profile=${1:-build}

build_pkgs="build-essential pkg-config libpurple-dev libglib2.0-dev libjson-glib-dev libsoup-3.0-dev glib-networking openssl"
test_pkgs="$build_pkgs ca-certificates curl"
# The test profile also covers the real-client tests (tests/clients/, tests/e2e/e2e-proxy.c):
#   finch pidgin bitlbee-libpurple bitlbee-common xvfb xauth tmux dbus imagemagick x11-apps
#   rpm rpm2cpio rpmlint cpio binutils tinyproxy microsocks python3
# (checked one by one below, by the exact file each test runs).
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
  test)
    need_cmd curl curl; need_file /etc/ssl/certs/ca-certificates.crt ca-certificates
    # exact paths: /usr/local/bin may hold look-alikes (a stand-in `convert`, a pyenv `python3`)
    need_file /usr/bin/finch finch
    need_file /usr/bin/pidgin pidgin
    # the libpurple build of Bitlbee (plain `bitlbee` uses libevent and conflicts with it)
    dpkg-query -W -f='${Status}' bitlbee-libpurple 2>/dev/null | grep -q 'install ok installed' \
      || missing="$missing bitlbee-libpurple bitlbee-common"
    need_file /usr/sbin/bitlbee bitlbee-libpurple
    need_file /usr/bin/Xvfb xvfb; need_file /usr/bin/xvfb-run xvfb; need_file /usr/bin/xauth xauth
    need_file /usr/bin/tmux tmux
    need_file /usr/bin/dbus-run-session dbus; need_file /usr/bin/dbus-send dbus
    need_file /usr/bin/import imagemagick; need_file /usr/bin/convert imagemagick
    need_file /usr/bin/xwd x11-apps
    need_file /usr/bin/rpmbuild rpm; need_file /usr/bin/rpm2cpio rpm2cpio; need_file /usr/bin/rpmlint rpmlint
    need_cmd cpio cpio; need_file /usr/bin/nm binutils
    need_file /usr/bin/tinyproxy tinyproxy; need_file /usr/bin/microsocks microsocks
    need_file /usr/bin/python3 python3
    ;;
  demo) need_file /usr/bin/finch finch; need_file /usr/bin/tmux tmux ;;
  # make bench: bench-scale draws docs/growth.png with gnuplot; the idle figures use strace
  bench) need_cmd curl curl; need_file /usr/bin/gnuplot gnuplot-nox ;;
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
