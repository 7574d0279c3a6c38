// A module's configuration: config/LEVEL/modules/NAME/*.yml (but service.yml, which
// overrides the module's service instead) merged across the config
// levels. Within a level, files merge in C-locale name order; across levels, the higher
// level wins. Maps merge key by key, deeply; lists and scalars replace.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/root_layout.h"
#include "bus/status.h"
#include "core/system/files.h"

namespace hub {

struct ModuleConfig {
  YAML::Node merged;  // an empty map when there is no config at all
  // hub.scripts.timeout: the module's own limit for its scripts. The `hub:` section is
  // the part of a module's config the hub itself reads; it is checked in each file, so a
  // mistake is reported with that file's name and line.
  std::optional<std::chrono::milliseconds> script_timeout;
};

// The module's config files in the order they merge: level by level, lowest precedence
// first, and in C-locale name order within a level; each ROOT/config/LEVEL/modules/NAME/
// *.yml but dot files and service.yml. Fails naming a directory that exists but cannot
// be read; with `fault`, also says there which.
Result<std::vector<std::filesystem::path>> module_config_files(
    const RootLayout& layout, const std::vector<std::string>& levels, const std::string& name,
    FileFault* fault = nullptr);

// Merges the module's config files (module_config_files). Fails naming the file, line and column of
// the first file that is not a regular file, not valid YAML (yaml_document.h: no key twice, bounded
// size and aliases), not a map of settings, or has a bad `hub:` section; with `fault`,
// also says there which file and line.
Result<ModuleConfig> merge_module_config(const RootLayout& layout,
                                         const std::vector<std::string>& levels,
                                         const std::string& name, FileFault* fault = nullptr);

// `over` merged onto `base` (neither is modified): maps merge deeply, `over` wins.
YAML::Node merge_yaml(const YAML::Node& base, const YAML::Node& over);

// `node` as the text of a YAML file (what a module's merged config file holds).
std::string yaml_text(const YAML::Node& node);

}  // namespace hub
