#include "bus/yaml_document.h"

#include <map>
#include <memory>
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

// Checks one document as the parser reports it, before any node exists: counts nodes and
// text with aliases expanded, and finds keys given twice. The nesting is kept on its own
// stack, so a deep document costs no recursion here; each level keeps its own key only
// (shared with the anchor it came from, never copied), and paths are built for messages.
class DocumentCheck : public YAML::EventHandler {
 public:
  DocumentCheck(const std::string& name, const YamlLimits& limits) : name_(name), limits_(limits) {}

  // Every problem, with the count of keys given twice beyond those reported.
  std::vector<std::string> all_problems() const {
    std::vector<std::string> all = problems_;
    if (duplicates_ > kMaxProblems) {
      all.push_back(name_ + ": and " + std::to_string(duplicates_ - kMaxProblems) +
                    " more keys given twice");
    }
    return all;
  }
  // Nothing but a null (as after a final '---').
  bool empty() const { return !substantial_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, {}); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    substantial_ = true;
    leaf(mark, anchor, std::make_shared<const std::string>(value));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    substantial_ = true;
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end() || !it->second.complete) {
      throw Stop{at(name_, mark) + ": " + path_here() +
                 "an alias inside the node it names (a cycle), which hub cannot use"};
    }
    const Anchor& a = it->second;
    add(mark, a.size, a.scalar);
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
  using Text = std::shared_ptr<const std::string>;  // null: a null or a collection
  struct Size {
    size_t nodes = 1;
    size_t bytes = 0;  // of scalar text
  };
  struct Anchor {
    bool complete = false;
    Size size;
    Text scalar;  // a key may be an alias of a scalar
  };
  struct TextLess {
    bool operator()(const Text& a, const Text& b) const { return a != b && *a < *b; }
  };
  struct Open {
    bool map;
    YAML::Mark mark;
    YAML::anchor_t anchor;
    std::string place;                   // where it is in its parent, shortened: "key", "[3]", ""
    Size size;                           // in it so far, aliases expanded
    size_t children = 0;                 // in a map: keys and values alternate
    Text key;                            // in a map: the key whose value comes next
    std::map<Text, int, TextLess> keys;  // in a map: each key's line
  };

  static constexpr size_t kShownKey = 64;     // bytes of a key a message shows
  static constexpr size_t kShownPath = 512;   // bytes of a path a message shows
  static constexpr size_t kMaxProblems = 20;  // keys given twice reported, then counted

  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, Text scalar) {
    const Size size{1, scalar ? scalar->size() : 0};
    if (anchor != YAML::NullAnchor) anchors_[anchor] = Anchor{true, size, scalar};
    add(mark, size, scalar);
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, bool map) {
    substantial_ = true;
    count(mark, Size{1, 0});
    if (anchor != YAML::NullAnchor) anchors_[anchor] = Anchor{};
    std::string place = place_of_next();
    stack_.push_back(Open{map, mark, anchor, std::move(place), {}, 0, {}, {}});
  }

  void close() {
    Open done = std::move(stack_.back());
    stack_.pop_back();
    if (done.anchor != YAML::NullAnchor) anchors_[done.anchor] = Anchor{true, done.size, {}};
    place(done.mark, done.size, {});
  }

  // A node of `size` (already counted when it is a collection) ends here.
  void add(const YAML::Mark& mark, const Size& size, const Text& scalar) {
    count(mark, size);
    place(mark, size, scalar);
  }

  void count(const YAML::Mark& mark, const Size& size) {
    total_.nodes += size.nodes;
    total_.bytes += size.bytes;
    if (total_.nodes > limits_.max_nodes) {
      throw Stop{at(name_, mark) + ": " + path_here() + "more than " +
                 std::to_string(limits_.max_nodes) +
                 " YAML nodes, counting each alias as the nodes it stands for (is it an "
                 "alias bomb?)"};
    }
    if (total_.bytes > limits_.max_text_bytes) {
      throw Stop{at(name_, mark) + ": " + path_here() + "more than " +
                 std::to_string(limits_.max_text_bytes) +
                 " bytes of text, counting each alias as the text it stands for (is it an "
                 "alias bomb?)"};
    }
  }

  void place(const YAML::Mark& mark, const Size& size, const Text& scalar) {
    if (stack_.empty()) return;  // the document's root
    Open& parent = stack_.back();
    parent.size.nodes += size.nodes;
    parent.size.bytes += size.bytes;
    const bool is_key = parent.map && parent.children % 2 == 0;
    ++parent.children;
    if (!is_key) return;
    parent.key = scalar;
    if (!scalar) return;  // a complex key: hub reads none, expect_map reports it
    const auto [first, inserted] = parent.keys.emplace(scalar, mark.line + 1);
    if (inserted) return;
    if (++duplicates_ > kMaxProblems) return;  // counted, said once at the end
    problems_.push_back(at(name_, mark) + ": " + path_with(shown(*scalar)) +
                        ": given twice in one map (first at line " + std::to_string(first->second) +
                        "); keep one");
  }

  static std::string shown(const std::string& key) {
    return key.size() <= kShownKey ? key : key.substr(0, kShownKey) + "...";
  }

  // Where the node that comes next sits in the innermost open one.
  std::string place_of_next() const {
    if (stack_.empty()) return {};
    const Open& parent = stack_.back();
    if (!parent.map) return "[" + std::to_string(parent.children) + "]";
    if (parent.children % 2 == 0) return {};  // a key
    return parent.key ? shown(*parent.key) : "?";
  }

  // The dotted path of the open nodes, then `last`; shortened to kShownPath bytes.
  std::string path_with(const std::string& last) const {
    std::string path;
    const auto append = [&path](const std::string& place) {
      if (place.empty()) return;
      if (!path.empty() && place.front() != '[') path += '.';
      path += place;
    };
    for (const Open& o : stack_) {
      append(o.place);
      if (path.size() > kShownPath) return path.substr(0, kShownPath) + "...";
    }
    append(last);
    return path;
  }

  std::string path_here() const {
    const std::string path = path_with(place_of_next());
    return path.empty() ? std::string() : path + ": ";
  }

  const std::string& name_;
  const YamlLimits& limits_;
  Size total_{0, 0};
  bool substantial_ = false;
  size_t duplicates_ = 0;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, Anchor> anchors_;
  std::vector<std::string> problems_;
};

// Says what is wrong with the first document; throws YAML::Exception when it is not YAML.
std::vector<std::string> check(std::string_view text, const std::string& name,
                               const YamlLimits& limits) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentCheck first(name, limits);
  try {
    parser.HandleNextDocument(first);
  } catch (const Stop& stop) {
    return {stop.problem};
  }
  std::vector<std::string> problems = first.all_problems();
  // YAML::Load reads the first document only: what follows would be lost without a word.
  DocumentCheck second(name, limits);
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
