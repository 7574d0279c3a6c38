#!/bin/sh
# systemd-analyze verify on packaging/systemd/hubd.service: exit 0 and no warning, except
# an unknown DelegateSubgroup= on a systemd older than 254 (which ignores it by design).
# The unit is copied with ExecStart pointing at the hubd just built, since verify checks
# that the program exists. Skipped (77) only when systemd-analyze is not installed.
# usage: verify_unit.sh UNIT_FILE HUBD
set -eu
unit=$1
hubd=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/bin/hubd |ExecStart=$hubd |" "$unit" >"$dir/hubd.service"
grep -q "^ExecStart=$hubd " "$dir/hubd.service" || {
  echo "FAIL: no 'ExecStart=/usr/bin/hubd ...' line in $unit"
  exit 1
}
status=0
systemd-analyze verify --man=no --generators=no "$dir/hubd.service" >"$dir/out" 2>&1 || status=$?
cat "$dir/out"
if [ "$status" -ne 0 ]; then
  echo "FAIL: systemd-analyze verify exited $status"
  exit 1
fi
version=$(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
unexpected=$(grep -v "^$" "$dir/out" |
  { if [ "${version:-0}" -lt 254 ]; then grep -v "Unknown key '\{0,1\}DelegateSubgroup"; else cat; fi; } || true)
if [ -n "$unexpected" ]; then
  echo "FAIL: systemd-analyze verify warned:"
  echo "$unexpected"
  exit 1
fi
echo "ok: $unit verifies (systemd $version)"
