// service.yml on arbitrary text, loaded as the loader does: a spec, or errors naming the
// file, line and key, never a crash or an exception that escapes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/services/service_spec.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path file = hub::fuzz::write_input("module/service.yml", data, size);
  const auto module_dir = file.parent_path();
  auto spec = hub::load_service_spec(module_dir.parent_path(), {}, module_dir, "Fuzz");
  if (!spec && spec.error().empty()) __builtin_trap();
  return 0;
}
