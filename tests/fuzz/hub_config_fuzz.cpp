// hub.yml on arbitrary text, loaded from a file as hubd loads it: every problem is an
// error naming where, never a crash or an exception that escapes.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/config/hub_config.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = hub::fuzz::write_input("hub.yml", data, size);
  auto config = hub::load_hub_config(file);
  if (!config && config.error().empty()) __builtin_trap();
  return 0;
}
