#include "core/modules/module_config.h"

#include <algorithm>
#include <map>
#include <set>

#include "bus/root_layout.h"
#include "core/config/hub_config.h"
#include "core/config/yaml_reader.h"

namespace hub {
namespace fs = std::filesystem;

std::string yaml_text(const YAML::Node& node) {
  YAML::Emitter yaml;
  yaml << node;
  return std::string(yaml.c_str()) + "\n";
}

YAML::Node merge_yaml(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  // Each node of either side is visited once (a map's lookup by key is a linear scan in
  // yaml-cpp, so keys are indexed here): linear in what parse_yaml bounded.
  std::map<std::string, YAML::Node> replacing;
  for (const auto& entry : over) replacing.emplace(entry.first.Scalar(), entry.second);
  YAML::Node out(YAML::NodeType::Map);
  out.SetStyle(base.Style());  // as Clone would: the text of equal definitions stays equal
  std::set<std::string> kept;
  for (const auto& entry : base) {
    const std::string key = entry.first.Scalar();
    kept.insert(key);
    const auto it = replacing.find(key);
    out.force_insert(key, it == replacing.end() ? YAML::Clone(entry.second)
                                                : merge_yaml(entry.second, it->second));
  }
  for (const auto& entry : over) {
    const std::string key = entry.first.Scalar();
    if (kept.insert(key).second) out.force_insert(key, YAML::Clone(entry.second));
  }
  return out;
}

namespace {

// Reads the `hub:` section of one config file into `timeout`; problems go to `reader`.
void read_hub_section(YamlReader& reader, const YAML::Node& config,
                      std::optional<std::chrono::milliseconds>& timeout) {
  const YAML::Node hub = config["hub"];
  if (!hub || !reader.expect_map(hub, "hub", {"scripts"})) return;
  const YAML::Node scripts = hub["scripts"];
  if (!scripts || !reader.expect_map(scripts, "hub.scripts", {"timeout"}) || !scripts["timeout"])
    return;
  std::chrono::milliseconds value{0};
  reader.read_duration(scripts, "hub.scripts", "timeout", value, kMinScriptTimeout,
                       std::chrono::hours(24));
  if (reader.ok()) timeout = value;
}

}  // namespace

Result<std::vector<fs::path>> module_config_files(const RootLayout& layout,
                                                  const std::vector<std::string>& levels,
                                                  const std::string& name, FileFault* fault) {
  std::vector<fs::path> all;
  for (const auto& level : levels) {
    const fs::path dir = layout.module_config_dir(level, name);
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string file = it->path().filename().string();
      // service.yml overrides the module's service definition (service_spec.h) instead.
      if (file.size() > 4 && file.compare(file.size() - 4, 4, ".yml") == 0 && file[0] != '.' &&
          file != "service.yml") {
        files.push_back(it->path());
      }
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      if (fault != nullptr) *fault = FileFault{dir, 0};
      return Status::error(dir.string() + ": cannot be read: " + ec.message());
    }
    std::sort(files.begin(), files.end());
    all.insert(all.end(), files.begin(), files.end());
  }
  return all;
}

Result<ModuleConfig> merge_module_config(const RootLayout& layout,
                                         const std::vector<std::string>& levels,
                                         const std::string& name, FileFault* fault) {
  auto files = module_config_files(layout, levels, name, fault);
  if (!files) return files.status();
  ModuleConfig result;
  YAML::Node merged(YAML::NodeType::Map);
  for (const auto& file : *files) {
    YamlReader reader(file.string());
    const auto failed = [&] {
      if (fault != nullptr) *fault = reader.fault();
      return reader.status();
    };
    const YAML::Node node = reader.load_file(file.string());
    if (!reader.ok()) return failed();
    if (node.IsNull()) continue;  // an empty file adds nothing
    if (!node.IsMap()) {
      reader.problem(node, "", "expected a map of settings (key: value) at the top");
      return failed();
    }
    read_hub_section(reader, node, result.script_timeout);  // a later file wins, like the merge
    if (!reader.ok()) return failed();
    merged = merge_yaml(merged, node);
  }
  result.merged = std::move(merged);
  return result;
}

}  // namespace hub
