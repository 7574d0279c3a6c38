#include "core/module_config.h"

#include <algorithm>

#include "core/yaml_reader.h"

namespace hub {
namespace fs = std::filesystem;

YAML::Node merge_yaml(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& entry : over) {
    const std::string key = entry.first.Scalar();
    out[key] = merge_yaml(out[key], entry.second);
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
  reader.read_duration(scripts, "hub.scripts", "timeout", value, std::chrono::hours(24));
  if (reader.ok()) timeout = value;
}

}  // namespace

Result<ModuleConfig> merge_module_config(const fs::path& root,
                                         const std::vector<std::string>& levels,
                                         const std::string& name) {
  ModuleConfig result;
  YAML::Node merged(YAML::NodeType::Map);
  for (const auto& level : levels) {
    const fs::path dir = root / "config" / level / "modules" / name;
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
      return Status::error(dir.string() + ": cannot be read: " + ec.message());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      YamlReader reader(file.string());
      const YAML::Node node = reader.load_file(file.string());
      if (!reader.ok()) return reader.status();
      if (node.IsNull()) continue;  // an empty file adds nothing
      if (!node.IsMap()) {
        reader.problem(node, "", "expected a map of settings (key: value) at the top");
        return reader.status();
      }
      read_hub_section(reader, node, result.script_timeout);  // a later file wins, like the merge
      if (!reader.ok()) return reader.status();
      merged = merge_yaml(merged, node);
    }
  }
  result.merged = std::move(merged);
  return result;
}

}  // namespace hub
