#!/bin/sh
# The layering, checked on every test run: bus <- core <- hubd, bus <- adapters, and the
# SDK's installed headers include only themselves and bus/status.h. A file that includes
# across a line the layering forbids is named with the line, and the check fails.
#   check.sh SOURCE_DIR
set -u
cd "$1" || exit 2
status=0

# forbid DIR PATTERN WHY: no file under DIR may include a header matching PATTERN.
forbid() {
  found=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" "$1" \
    --include='*.h' --include='*.cpp' 2>/dev/null)
  if [ -n "$found" ]; then
    echo "layering: $1 must not include $2 ($3):"
    echo "$found" | sed 's/^/  /'
    status=1
  fi
}

forbid bus 'core/|adapters/|modules/|hub/' "the bus knows nothing of modules, services or tools"
forbid core 'adapters/|modules/' "hubd does not depend on its tools or on modules"
forbid adapters 'core/|modules/' "tools and the SDK speak to hubd through the bus and its API only"
# only DIR WHY: files under DIR include, of the project's headers, only what the SDK
# installs (hub/sdk.h, hub/event.h, bus/status.h, bus/text.h).
only_sdk() {
  found=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](bus|core|adapters|hub|hubctl|bus_tap)/' \
    "$1" --include='*.h' --include='*.cpp' 2>/dev/null |
    grep -vE '[<"](hub/(sdk|event)\.h|bus/status\.h|bus/text\.h)[>"]')
  if [ -n "$found" ]; then
    echo "layering: $1 includes only what the SDK installs ($2):"
    echo "$found" | sed 's/^/  /'
    status=1
  fi
}
only_sdk modules "modules are built as a module author builds one"
only_sdk adapters/sdk/include "the installed headers must compile where only they are installed"
# Every include names its file from the top of the tree, never by climbing out of it.
climbing=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*\.\./' bus core adapters modules \
  --include='*.h' --include='*.cpp')
if [ -n "$climbing" ]; then
  echo "layering: includes with '..' in them (name the file from the top of the tree):"
  echo "$climbing" | sed 's/^/  /'
  status=1
fi

[ "$status" -eq 0 ] && echo "layering: ok"
exit "$status"
