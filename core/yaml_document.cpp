#include "core/yaml_document.h"

#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include <yaml-cpp/eventhandler.h>

namespace hub {
namespace {

std::string at(const std::string& name, const YAML::Mark& mark) {
  return name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// Thrown out of the parser's callbacks to stop reading at the first problem that makes
// the rest meaningless (too many nodes, a cycle).
struct Stop {
  std::string problem;
};

// Checks one document as the parser reports it, before any node exists: counts nodes
// with aliases expanded, and finds keys given twice. The nesting is kept on its own stack,
// so a deep document costs no recursion here.
class DocumentCheck : public YAML::EventHandler {
 public:
  DocumentCheck(const std::string& name, size_t max_nodes) : name_(name), max_nodes_(max_nodes) {}

  const std::vector<std::string>& problems() const { return problems_; }
  // Nothing but a null (as after a final '---').
  bool empty() const { return !substantial_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    leaf(mark, anchor, std::nullopt);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    substantial_ = true;
    leaf(mark, anchor, value);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    substantial_ = true;
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end() || !it->second.complete) {
      throw Stop{at(name_, mark) + ": " + path_here() +
                 "an alias inside the node it names (a cycle), which hub cannot use"};
    }
    add(mark, it->second.nodes, it->second.scalar);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, false);
  }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, true);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapEnd() override { close(); }

 private:
  struct Anchor {
    bool complete = false;
    size_t nodes = 1;
    std::optional<std::string> scalar;  // a key may be an alias of a scalar
  };
  struct Open {
    bool map;
    YAML::Mark mark;
    YAML::anchor_t anchor;
    std::string path;                 // dotted, as problems name it
    size_t nodes = 1;                 // in it so far, aliases expanded
    size_t children = 0;              // in a map: keys and values alternate
    std::string key;                  // in a map: the key whose value comes next
    std::map<std::string, int> keys;  // in a map: each key's line
  };

  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, std::optional<std::string> scalar) {
    if (anchor != YAML::NullAnchor) anchors_[anchor] = Anchor{true, 1, scalar};
    add(mark, 1, scalar);
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, bool map) {
    substantial_ = true;
    count(mark, 1);
    if (anchor != YAML::NullAnchor) anchors_[anchor] = Anchor{false, 1, std::nullopt};
    std::string path = path_of_next();
    stack_.push_back(Open{map, mark, anchor, std::move(path), 1, 0, {}, {}});
  }

  void close() {
    Open done = std::move(stack_.back());
    stack_.pop_back();
    if (done.anchor != YAML::NullAnchor) anchors_[done.anchor] = Anchor{true, done.nodes, {}};
    place(done.mark, done.nodes, std::nullopt);
  }

  // A node of `nodes` nodes (already counted when it is a container) ends here.
  void add(const YAML::Mark& mark, size_t nodes, const std::optional<std::string>& scalar) {
    count(mark, nodes);
    place(mark, nodes, scalar);
  }

  void count(const YAML::Mark& mark, size_t nodes) {
    total_ += nodes;
    if (total_ > max_nodes_) {
      throw Stop{at(name_, mark) + ": " + path_here() + "more than " + std::to_string(max_nodes_) +
                 " YAML nodes, counting each alias as the nodes it stands for (is it an "
                 "alias bomb?)"};
    }
  }

  void place(const YAML::Mark& mark, size_t nodes, const std::optional<std::string>& scalar) {
    if (stack_.empty()) return;  // the document's root
    Open& parent = stack_.back();
    parent.nodes += nodes;
    const bool is_key = parent.map && parent.children % 2 == 0;
    ++parent.children;
    if (!is_key) return;
    parent.key = scalar.value_or("?");
    if (!scalar) return;  // a complex key: hub reads none, expect_map reports it
    const auto [first, inserted] = parent.keys.emplace(*scalar, mark.line + 1);
    if (!inserted) {
      problems_.push_back(at(name_, mark) + ": " + join(parent.path, *scalar) +
                          ": given twice in one map (first at line " +
                          std::to_string(first->second) + "); keep one");
    }
  }

  // The path of the node that comes next inside the innermost open one.
  std::string path_of_next() const {
    if (stack_.empty()) return {};
    const Open& parent = stack_.back();
    if (!parent.map) return parent.path + "[" + std::to_string(parent.children) + "]";
    if (parent.children % 2 == 0) return parent.path;  // a key
    return join(parent.path, parent.key);
  }

  std::string path_here() const {
    const std::string path = path_of_next();
    return path.empty() ? std::string() : path + ": ";
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  const std::string& name_;
  const size_t max_nodes_;
  size_t total_ = 0;
  bool substantial_ = false;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, Anchor> anchors_;
  std::vector<std::string> problems_;
};

// Says what is wrong with the first document; throws YAML::Exception when it is not YAML.
std::vector<std::string> check(std::string_view text, const std::string& name,
                               const YamlLimits& limits) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentCheck first(name, limits.max_nodes);
  try {
    parser.HandleNextDocument(first);
  } catch (const Stop& stop) {
    return {stop.problem};
  }
  std::vector<std::string> problems = first.problems();
  // YAML::Load reads the first document only: what follows would be lost without a word.
  DocumentCheck second(name, limits.max_nodes);
  try {
    if (parser.HandleNextDocument(second) && !second.empty()) {
      problems.push_back(name +
                         ": holds more than one YAML document (a '---' line after the first); "
                         "a settings file holds one");
    }
  } catch (const Stop&) {
    problems.push_back(name + ": holds more than one YAML document; a settings file holds one");
  }
  return problems;
}

}  // namespace

Result<YAML::Node> parse_yaml(std::string_view text, const std::string& name,
                              const YamlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::error(name + ": is " + std::to_string(text.size()) + " bytes, more than the " +
                         std::to_string(limits.max_bytes) + " allowed");
  }
  try {
    const std::vector<std::string> problems = check(text, name, limits);
    if (!problems.empty()) {
      std::string all;
      for (const auto& p : problems) all += (all.empty() ? "" : "\n") + p;
      return Status::error(all);
    }
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    return Status::error(at(name, e.mark) + ": not valid YAML: " + e.msg);
  } catch (const std::exception& e) {  // yaml-cpp's other exceptions, std::bad_alloc
    return Status::error(name + ": cannot be read as YAML: " + e.what());
  }
}

}  // namespace hub
