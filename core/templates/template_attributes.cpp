#include "core/templates/template_attributes.h"

#include <utility>

#include "core/modules/module_config.h"

namespace hub::templates {

namespace {

// {a: {b: {c: VALUE}}} for the segments a, b, c.
YAML::Node nested(const std::vector<std::string>& segments, const YAML::Node& value) {
  YAML::Node node = value;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    YAML::Node outer(YAML::NodeType::Map);
    outer[*it] = node;
    node = outer;
  }
  return node;
}

std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> out;
  size_t from = 0;
  while (true) {
    const size_t dot = key.find('.', from);
    out.push_back(key.substr(from, dot == std::string::npos ? std::string::npos : dot - from));
    if (dot == std::string::npos) return out;
    from = dot + 1;
  }
}

bool splits(const std::string& key) {
  if (key.find('.') == std::string::npos) return false;
  for (const auto& s : split_dots(key))
    if (s.empty()) return false;  // "a..b", ".a": kept as written
  return true;
}

}  // namespace

YAML::Node nest_dotted_keys(const YAML::Node& config) {
  if (config.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : config) out.push_back(nest_dotted_keys(item));
    return out;
  }
  if (!config.IsMap()) return YAML::Clone(config);
  YAML::Node plain(YAML::NodeType::Map);
  YAML::Node dotted(YAML::NodeType::Map);
  for (const auto& kv : config) {
    const std::string key = kv.first.Scalar();
    const YAML::Node value = nest_dotted_keys(kv.second);
    if (splits(key))
      dotted = merge_yaml(dotted, nested(split_dots(key), value));
    else
      plain[key] = value;
  }
  return merge_yaml(dotted, plain);
}

YAML::Node template_attributes(const Module& module, const YAML::Node& config, const HubFacts& hub,
                               const InstanceFacts* instance) {
  YAML::Node out = nest_dotted_keys(config);
  if (!out.IsMap()) out = YAML::Node(YAML::NodeType::Map);
  YAML::Node h(YAML::NodeType::Map);
  h["root"] = hub.root.string();
  YAML::Node levels(YAML::NodeType::Sequence);
  for (const auto& l : hub.levels) levels.push_back(l);
  h["levels"] = levels;
  h["version"] = hub.version;
  out["hub"] = h;
  YAML::Node m(YAML::NodeType::Map);
  m["name"] = module.name;
  m["level"] = module.level;
  m["version"] = module.version.str();
  m["dir"] = module.dir.string();
  out["module"] = m;
  out.remove("instance");
  if (instance != nullptr) {
    YAML::Node i(YAML::NodeType::Map);
    i["name"] = instance->name;
    i["workspace"] = instance->workspace.string();
    i["ports"] = instance->ports.IsDefined() && !instance->ports.IsNull()
                     ? YAML::Clone(instance->ports)
                     : YAML::Node(YAML::NodeType::Map);
    out["instance"] = i;
  }
  return out;
}

}  // namespace hub::templates
