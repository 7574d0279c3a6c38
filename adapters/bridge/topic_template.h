// Remote topic templates: literal text with {device}, {module}, {event} and {topic}
// (MODULE/EVENT) in it, checked once and expanded per event.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bus/status.h"

namespace hub::bridge {

class TopicTemplate {
 public:
  TopicTemplate() = default;
  // Fails naming what is wrong: an unknown or unclosed {name}, an empty template, and for
  // a topic (not `filter`) a + or # (wildcards belong to filters). `allowed` lists the
  // names this template may use.
  static Result<TopicTemplate> parse(std::string_view text, const std::vector<std::string>& allowed,
                                     bool filter = false);

  struct Values {
    std::string_view device, module, event, topic;
  };
  std::string expand(const Values& values) const;
  const std::string& text() const { return text_; }

 private:
  enum class Part { kText, kDevice, kModule, kEvent, kTopic };
  std::vector<std::pair<Part, std::string>> parts_;
  std::string text_;
};

}  // namespace hub::bridge
