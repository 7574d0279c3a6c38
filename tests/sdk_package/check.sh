#!/bin/sh
# Installs the SDK from BUILD_DIR into a temporary prefix, then configures and builds the
# outside project in this directory against it with find_package(hub), and runs the
# result once to see it is a program that links (it must refuse to run outside hubd).
#   check.sh BUILD_DIR
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/hubpkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" -j2 >/dev/null
if "$work/build/outside_module" 2>"$work/err"; then
  echo "outside_module ran outside hubd: expected a refusal" >&2
  exit 1
fi
grep -q "not started by hubd" "$work/err" || { cat "$work/err" >&2; exit 1; }
echo "outside project built against the installed SDK: ok"
