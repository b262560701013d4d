#!/bin/sh
# Install, dist and RPM: `make install`/`uninstall` into a staging dir (DESTDIR, PREFIX), every
# file where Pidgin, Finch and Bitlbee look; `make dist`; `rpmbuild -ta` of that tarball
# (binary RPM, %check included) and rpmlint with purple-amm.rpmlintrc. TAP on stdout.
set -u
SRC=${AMM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${AMM_BUILD_DIR:-$SRC/build}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
work=$(mktemp -d "${TMPDIR:-/tmp}/amm-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done; }
check() { name=$1; shift; if "$@" >"$work/out" 2>&1; then ok "$name"; else notok "$name" "$(tail -n 30 "$work/out")"; fi; }

echo "1..8"
plugindir=$($PKG_CONFIG --variable=plugindir purple)
datadir=$($PKG_CONFIG --variable=datadir purple)
icons="16/amm.png 22/amm.png 48/amm.png scalable/amm.svg"
version=$(sed -n 's/^Version:[[:space:]]*//p' "$SRC/purple-amm.spec")

# 1. the default install: where libpurple (Pidgin, Finch, Bitlbee) looks
stage="$work/stage"
installed() {
  make -s -C "$SRC" install DESTDIR="$stage" >"$work/install.log" 2>&1 || { cat "$work/install.log"; return 1; }
  [ -f "$stage$plugindir/libamm.so" ] || { echo "no $stage$plugindir/libamm.so"; return 1; }
  for i in $icons; do
    [ -f "$stage$datadir/pixmaps/pidgin/protocols/$i" ] || { echo "no $stage$datadir/pixmaps/pidgin/protocols/$i"; return 1; }
  done
  cmp "$B/libamm.so" "$stage$plugindir/libamm.so" || return 1
  # nothing else was installed
  count=$(find "$stage" -type f | wc -l)
  [ "$count" -eq 5 ] || { find "$stage" -type f; return 1; }
  # Bitlbee (bitlbee-libpurple) loads from libpurple's plugindir: the same directory
  echo "plugindir=$plugindir datadir=$datadir"
}
check "make install DESTDIR=...: libamm.so in \`pkg-config --variable=plugindir purple\` ($plugindir), icons in $datadir/pixmaps/pidgin/protocols/{16,22,48,scalable}" installed

# 2. uninstall removes them
uninstalled() {
  make -s -C "$SRC" uninstall DESTDIR="$stage" || return 1
  left=$(find "$stage" -type f)
  [ -z "$left" ] || { echo "left: $left"; return 1; }
}
check "make uninstall DESTDIR=... removes every installed file" uninstalled

# 3. another PREFIX
prefixed() {
  make -s -C "$SRC" install DESTDIR="$stage" PREFIX=/opt/amm >/dev/null || return 1
  [ -f "$stage/opt/amm/lib/purple-2/libamm.so" ] || { find "$stage" -type f; return 1; }
  for i in $icons; do [ -f "$stage/opt/amm/share/pixmaps/pidgin/protocols/$i" ] || return 1; done
  make -s -C "$SRC" uninstall DESTDIR="$stage" PREFIX=/opt/amm || return 1
  [ -z "$(find "$stage" -type f)" ]
}
check "make install/uninstall PREFIX=/opt/amm: everything under the prefix, and removed again" prefixed

# 4. make dist
tarball="$SRC/purple-amm-$version.tar.gz"
disted() {
  rm -f "$tarball"
  make -s -C "$SRC" dist || return 1
  [ -f "$tarball" ] || return 1
  tar -tzf "$tarball" >"$work/list" || return 1
  for f in purple-amm.spec COPYING Makefile README.md src/purple/amm-prpl.c tests/make-tls.sh icons/scalable/amm.svg; do
    grep -qx "purple-amm-$version/$f" "$work/list" || { echo "missing $f"; return 1; }
  done
  ! grep -q "^purple-amm-$version/build/" "$work/list" || { echo "build/ in the tarball"; return 1; }
  mv "$tarball" "$work/"
}
check "make dist: purple-amm-$version.tar.gz with the sources, spec, COPYING and icons, without build/" disted

# 5. rpmbuild -ta (binary RPM from the tarball: builds standalone, runs %check)
rpmtop="$work/rpm"
rpmbuilt() {
  # Debian's rpm database has none of the BuildRequires (--nodeps) and no debugedit
  rpmbuild -ta --nodeps --define "_topdir $rpmtop" --define 'debug_package %{nil}' \
    "$work/purple-amm-$version.tar.gz" >"$work/rpmbuild.log" 2>&1 || { tail -n 40 "$work/rpmbuild.log"; return 1; }
  grep -E '^[a-z-]+ +[0-9]+ passed' "$work/rpmbuild.log"
  ls "$rpmtop"/RPMS/*/purple-amm-"$version"-*.rpm
}
check "rpmbuild -ta --nodeps purple-amm-$version.tar.gz builds the binary RPM (%check runs the unit tests)" rpmbuilt
rpmfile=$(ls "$rpmtop"/RPMS/*/purple-amm-"$version"-*.rpm 2>/dev/null | head -n 1)

# 6. the RPM's files
rpmfiles() {
  [ -n "$rpmfile" ] || return 1
  rpm -qlp "$rpmfile" >"$work/rpmlist" || return 1
  sed 's/^/  /' "$work/rpmlist"
  libdir=$(rpm --eval '%{_libdir}')
  for f in "$libdir/purple-2/libamm.so" /usr/share/pixmaps/pidgin/protocols/16/amm.png \
           /usr/share/pixmaps/pidgin/protocols/22/amm.png /usr/share/pixmaps/pidgin/protocols/48/amm.png \
           /usr/share/pixmaps/pidgin/protocols/scalable/amm.svg; do
    grep -qx "$f" "$work/rpmlist" || { echo "missing $f"; return 1; }
  done
  grep -q "/licenses/purple-amm.*/COPYING" "$work/rpmlist"
}
if rpmfiles >"$work/out" 2>&1; then
  ok "the RPM holds the plugin in %{_libdir}/purple-2, the four icons and the license"
  sed 's/^/# /' "$work/out"
else
  notok "the RPM holds the plugin in %{_libdir}/purple-2, the four icons and the license" "$(cat "$work/out")"
fi

# 7. rpmlint, with the findings filtered in purple-amm.rpmlintrc (each with its reason)
linted() {
  srpm=$(ls "$rpmtop"/SRPMS/purple-amm-"$version"-*.src.rpm)
  rpmlint --ignore-unused-rpmlintrc -r "$SRC/purple-amm.rpmlintrc" "$rpmfile" "$srpm" "$SRC/purple-amm.spec"
}
check "rpmlint: no errors or warnings beyond purple-amm.rpmlintrc's filters" linted

# 8. the RPM's plugin is the one the spec built, with the right soname-free plugin entry point
entry() {
  mkdir -p "$work/x" && cd "$work/x" && rpm2cpio "$rpmfile" | cpio -idm --quiet || return 1
  so=$(find "$work/x" -name libamm.so)
  nm -D --defined-only "$so" | grep -w purple_init_plugin
}
check "the RPM's libamm.so exports purple_init_plugin" entry
