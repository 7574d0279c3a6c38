#!/usr/bin/env bash
# Builds the fuzz harnesses with clang and libFuzzer (AddressSanitizer and UBSan on) and
# runs each for HUB_FUZZ_SECONDS (default 20) from the committed seed corpus. New inputs
# go to a scratch directory, never into the tree. A crash fails the run and names the
# input: commit it under regressions/NAME/ and the ordinary build replays it for ever.
#
#   tests/fuzz/run.sh SOURCE_DIR BUILD_DIR [NAME...]
set -euo pipefail
source_dir=$1
build_dir=$2
shift 2
seconds=${HUB_FUZZ_SECONDS:-20}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire module_info hub_config service_spec api_request template)

if ! command -v clang++ >/dev/null; then
  echo "fuzzers: clang++ is not installed (.ci/setup installs it)" >&2
  exit 1
fi
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER=clang++ -DHUB_FUZZ=ON -DHUB_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]/#/fuzz-}" >/dev/null

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for name in "${targets[@]}"; do
  mkdir -p "$scratch/$name/new" "$scratch/$name/crashes"
  corpus=$source_dir/tests/fuzz/corpus/$name
  regressions=$source_dir/tests/fuzz/regressions/$name
  inputs=("$scratch/$name/new" "$corpus")
  [ -d "$regressions" ] && inputs+=("$regressions")
  if "$build_dir/tests/fuzz/fuzz-$name" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=1024 -artifact_prefix="$scratch/$name/crashes/" -print_final_stats=1 \
      "${inputs[@]}" >"$scratch/$name/log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$name/log" | grep -o '[0-9]*$' || true)
    echo "fuzz-$name: ${runs:-?} inputs in ${seconds} s, no crash"
  else
    status=1
    echo "fuzz-$name: FAILED" >&2
    tail -40 "$scratch/$name/log" >&2
    for crash in "$scratch/$name/crashes"/*; do
      [ -e "$crash" ] || continue
      mkdir -p "$regressions"
      cp "$crash" "$regressions/"
      echo "fuzz-$name: the input is now $regressions/$(basename "$crash"): commit it" >&2
    done
  fi
done
exit $status
