#!/bin/sh
# Install what `make fuzz`, `make check-asan` and `make check-valgrind` need when it is missing
# (Debian, as root: CI and the developers' machines): clang with its runtimes (libFuzzer, ASan,
# UBSan) and valgrind. Does nothing when they are there; says what to install otherwise.
set -eu
need=""
command -v clang >/dev/null 2>&1 || need="$need clang"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need="$need libclang-rt-14-dev"
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing:$need"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
else
  echo "missing:$need (install them, e.g. apt-get install$need)" >&2
  exit 1
fi
