// What a module's templates see (docs/TEMPLATES.md): the module's merged configuration
// (all levels; a dotted key "a.b.c" becomes nested maps, so <a.b.c> works), `hub`
// {root, levels, version}, `module` {name, level, version, dir} and, for a service
// instance, `instance` {name, workspace, ports}.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/modules/module_loader.h"

namespace hub::templates {

struct HubFacts {
  std::filesystem::path root;
  std::vector<std::string> levels;  // lowest precedence first
  std::string version;              // hubd's version
};

struct InstanceFacts {
  std::string name;  // NAME, or NAME.X
  std::filesystem::path workspace;
  YAML::Node ports;  // a map of the ports the instance asked for; null: none
};

// A new map (CONFIG and the facts are copied, never aliased). Keys of CONFIG named `hub`,
// `module` or `instance` are replaced by the facts. `instance` is absent when null.
YAML::Node template_attributes(const Module& module, const YAML::Node& config, const HubFacts& hub,
                               const InstanceFacts* instance = nullptr);

// CONFIG with every dotted key "a.b.c: v" (at any depth) turned into nested maps
// {a: {b: {c: v}}}, merged with what is already there (an explicit nested key wins).
YAML::Node nest_dotted_keys(const YAML::Node& config);

}  // namespace hub::templates
