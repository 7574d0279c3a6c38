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
forbid modules 'core/' "modules are written against the SDK, not hubd's insides"
forbid adapters/sdk/include 'bus/(broker|journal|subscriber|publisher|wire|zap|replay|credentials)' \
  "the installed SDK headers carry no bus internals"

[ "$status" -eq 0 ] && echo "layering: ok"
exit "$status"
