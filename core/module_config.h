// A module's configuration: config/LEVEL/modules/NAME/*.yml merged across the config
// levels. Within a level, files merge in C-locale name order; across levels, the higher
// level wins. Maps merge key by key, deeply; lists and scalars replace.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"

namespace hub {

// Returns the merged config (an empty map when there is none). Fails naming the file,
// line and column of the first file that is not valid YAML or not a map of settings.
Result<YAML::Node> merge_module_config(const std::filesystem::path& root,
                                       const std::vector<std::string>& levels,
                                       const std::string& name);

// `over` merged onto `base` (neither is modified): maps merge deeply, `over` wins.
YAML::Node merge_yaml(const YAML::Node& base, const YAML::Node& over);

}  // namespace hub
