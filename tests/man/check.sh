#!/bin/sh
# The tools' --help and their man pages say the same: each tool prints exactly the help
# blocks of its man source (man/TOOL.N.md), each page renders without a groff warning and
# shows every option of those blocks, and --version prints "TOOL VERSION".
#   check.sh SOURCE_DIR BUILD_DIR VERSION
set -eu
src=$1
build=$2
version=$3
mangen="python3 $src/man/mangen.py"
work=$(mktemp -d /tmp/hubman.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0

fail() {
  echo "FAIL: $*" >&2
  status=1
}

# same WHAT EXPECTED_FILE COMMAND...: the command's stdout is the file, byte for byte.
same() {
  what=$1 expected=$2
  shift 2
  if ! "$@" >"$work/got" 2>"$work/err"; then
    fail "$what: exited non-zero: $(cat "$work/err")"
  elif ! cmp -s "$expected" "$work/got"; then
    fail "$what differs from its man source:"
    diff -u "$expected" "$work/got" >&2 || true
  fi
}

for entry in core/hubd:hubd.8 adapters/hubctl:hubctl.1 adapters/bus-tap:bus-tap.1; do
  program=$build/${entry%%:*}
  page=${entry#*:}
  tool=$(basename "$program")
  $mangen help "$src/man/$page.md" >"$work/help"
  same "$tool --help" "$work/help" "$program" --help
  echo "$tool $version" >"$work/version"
  same "$tool --version" "$work/version" "$program" --version

  # The page: no groff warning, and every option of the help text on it.
  gzip -dc "$build/man/$page.gz" >"$work/page"
  LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -P-cbou "$work/page" 2>"$work/warnings" >"$work/text"
  [ -s "$work/warnings" ] && fail "$page: groff says: $(cat "$work/warnings")"
  for option in $(grep -oE -- '--[a-z][a-z-]*' "$work/help" | sort -u); do
    grep -qF -- "$option" "$work/text" || fail "$page does not show $option"
  done
done

# hubctl's commands: `hubctl help CMD` and `hubctl CMD --help` are the page's blocks.
for command in status inspect pid avail start stop restart signal enable disable reload reread \
  publish logs tail keygen; do
  $mangen help "$src/man/hubctl.1.md" "$command" >"$work/help"
  same "hubctl help $command" "$work/help" "$build/adapters/hubctl" help "$command"
  same "hubctl $command --help" "$work/help" "$build/adapters/hubctl" "$command" --help
done

for page in hub.yml.5 hub-modules.7; do
  gzip -dc "$build/man/$page.gz" >"$work/page"
  LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$work/page" 2>"$work/warnings"
  [ -s "$work/warnings" ] && fail "$page: groff says: $(cat "$work/warnings")"
done

[ "$status" -eq 0 ] && echo "help texts and man pages agree: ok"
exit "$status"
