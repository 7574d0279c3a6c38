#include "core/modules/module_environment.h"

#include <cstring>
#include <map>

#include "bus/root_layout.h"
#include "core/modules/module_parts.h"

extern char** environ;

namespace hub {
namespace fs = std::filesystem;
namespace {

// Existing directories among `dirs`, joined with ':' in front of `inherited`.
std::string search_path(const std::vector<fs::path>& dirs, const char* inherited) {
  std::string out;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    if (!out.empty()) out += ':';
    out += dir.string();
  }
  if (inherited != nullptr && *inherited != '\0') {
    if (!out.empty()) out += ':';
    out += inherited;
  }
  return out;
}

// Every jar of `dirs` (each directory's in byte order), joined with ':' in front of
// `inherited`; a jar whose path holds a ':' is left out (Java cannot quote one).
std::string class_path(const std::vector<fs::path>& dirs, const std::string& inherited) {
  std::string out;
  for (const auto& dir : dirs) {
    for (const auto& jar : jars_in(dir)) {
      const std::string path = fs::absolute(jar).string();
      if (path.find(':') != std::string::npos) continue;  // CLASSPATH cannot hold it
      if (!out.empty()) out += ':';
      out += path;
    }
  }
  if (!inherited.empty()) {
    if (!out.empty()) out += ':';
    out += inherited;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>>& hub_variables() {
  static std::vector<std::pair<std::string, std::string>> variables;
  return variables;
}

std::vector<std::string> build_environment(
    const RootLayout& layout, const Module* module,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr || std::strncmp(*e, "HUB_", 4) == 0) continue;
    env[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
  }
  if (env.count("PATH") == 0) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  env["HUB_ROOT"] = layout.root().string();
  for (const auto& [key, value] : hub_variables()) env[key] = value;
  if (module != nullptr) {
    const Module& m = *module;
    const fs::path os = os_dir(m.dir);
    const fs::path system = layout.system_dir();
    env["PATH"] =
        search_path({os / "programs", os / "tools", m.dir / "system/apps", system / "apps"},
                    env["PATH"].c_str());
    const char* libs = env.count("LD_LIBRARY_PATH") ? env["LD_LIBRARY_PATH"].c_str() : nullptr;
    const std::string lib_path = search_path({os / "lib"}, libs);
    if (!lib_path.empty()) env["LD_LIBRARY_PATH"] = lib_path;
    const std::string jars = class_path({m.dir / "system/jars", os / "jars", system / "jars"},
                                        env.count("CLASSPATH") ? env["CLASSPATH"] : "");
    if (!jars.empty()) env["CLASSPATH"] = jars;
    std::error_code ec;
    if (fs::is_directory(os / "applications", ec))
      env["HUB_MODULE_APPLICATIONS"] = fs::absolute(os / "applications").string();
    env["HUB_MODULE"] = m.name;
    env["HUB_MODULE_DIR"] = m.dir.string();
    env["HUB_MODULE_LEVEL"] = m.level;
    env["HUB_MODULE_VERSION"] = m.version.str();
    env["HUB_MODULE_CONFIG"] = layout.module_config_file(m.name).string();
    env["HUB_DATA_DIR"] = layout.module_data_dir(m.name).string();
  }
  for (const auto& [key, value] : extra) env[key] = value;

  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

}  // namespace

void set_hub_environment(std::vector<std::pair<std::string, std::string>> variables) {
  hub_variables() = std::move(variables);
}

std::vector<std::string> module_environment(
    const RootLayout& layout, const Module& module,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  return build_environment(layout, &module, extra);
}

std::vector<std::string> site_environment(
    const RootLayout& layout, const std::vector<std::pair<std::string, std::string>>& extra) {
  return build_environment(layout, nullptr, extra);
}

}  // namespace hub
