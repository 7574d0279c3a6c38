#include "core/templates/template_value.h"

namespace hub::templates {

namespace {

bool is_plain_false(const YAML::Node& node) {
  if (node.Tag() == "!") return false;  // quoted: a string
  static const char* const kFalse[] = {"false", "False", "FALSE", "no", "No",
                                       "NO",    "off",   "Off",   "OFF"};
  for (const char* f : kFalse)
    if (node.Scalar() == f) return true;
  return false;
}

}  // namespace

const Value* Value::find(const std::string& key) const {
  for (const auto& [k, v] : keys)
    if (k == key) return v.get();
  return nullptr;
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
