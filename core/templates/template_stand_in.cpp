// A stand-in for the StringTemplate renderer until it lands: `<name>` and `<a.b.c>` only,
// errors as FILE:LINE:COL. Delete at merge (core/templates/ has the real one).
#include <set>

#include "bus/small_file.h"
#include "core/templates/template_attributes.h"
#include "core/templates/template_render.h"

namespace hub::templates {
namespace {

YAML::Node lookup(const YAML::Node& attributes, const std::string& dotted) {
  YAML::Node at;
  at.reset(attributes);
  size_t start = 0;
  for (;;) {
    const size_t dot = dotted.find('.', start);
    const std::string part = dotted.substr(start, dot - start);
    if (!at.IsMap()) return YAML::Node();
    const YAML::Node& view = at;
    const YAML::Node next = view[part];
    if (!next) return YAML::Node();
    at.reset(next);
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}

}  // namespace

Result<Rendered> render_text(std::string_view text, const std::filesystem::path& file,
                             const YAML::Node& attributes) {
  Rendered out;
  std::set<std::string> undefined;
  int line = 1, col = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '<') {
      out.text += c;
      if (c == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
      continue;
    }
    const size_t end = text.find('>', i);
    const size_t newline = text.find('\n', i);
    if (end == std::string_view::npos || newline < end) {
      return Status::error(file.string() + ":" + std::to_string(line) + ":" + std::to_string(col) +
                           ": expected '>' closing the expression");
    }
    const std::string name(text.substr(i + 1, end - i - 1));
    const YAML::Node value = lookup(attributes, name);
    if (!value) {
      undefined.insert(name);
    } else if (value.IsScalar()) {
      out.text += value.Scalar();
    }
    col += static_cast<int>(end - i + 1);
    i = end;
  }
  out.undefined.assign(undefined.begin(), undefined.end());
  return out;
}

Result<Rendered> render_file(const std::filesystem::path& file, const YAML::Node& attributes) {
  auto text = read_small_file(file, 1024 * 1024);
  if (!text) return Status::error(text.error());
  return render_text(*text, file, attributes);
}

YAML::Node nest_dotted_keys(const YAML::Node& config) { return YAML::Clone(config); }

YAML::Node template_attributes(const Module& module, const YAML::Node& config, const HubFacts& hub,
                               const InstanceFacts* instance) {
  YAML::Node out = config.IsMap() ? YAML::Clone(config) : YAML::Node(YAML::NodeType::Map);
  YAML::Node h;
  h["root"] = hub.root.string();
  for (const auto& level : hub.levels) h["levels"].push_back(level);
  h["version"] = hub.version;
  out["hub"] = h;
  YAML::Node m;
  m["name"] = module.name;
  m["level"] = module.level;
  m["version"] = module.version.str();
  m["dir"] = module.dir.string();
  out["module"] = m;
  if (instance != nullptr) {
    YAML::Node i;
    i["name"] = instance->name;
    i["workspace"] = instance->workspace.string();
    if (instance->ports) i["ports"] = YAML::Clone(instance->ports);
    out["instance"] = i;
  }
  return out;
}

}  // namespace hub::templates
