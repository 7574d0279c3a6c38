#include "core/module_environment.h"

#include <cstring>
#include <map>

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

}  // namespace

fs::path module_run_dir(const fs::path& root, const std::string& name) {
  return root / "var/run/hub/modules" / name;
}

fs::path script_credential_file(const fs::path& root, const std::string& name) {
  return module_run_dir(root, name) / "credential";
}

fs::path script_log_file(const fs::path& root, const std::string& name) {
  return root / "var/log/hub/scripts" / ((name.empty() ? std::string("_site") : name) + ".log");
}

fs::path script_record_dir(const fs::path& root) { return root / "var/run/hub/scripts"; }

fs::path module_config_file(const fs::path& root, const std::string& name) {
  return module_run_dir(root, name) / "config.yml";
}

namespace {

std::vector<std::string> build_environment(
    const fs::path& root, const Module* module,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr || std::strncmp(*e, "HUB_", 4) == 0) continue;
    env[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
  }
  if (env.count("PATH") == 0) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  env["HUB_ROOT"] = root.string();
  if (module != nullptr) {
    const Module& m = *module;
    env["PATH"] =
        search_path({m.dir / "os/linux/programs", m.dir / "os/linux/tools", m.dir / "system/apps"},
                    env["PATH"].c_str());
    const char* libs = env.count("LD_LIBRARY_PATH") ? env["LD_LIBRARY_PATH"].c_str() : nullptr;
    const std::string lib_path = search_path({m.dir / "os/linux/lib"}, libs);
    if (!lib_path.empty()) env["LD_LIBRARY_PATH"] = lib_path;
    env["HUB_MODULE"] = m.name;
    env["HUB_MODULE_DIR"] = m.dir.string();
    env["HUB_MODULE_LEVEL"] = m.level;
    env["HUB_MODULE_VERSION"] = m.version.str();
    env["HUB_MODULE_CONFIG"] = module_config_file(root, m.name).string();
    env["HUB_DATA_DIR"] = (root / "data" / m.name).string();
  }
  for (const auto& [key, value] : extra) env[key] = value;

  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

}  // namespace

std::vector<std::string> module_environment(
    const fs::path& root, const Module& module,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  return build_environment(root, &module, extra);
}

std::vector<std::string> site_environment(
    const fs::path& root, const std::vector<std::pair<std::string, std::string>>& extra) {
  return build_environment(root, nullptr, extra);
}

}  // namespace hub
