// The values a template works on: attributes (converted once from YAML, so a render
// looks names up in plain maps), texts rendered by templates, and lists built by
// iteration. Immutable once built, shared by pointer.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace hub::templates {

struct Value;
using ValuePtr = std::shared_ptr<const Value>;

struct Value {
  enum class Kind { kNull, kText, kList, kMap };
  Kind kind = Kind::kNull;
  std::string text;  // kText: a scalar as written, or rendered text
  // kText: how <if()> sees it. False for a YAML boolean false written plainly (false, no,
  // off in any of YAML's spellings) and for the literal false; true for any other text,
  // empty or not, as in ST.
  bool truth = true;
  std::vector<ValuePtr> items;                         // kList
  std::vector<std::pair<std::string, ValuePtr>> keys;  // kMap, in the file's order
  std::vector<size_t> sorted;  // kMap, when large: positions in `keys`, by key (first wins)

  // kMap: the value of KEY, or nullptr.
  const Value* find(const std::string& key) const;
  // The same as a shared value: null_value() when absent.
  ValuePtr get(const std::string& key) const;
};

ValuePtr null_value();
ValuePtr text_value(std::string text, bool truth = true);
ValuePtr from_yaml(const YAML::Node& node);

// True when <if(v)> takes its branch: not null, not false, not an empty list or map.
bool is_true(const Value* v);

}  // namespace hub::templates
