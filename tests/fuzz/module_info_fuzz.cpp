// A module's info files on arbitrary text: depends.txt and version.txt parsers, and the
// module name check. A parse either succeeds with sane values or says what is wrong.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/modules/module_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hub::DependsProblem problem;
  if (auto deps = hub::parse_depends(text, &problem)) {
    for (const auto& d : *deps) {
      if (hub::module_name_problem(d.name)) __builtin_trap();  // only valid names get through
      (void)d.requirement();
    }
  } else if (problem.message.empty()) {
    __builtin_trap();  // a failure always says why
  }
  if (auto v = hub::parse_version(text)) (void)v->str();
  (void)hub::module_name_problem(text);
  return 0;
}
