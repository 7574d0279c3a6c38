#include "bridge/topic_template.h"

#include <algorithm>

namespace hub::bridge {

Result<TopicTemplate> TopicTemplate::parse(std::string_view text,
                                           const std::vector<std::string>& allowed, bool filter) {
  if (text.empty()) return Status::error("expected a topic, not an empty string");
  if (!filter && text.find_first_of("+#") != std::string_view::npos)
    return Status::error("'" + std::string(text) + "': + and # are wildcards, not topic text");
  TopicTemplate t;
  t.text_ = std::string(text);
  const auto add_text = [&](std::string_view literal) {
    if (literal.find('}') != std::string_view::npos) return false;
    if (!literal.empty()) t.parts_.emplace_back(Part::kText, std::string(literal));
    return true;
  };
  const auto unmatched = [&] {
    return Status::error("'" + std::string(text) + "': a } without its {");
  };
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    if (open == std::string_view::npos) {
      if (!add_text(text.substr(i))) return unmatched();
      break;
    }
    if (!add_text(text.substr(i, open - i))) return unmatched();
    const size_t close = text.find('}', open);
    if (close == std::string_view::npos)
      return Status::error("'" + std::string(text) + "': a { without its }");
    const std::string name(text.substr(open + 1, close - open - 1));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string names;
      for (const auto& a : allowed) names += (names.empty() ? "{" : ", {") + a + "}";
      return Status::error("'" + std::string(text) + "': {" + name + "} is not known here; use " +
                           names);
    }
    const Part part = name == "device"   ? Part::kDevice
                      : name == "module" ? Part::kModule
                      : name == "event"  ? Part::kEvent
                                         : Part::kTopic;
    t.parts_.emplace_back(part, std::string());
    i = close + 1;
  }
  return t;
}

std::string TopicTemplate::expand(const Values& values) const {
  std::string out;
  out.reserve(text_.size() + values.topic.size() + values.device.size());
  for (const auto& [part, text] : parts_) {
    switch (part) {
      case Part::kText:
        out += text;
        break;
      case Part::kDevice:
        out += values.device;
        break;
      case Part::kModule:
        out += values.module;
        break;
      case Part::kEvent:
        out += values.event;
        break;
      case Part::kTopic:
        out += values.topic;
        break;
    }
  }
  return out;
}

}  // namespace hub::bridge
