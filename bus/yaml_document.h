// Parsing YAML that a user or a module wrote, within bounds. yaml-cpp shares an aliased
// node instead of copying it, so a 600-byte file of anchors that alias anchors ("billion
// laughs") parses quickly, but it stands for 10^9 nodes: every deep copy, merge or
// conversion of it then runs out of memory. Before building any node, the document is
// read once as a stream of events, counting every node as often as aliases repeat it.
// Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"

namespace hub {

struct YamlLimits {
  size_t max_bytes = 1 << 20;  // 1 MiB: larger YAML files are refused
  // Nodes in the document, each alias counted as all the nodes it stands for: bounds the
  // memory and time of anything that walks the document afterwards.
  size_t max_nodes = 100'000;
  // Bytes of scalar text in the document, each alias counted as the text it stands for:
  // bounds what converting or copying the document costs (an alias of a large scalar,
  // repeated, is an alias bomb too).
  size_t max_text_bytes = 16 << 20;
};

// Parses `text` (called `name` in messages) as one YAML document; an empty text is a null
// node. Fails with every problem found, one per line, "NAME:LINE:COLUMN: what": not valid
// YAML, a key given twice in one map ("KEY: given twice (first at line N)"; yaml-cpp would
// keep the first silently), more than `limits.max_nodes` nodes or `limits.max_text_bytes`
// of text, an alias inside the node it names (a cycle), or a second document after '---'.
// Checking takes memory in proportion to the text, whatever its aliases stand for.
Result<YAML::Node> parse_yaml(std::string_view text, const std::string& name,
                              const YamlLimits& limits = {});

}  // namespace hub
