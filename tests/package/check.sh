#!/bin/sh
# The Debian package, end to end, in a throw-away root: cpack builds it from BUILD_DIR,
# lintian checks it, dpkg installs it into ROOT (--root, its maintainer scripts run with
# DPKG_ROOT=ROOT: the hub group and the directories are made under ROOT, never on this
# system), the installed hubd runs on the installed layout until the installed bus-tap
# sees Hub/startup, it stops cleanly, and a purge removes the state.
#   check.sh BUILD_DIR
# Prints the package's size and the installed hubd's. Needs root (dpkg --root); exits 77
# (skipped) without it.
set -eu
build=$(CDPATH= cd -- "$1" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "package test: needs root for dpkg --root, skipped"; exit 77; }
work=$(mktemp -d /tmp/hubdeb.XXXXXX)
hubd_pid=""
cleanup() {
  [ -n "$hubd_pid" ] && kill -KILL "$hubd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
host_groups=$(md5sum /etc/group)

# --- Build and vet the packages ---
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/cpack" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$work"/cpack/hub_*.deb)
dev=$(ls "$work"/cpack/hub-dev_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
for library in libc6 libstdc++6 libzmq5 libyaml-cpp0.7 libmosquitto1 passwd; do
  echo "$depends" | grep -q "$library" || fail "Depends lacks $library: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | grep -qx /etc/hub/hub.yml ||
  fail "/etc/hub/hub.yml is not a conffile"
lintian --fail-on error,warning \
  "$deb" "$dev" >"$work/lintian.log" 2>&1 || { cat "$work/lintian.log" >&2; fail "lintian"; }

# --- Install into a throw-away root ---
root=$work/root
mkdir -p "$root/etc" "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
echo "root:*::" >"$root/etc/gshadow"
dpkg_root() {
  dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null "$@" \
    >>"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg $*"; }
}
dpkg_root -i "$deb"
[ "$(md5sum /etc/group)" = "$host_groups" ] || fail "the host's /etc/group changed"

# Owners and modes, as the maintainer scripts and the package leave them.
gid=$(awk -F: '$1 == "hub" { print $3 }' "$root/etc/group")
[ -n "$gid" ] || fail "no hub group in the root's /etc/group"
expect() {  # expect PATH OWNER:GROUP MODE
  got=$(stat -c '%u:%g %a' "$root$1")
  [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}
expect /var/lib/hub "0:$gid" 750
expect /var/lib/hub/data "0:$gid" 750
expect /var/log/hub 0:0 755
expect /etc/hub 0:0 755
expect /etc/hub/hub.yml 0:0 644
expect /etc/hub/modules 0:0 755
expect /usr/bin/hubd 0:0 755
expect /usr/lib/hub/modules/system/Bridge/os/linux/programs/bridge 0:0 755
expect /usr/lib/hub/modules/system/Console/os/linux/programs/console 0:0 755
expect /lib/systemd/system/hubd.service 0:0 644
[ -e "$root/usr/lib/hub/modules/system/Timer" ] && fail "Timer is enabled: it is an example"
[ -x "$root/usr/lib/hub/examples/modules/system/Timer/os/linux/programs/timer" ] ||
  fail "the Timer example has no program"
for page in man1/hubctl.1 man1/bus-tap.1 man5/hub.yml.5 man7/hub-modules.7 man8/hubd.8; do
  [ -s "$root/usr/share/man/$page.gz" ] || fail "no man page $page"
done
readelf -S "$root/usr/bin/hubd" | grep -q "\.symtab" && fail "hubd is not stripped"
hubd_size=$(stat -c %s "$root/usr/bin/hubd")

# --- Run the installed hub on the installed layout ---
config=$root/etc/hub/hub.yml
if ! getent group hub >/dev/null; then
  # hubd resolves services.group on this system, which has no hub group (the package made
  # it in the root only): the installed file, with root's group instead.
  config=$work/hub.yml
  sed 's/^  group: hub$/  group: root/' "$root/etc/hub/hub.yml" >"$config"
fi
"$root/usr/bin/hubd" --root "$root" --config "$config" >"$work/hubd.log" 2>&1 &
hubd_pid=$!
running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
# bus-tap needs the hub's credential, which hubd writes as it starts: tried until it
# answers, hubd exits, or 30 s pass.
deadline=$(($(date +%s) + 30))
until "$root/usr/bin/bus-tap" --root "$root" -C 1 -W 10 Hub/startup >"$work/tap" 2>&1; do
  if ! running "$hubd_pid"; then
    hubd_pid=""
    cat "$work/hubd.log" >&2
    fail "the installed hubd exited"
  fi
  [ "$(date +%s)" -lt "$deadline" ] || { cat "$work/hubd.log" "$work/tap" >&2; fail "no Hub/startup"; }
  sleep 0.1
done
grep -q "Hub/startup" "$work/tap" || fail "no Hub/startup: $(cat "$work/tap")"
[ -n "$(find "$root/run/hub" -type s 2>/dev/null)" ] || fail "no socket in run/hub"
[ -d "$root/var/lib/hub/db/journal" ] || fail "no journal in var/lib/hub/db"
expect /var/lib/hub/db "0:0" 750
[ -s "$root/var/log/hub/hubd.log" ] || fail "no var/log/hub/hubd.log"
kill -TERM "$hubd_pid"
wait "$hubd_pid" || fail "hubd exited with $? on SIGTERM: $(cat "$work/hubd.log")"
hubd_pid=""

# --- Purge ---
dpkg_root -P hub
[ -e "$root/var/lib/hub" ] && fail "purge left var/lib/hub"
[ -e "$root/var/log/hub" ] && fail "purge left var/log/hub"
[ -e "$root/etc/hub/hub.yml" ] && fail "purge left etc/hub/hub.yml"
[ -e "$root/usr/bin/hubd" ] && fail "purge left usr/bin/hubd"
[ "$(md5sum /etc/group)" = "$host_groups" ] || fail "the host's /etc/group changed"

echo "package: $(basename "$deb") $(stat -c %s "$deb") bytes, hub-dev $(stat -c %s "$dev") bytes"
echo "installed hubd (stripped): $hubd_size bytes"
echo "package test: ok"
