#include "core/modules/module_parts.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "core/system/files.h"

namespace hub {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const std::string& os_name() {
  static const std::string name = [] {
    struct utsname u {};
    return ::uname(&u) == 0 ? lower(u.sysname) : std::string("linux");
  }();
  return name;
}

fs::path os_dir(const fs::path& module_dir) { return module_dir / "os" / os_name(); }

std::vector<fs::path> jars_in(const fs::path& dir) {
  std::error_code error;
  std::vector<fs::path> jars;
  for (const auto& entry : visible_entries(dir, error)) {
    std::error_code ec;
    if (entry.extension() == ".jar" && fs::is_regular_file(entry, ec)) jars.push_back(entry);
  }
  return jars;  // visible_entries gives them in byte order
}

std::vector<std::string> unprefixed_apps(const fs::path& module_dir, const std::string& module) {
  std::error_code error;
  std::vector<std::string> out;
  const std::string prefix = lower(module);
  for (const auto& entry : visible_entries(module_dir / "system/apps", error)) {
    const std::string name = entry.filename().string();
    if (lower(name).rfind(prefix, 0) != 0) out.push_back(name);
  }
  return out;
}

std::string templates_digest(const fs::path& module_dir) {
  constexpr size_t kMaxTemplate = 1024 * 1024;
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(module_dir / "templates", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code type;
    if (it->is_regular_file(type)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::string digest;
  for (const auto& file : files) {
    const auto text = read_small_file(file, kMaxTemplate);
    const std::string content = text ? *text : "unreadable: " + text.error();
    digest += file.lexically_relative(module_dir).string() + ' ' +
              std::to_string(std::hash<std::string>{}(content)) + '\n';
  }
  return digest;
}

}  // namespace hub
