#include "core/templates/template_value.h"

#include <algorithm>
#include <string_view>

namespace hub::templates {

namespace {

bool is_plain_false(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (s.empty() || s.size() > 5 || std::string_view("fFnNoO").find(s[0]) == std::string_view::npos)
    return false;
  if (node.Tag() == "!") return false;  // quoted: a string
  static const char* const kFalse[] = {"false", "False", "FALSE", "no", "No",
                                       "NO",    "off",   "Off",   "OFF"};
  for (const char* f : kFalse)
    if (node.Scalar() == f) return true;
  return false;
}

}  // namespace

namespace {

// Maps at least this large are looked up through their index.
constexpr size_t kIndexedKeys = 8;

const ValuePtr* find_in(const Value& map, const std::string& key) {
  if (!map.sorted.empty()) {
    const auto it =
        std::lower_bound(map.sorted.begin(), map.sorted.end(), key,
                         [&](size_t at, const std::string& k) { return map.keys[at].first < k; });
    if (it == map.sorted.end() || map.keys[*it].first != key) return nullptr;
    return &map.keys[*it].second;
  }
  for (const auto& kv : map.keys)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

}  // namespace

const Value* Value::find(const std::string& key) const {
  const ValuePtr* v = find_in(*this, key);
  return v == nullptr ? nullptr : v->get();
}

ValuePtr Value::get(const std::string& key) const {
  const ValuePtr* v = find_in(*this, key);
  return v == nullptr ? null_value() : *v;
}

ValuePtr null_value() {
  static const ValuePtr null = std::make_shared<const Value>();
  return null;
}

ValuePtr text_value(std::string text, bool truth) {
  auto v = std::make_shared<Value>();
  v->kind = Value::Kind::kText;
  v->text = std::move(text);
  v->truth = truth;
  return v;
}

ValuePtr from_yaml(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return null_value();
  if (node.IsScalar()) return text_value(node.Scalar(), !is_plain_false(node));
  auto v = std::make_shared<Value>();
  if (node.IsSequence()) {
    v->kind = Value::Kind::kList;
    for (const auto& item : node) v->items.push_back(from_yaml(item));
  } else {
    v->kind = Value::Kind::kMap;
    for (const auto& kv : node) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      v->keys.emplace_back(key, from_yaml(kv.second));
    }
    if (v->keys.size() >= kIndexedKeys) {
      v->sorted.resize(v->keys.size());
      for (size_t k = 0; k < v->keys.size(); ++k) v->sorted[k] = k;
      std::stable_sort(v->sorted.begin(), v->sorted.end(),
                       [&](size_t a, size_t b) { return v->keys[a].first < v->keys[b].first; });
    }
  }
  return v;
}

bool is_true(const Value* v) {
  if (v == nullptr) return false;
  switch (v->kind) {
    case Value::Kind::kNull:
      return false;
    case Value::Kind::kText:
      return v->truth;
    case Value::Kind::kList:
      return !v->items.empty();
    case Value::Kind::kMap:
      return !v->keys.empty();
  }
  return false;
}

}  // namespace hub::templates
