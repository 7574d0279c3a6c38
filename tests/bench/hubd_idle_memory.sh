#!/usr/bin/env bash
# Idle hubd memory: starts hubd on a fresh temp root, waits until it reports it is up,
# lets it sit idle, and prints its resident (RSS) and proportional (PSS) memory.
#   tests/bench/hubd_idle_memory.sh [build/core/hubd] [idle seconds, default 2]
set -euo pipefail
hubd=${1:-build/core/hubd}
idle=${2:-2}
root=$(mktemp -d /tmp/hubmem.XXXXXX)
fifo="$root/stderr"
mkfifo "$fifo"
"$hubd" --root "$root" 2>"$fifo" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$root"' EXIT
# Wait for the event, not for a guess: the "hub is up" log line.
while IFS= read -r line; do
  case "$line" in *"hub is up"*) break ;; esac
done <"$fifo"
cat "$fifo" >/dev/null &  # keep draining stderr
sleep "$idle"             # the measurement is of an idle hub: let it idle
rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
pss=$(awk '/^Pss:/{print $2}' "/proc/$pid/smaps_rollup")
private=$(awk '/^Private_(Clean|Dirty):/{s+=$2} END{print s}' "/proc/$pid/smaps_rollup")
threads=$(ls "/proc/$pid/task" | wc -l)
awk -v idle="$idle" -v rss="$rss" -v pss="$pss" -v priv="$private" -v threads="$threads" 'BEGIN {
  printf "hubd idle after %ss: RSS %.1f MiB (target <= 8 MiB), PSS %.1f MiB, private %.1f MiB, %d threads\n",
         idle, rss / 1024, pss / 1024, priv / 1024, threads }'
