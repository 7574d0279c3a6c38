// A module template on arbitrary text, with an arbitrary group file beside it (the input up
// to its first NUL byte is the .st file, the rest g.stg, which the template imports when its
// text says so): a rendering, or an error naming file, line and column; never a crash, an
// exception that escapes, or a stack exhausted by nesting.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/templates/template_render.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  const std::string_view group = nul == std::string_view::npos ? "" : input.substr(nul + 1);
  const std::filesystem::path stg = hub::fuzz::write_input(
      "templates/g.stg", reinterpret_cast<const uint8_t*>(group.data()), group.size());
  static const YAML::Node attributes =
      YAML::Load("name: x\nport: 80\nflag: false\nlist: [a, ~, {k: v}]\nmap: {a: 1, b: [2]}\n");
  auto r = hub::templates::render_text(text, stg.parent_path() / "t.st", attributes);
  if (!r && r.error().empty()) __builtin_trap();
  return 0;
}
