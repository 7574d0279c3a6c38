#include "core/api/api_fields.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>

#include "bus/api_protocol.h"

namespace hub {
namespace {

enum class Type { kString, kWholeNumber, kBool, kObject };

struct Field {
  std::string_view name;
  Type type;
};

struct MethodFields {
  std::string_view method;
  std::initializer_list<Field> fields;
};

// Each method's own fields (docs/API.md, "Methods"); a method with none takes none.
const MethodFields kMethodFields[] = {
    {api::kInspect, {}},
    {api::kReload, {{"dry_run", Type::kBool}}},
    {api::kStart,
     {{"name", Type::kString},
      {"instance", Type::kString},
      {"config", Type::kObject},
      {"replace", Type::kBool},
      {"all", Type::kBool}}},
    {api::kStop, {{"name", Type::kString}, {"instance", Type::kString}, {"all", Type::kBool}}},
    // "instance" is taken so that restart can say why it refuses one.
    {api::kRestart, {{"name", Type::kString}, {"instance", Type::kString}, {"all", Type::kBool}}},
    {api::kEnable, {{"name", Type::kString}}},
    {api::kDisable, {{"name", Type::kString}}},
    {api::kSignal,
     {{"signal", Type::kString},
      {"name", Type::kString},
      {"instance", Type::kString},
      {"all", Type::kBool}}},
    {api::kPort, {}},
    {api::kReport, {{"stats", Type::kObject}}},
    {api::kRender, {{"name", Type::kString}, {"template", Type::kString}, {"set", Type::kObject}}},
};

const Field kCommonFields[] = {
    {api::kMethodField, Type::kString},
    {api::kDeadlineField, Type::kWholeNumber},
};

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kString:
      return "a string";
    case Type::kWholeNumber:
      return "a whole number";
    case Type::kBool:
      return "true or false";
    case Type::kObject:
      return "an object";
  }
  return "?";
}

// A JSON value's kind as read by parse_api_request: quoted scalars are strings ("!" tag),
// plain ones numbers, true, false or null (the text was checked to be JSON).
std::string what_is(const YAML::Node& value) {
  if (value.IsMap()) return "an object";
  if (value.IsSequence()) return "an array";
  if (value.IsNull()) return "null";
  if (value.Tag() == "!") return "a string";
  const std::string& text = value.Scalar();
  if (text == "true" || text == "false") return text;
  if (text == "null") return "null";
  return "the number " + (text.size() <= 24 ? text : text.substr(0, 24) + "...");
}

bool is_whole_number(const std::string& text) {
  const size_t digits = text.size() - (text.rfind('-', 0) == 0 ? 1 : 0);
  return digits > 0 && digits <= 18 &&
         std::all_of(text.end() - static_cast<std::ptrdiff_t>(digits), text.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

bool has_type(const YAML::Node& value, Type type) {
  const bool plain = value.IsScalar() && value.Tag() != "!";
  switch (type) {
    case Type::kString:
      return value.IsScalar() && value.Tag() == "!";
    case Type::kWholeNumber:
      return plain && is_whole_number(value.Scalar());
    case Type::kBool:
      return plain && (value.Scalar() == "true" || value.Scalar() == "false");
    case Type::kObject:
      return value.IsMap();
  }
  return false;
}

// A field's name in a message: whatever its length, a line.
std::string shown(const std::string& name) {
  return name.size() <= 64 ? name : name.substr(0, 64) + "...";
}

// The path of the first key given twice in a map within `value` (yaml-cpp keeps both; a
// lookup sees the first, a merge the last), `path` leading; empty when there is none.
std::string key_given_twice(const YAML::Node& value, const std::string& path) {
  if (value.IsSequence()) {
    for (size_t i = 0; i < value.size(); ++i) {
      std::string found = key_given_twice(value[i], path + "[" + std::to_string(i) + "]");
      if (!found.empty()) return found;
    }
  }
  if (!value.IsMap()) return {};
  std::set<std::string> keys;
  for (const auto& member : value) {
    const std::string inner = path + "." + shown(member.first.Scalar());
    if (!keys.insert(member.first.Scalar()).second) return inner;
    std::string found = key_given_twice(member.second, inner);
    if (!found.empty()) return found;
  }
  return {};
}

std::string quoted_names(std::initializer_list<Field> fields) {
  std::string out;
  for (const Field& f : fields) out += (out.empty() ? "\"" : ", \"") + std::string(f.name) + "\"";
  return out;
}

}  // namespace

Status check_api_fields(std::string_view method, const YAML::Node& body) {
  if (!body.IsMap()) return Status::bad_request("expected a JSON object");
  const auto known = std::find_if(std::begin(kMethodFields), std::end(kMethodFields),
                                  [&](const MethodFields& m) { return m.method == method; });
  std::set<std::string> seen;
  for (const auto& member : body) {
    const std::string& name = member.first.Scalar();
    if (!seen.insert(name).second) {  // yaml-cpp keeps both; a lookup would see the first
      return Status::bad_request("field \"" + shown(name) + "\" given twice");
    }
    const Field* field = nullptr;
    for (const Field& f : kCommonFields) field = f.name == name ? &f : field;
    if (known != std::end(kMethodFields)) {
      for (const Field& f : known->fields) field = f.name == name ? &f : field;
    }
    if (field == nullptr && known == std::end(kMethodFields)) continue;  // not judged here
    if (field == nullptr) {
      const std::string takes =
          known->fields.size() == 0 ? "it takes none" : "it takes " + quoted_names(known->fields);
      return Status::bad_request(std::string(method) + " takes no field \"" + shown(name) + "\" (" +
                                 takes + ")");
    }
    if (!has_type(member.second, field->type)) {
      return Status::bad_request("field \"" + name + "\" must be " +
                                 std::string(type_name(field->type)) + ", not " +
                                 what_is(member.second));
    }
    if (const std::string twice = key_given_twice(member.second, shown(name)); !twice.empty()) {
      return Status::bad_request("field \"" + twice + "\" given twice");
    }
  }
  // "all" names every module: with a module or an instance too, one of them would be
  // ignored (restart would take all, start and stop the name).
  if (body["all"]) {
    for (const char* other : {"name", "instance", "config", "replace"}) {
      if (body[other]) {
        return Status::bad_request("field \"all\" goes alone, not with \"" + std::string(other) +
                                   "\"");
      }
    }
  }
  return Status::ok();
}

}  // namespace hub
