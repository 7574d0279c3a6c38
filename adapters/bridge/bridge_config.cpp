#include "bridge/bridge_config.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>
#include <variant>

#include <yaml-cpp/yaml.h>

#include "bus/small_file.h"
#include "bus/yaml_document.h"

namespace hub::bridge {
namespace {

// One step down a YAML tree: a map key or a list index.
using Step = std::variant<std::string, size_t>;
using Path = std::vector<Step>;

std::string path_text(const Path& path) {
  std::string out;
  for (const auto& step : path) {
    if (const auto* key = std::get_if<std::string>(&step)) {
      out += (out.empty() ? "" : ".") + *key;
    } else {
      out += "[" + std::to_string(std::get<size_t>(step)) + "]";
    }
  }
  return out.empty() ? "(top)" : out;
}

// The node at `step` under `node`, or an undefined one (never yaml-cpp's invalid "zombie",
// which throws when used).
YAML::Node child(const YAML::Node& node, const Step& step) {
  if (!node) return YAML::Node(YAML::NodeType::Undefined);
  if (const auto* key = std::get_if<std::string>(&step)) {
    if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node value = node[*key];
    return value ? value : YAML::Node(YAML::NodeType::Undefined);
  }
  const size_t index = std::get<size_t>(step);
  return node.IsSequence() && index < node.size() ? node[index]
                                                  : YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node merge(const YAML::Node& base, const YAML::Node& over) {
  if (!base || !base.IsMap() || !over.IsMap()) return over;
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& kv : base) out[kv.first.as<std::string>()] = kv.second;
  for (const auto& kv : over) {
    const std::string key = kv.first.as<std::string>();
    out[key] = merge(base[key], kv.second);
  }
  return out;
}

// The files, their merged tree, and every problem met, each placed at the file and line
// that gave the value: the highest-precedence file that has the path.
class Reader {
 public:
  Reader(const std::vector<std::string>& files, ConfigProblems& problems) : problems_(problems) {
    for (const auto& file : files) {
      try {
        // Bounded, and a key given twice is an error naming both lines (yaml_document.h).
        const auto text = read_small_file(file, YamlLimits{}.max_bytes);
        const auto parsed = text ? parse_yaml(*text, file) : Result<YAML::Node>(text.status());
        if (!parsed) {
          add_lines(parsed.error());
          continue;
        }
        YAML::Node doc = *parsed;
        if (doc.IsNull()) continue;  // an empty file
        if (!doc.IsMap()) {
          problems_.lines.push_back(where_in(file, doc) + ": expected a map of settings");
          continue;
        }
        sources_.emplace_back(file, doc);
        merged_.reset(merge(merged_, doc));  // reset: a Node's = would write into it
      } catch (const YAML::Exception& e) {
        problems_.lines.push_back(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
      }
    }
  }

  YAML::Node at(const Path& path) const {
    YAML::Node node = merged_;
    for (const auto& step : path) node.reset(child(node, step));
    return node;
  }

  void problem(const Path& path, const std::string& what) {
    problems_.lines.push_back(where(path) + ": " + path_text(path) + ": " + what);
  }

  bool ok() const { return problems_.lines.empty(); }

 private:
  void add_lines(const std::string& lines) {
    for (size_t start = 0; start < lines.size();) {
      const size_t end = std::min(lines.find('\n', start), lines.size());
      problems_.lines.push_back(lines.substr(start, end - start));
      start = end + 1;
    }
  }

  static std::string where_in(const std::string& file, const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return file;
    return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  std::string where(const Path& path) const {
    for (auto it = sources_.rbegin(); it != sources_.rend(); ++it) {
      YAML::Node node = it->second;
      size_t depth = 0;
      for (; depth < path.size(); ++depth) {
        YAML::Node next = child(node, path[depth]);
        if (!next) break;
        node.reset(next);
      }
      // The deepest node this file has on the way: the value itself, or the map that
      // should have held the missing key.
      if (depth == path.size() || (depth > 0 && depth + 1 == path.size()))
        return where_in(it->first, node);
    }
    return sources_.empty() ? std::string("(no configuration)") : sources_.back().first;
  }

  ConfigProblems& problems_;
  std::vector<std::pair<std::string, YAML::Node>> sources_;
  YAML::Node merged_{YAML::NodeType::Map};
};

std::optional<std::string> scalar(const YAML::Node& node) {
  if (!node || !node.IsScalar()) return std::nullopt;
  return node.Scalar();
}

// "500ms", "30s", "2m", "1h", or a number of seconds.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  const int64_t n = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "s" || unit.empty()) return std::chrono::seconds(n);
  if (unit == "m") return std::chrono::minutes(n);
  if (unit == "h") return std::chrono::hours(n);
  return std::nullopt;
}

class Checker {
 public:
  explicit Checker(Reader& reader) : r_(reader) {}

  void known_keys(const Path& path, const std::set<std::string>& keys) {
    const YAML::Node node = r_.at(path);
    if (!node) return;
    if (!node.IsMap()) {
      r_.problem(path, "expected a map");
      return;
    }
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (keys.count(key)) continue;
      std::string list;
      for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
      Path at = path;
      at.emplace_back(key);
      r_.problem(at, "unknown key; expected one of " + list);
    }
  }

  std::optional<std::string> text(const Path& path, bool required = false) {
    const YAML::Node node = r_.at(path);
    if (!node) {
      if (required) r_.problem(path, "missing; expected a string");
      return std::nullopt;
    }
    auto value = scalar(node);
    if (!value || node.IsNull()) {
      r_.problem(path, "expected a string");
      return std::nullopt;
    }
    if (value->find('\0') != std::string::npos) {
      r_.problem(path, "expected text without a NUL character");
      return std::nullopt;
    }
    return value;
  }

  std::optional<int64_t> integer(const Path& path, int64_t low, int64_t high) {
    auto value = text(path);
    if (!value) return std::nullopt;
    const bool digits = !value->empty() && value->size() <= 12 &&
                        std::all_of(value->begin(), value->end(), [](char c) {
                          return std::isdigit(static_cast<unsigned char>(c));
                        });
    const int64_t n = digits ? std::stoll(*value) : -1;
    if (!digits || n < low || n > high) {
      r_.problem(path, "expected a whole number from " + std::to_string(low) + " to " +
                           std::to_string(high) + ", not '" + *value + "'");
      return std::nullopt;
    }
    return n;
  }

  // Bytes: 4096, 64KiB, 1MiB.
  std::optional<uint64_t> size(const Path& path, uint64_t low, uint64_t high) {
    auto value = text(path);
    if (!value) return std::nullopt;
    size_t digits = 0;
    while (digits < value->size() && std::isdigit(static_cast<unsigned char>((*value)[digits])))
      ++digits;
    const std::string unit = value->substr(digits);
    const uint64_t scale = unit.empty() ? 1 : unit == "KiB" ? 1024 : unit == "MiB" ? 1 << 20 : 0;
    const uint64_t n =
        digits > 0 && digits <= 9 ? std::stoull(value->substr(0, digits)) * scale : 0;
    if (n < low || n > high) {
      r_.problem(path, "expected a size from " + std::to_string(low) + " to " +
                           std::to_string(high) + " bytes (4096, 64KiB, 1MiB), not '" + *value +
                           "'");
      return std::nullopt;
    }
    return n;
  }

  std::optional<bool> boolean(const Path& path) {
    auto value = text(path);
    if (!value) return std::nullopt;
    if (*value == "true" || *value == "yes" || *value == "on") return true;
    if (*value == "false" || *value == "no" || *value == "off") return false;
    r_.problem(path, "expected true or false, not '" + *value + "'");
    return std::nullopt;
  }

  std::optional<std::chrono::milliseconds> duration(const Path& path, std::chrono::milliseconds low,
                                                    std::chrono::milliseconds high) {
    auto value = text(path);
    if (!value) return std::nullopt;
    auto d = parse_duration(*value);
    if (!d || *d < low || *d > high) {
      r_.problem(path, "expected a duration from " + std::to_string(low.count()) + "ms to " +
                           std::to_string(high.count()) + "ms (500ms, 30s, 2m), not '" + *value +
                           "'");
      return std::nullopt;
    }
    return d;
  }

  std::optional<PayloadForm> payload(const Path& path) {
    auto value = text(path);
    if (!value) return std::nullopt;
    if (*value == "raw") return PayloadForm::kRaw;
    if (*value == "wrapped") return PayloadForm::kWrapped;
    r_.problem(path, "expected raw or wrapped, not '" + *value + "'");
    return std::nullopt;
  }

  std::optional<TopicTemplate> topic(const Path& path, const std::vector<std::string>& names,
                                     bool required, bool filter = false) {
    auto value = text(path, required);
    if (!value) return std::nullopt;
    auto parsed = TopicTemplate::parse(*value, names, filter);
    if (!parsed) {
      r_.problem(path, parsed.error());
      return std::nullopt;
    }
    return *parsed;
  }

  template <typename T, typename U>
  static void set(T& field, const std::optional<U>& value) {
    if (value) field = static_cast<T>(*value);
  }

 private:
  Reader& r_;
};

const std::vector<std::string> kDeviceOnly = {"device"};
const std::vector<std::string> kEventNames = {"device", "module", "event", "topic"};

void read_broker(Checker& c, Reader& r, BrokerSettings& b) {
  const Path at = {std::string("broker")};
  if (!r.at(at)) {
    r.problem(at, "missing; expected broker: {host: HOST, port: PORT}");
    return;
  }
  c.known_keys(at, {"host", "port", "protocol", "client_id", "username", "password", "keepalive",
                    "clean_session", "tls", "backoff", "max_message_size"});
  const auto key = [&](const char* name) {
    Path p = at;
    p.emplace_back(std::string(name));
    return p;
  };
  Checker::set(b.host, c.text(key("host"), true));
  if (r.at(key("tls"))) b.port = 8883;
  Checker::set(b.port, c.integer(key("port"), 1, 65535));
  if (auto protocol = c.text(key("protocol"))) {
    if (*protocol == "3.1.1" || *protocol == "311") {
      b.protocol = 4;
    } else if (*protocol == "5" || *protocol == "5.0") {
      b.protocol = 5;
    } else {
      r.problem(key("protocol"), "expected 3.1.1 or 5, not '" + *protocol + "'");
    }
  }
  if (auto id = c.topic(key("client_id"), kDeviceOnly, false)) b.client_id = id->text();
  Checker::set(b.username, c.text(key("username")));
  Checker::set(b.password, c.text(key("password")));
  if (r.at(key("password")) && !r.at(key("username")))
    r.problem(key("password"), "a password needs a username");
  if (auto k = c.duration(key("keepalive"), std::chrono::seconds(5), std::chrono::hours(18)))
    b.keepalive = std::chrono::duration_cast<std::chrono::seconds>(*k);
  Checker::set(b.clean_session, c.boolean(key("clean_session")));
  Checker::set(b.max_message_size, c.size(key("max_message_size"), 256, 268435455));
  if (r.at(key("tls"))) {
    c.known_keys(key("tls"), {"ca_file", "cert_file", "key_file", "insecure"});
    TlsSettings tls;
    const auto tls_key = [&](const char* name) {
      Path p = key("tls");
      p.emplace_back(std::string(name));
      return p;
    };
    Checker::set(tls.ca_file, c.text(tls_key("ca_file"), true));
    Checker::set(tls.cert_file, c.text(tls_key("cert_file")));
    Checker::set(tls.key_file, c.text(tls_key("key_file")));
    Checker::set(tls.insecure, c.boolean(tls_key("insecure")));
    if (tls.cert_file.empty() != tls.key_file.empty())
      r.problem(tls_key(tls.cert_file.empty() ? "key_file" : "cert_file"),
                "cert_file and key_file go together");
    b.tls = tls;
  }
  if (r.at(key("backoff"))) {
    c.known_keys(key("backoff"), {"min", "max"});
    Path min = key("backoff"), max = key("backoff");
    min.emplace_back(std::string("min"));
    max.emplace_back(std::string("max"));
    Checker::set(b.backoff_min,
                 c.duration(min, std::chrono::milliseconds(10), std::chrono::minutes(10)));
    Checker::set(b.backoff_max,
                 c.duration(max, std::chrono::milliseconds(10), std::chrono::hours(1)));
    if (b.backoff_max < b.backoff_min) r.problem(max, "expected at least backoff.min");
  }
}

void read_status(Checker& c, Reader& r, StatusSettings& s) {
  const Path at = {std::string("status")};
  const YAML::Node node = r.at(at);
  if (!node) return;
  if (node.IsScalar()) {
    if (auto on = c.boolean(at)) s.enabled = *on;
    return;
  }
  c.known_keys(at, {"topic", "online", "offline", "qos"});
  const auto key = [&](const char* name) {
    Path p = at;
    p.emplace_back(std::string(name));
    return p;
  };
  if (auto t = c.topic(key("topic"), kDeviceOnly, false)) s.topic = t->text();
  Checker::set(s.online, c.text(key("online")));
  Checker::set(s.offline, c.text(key("offline")));
  Checker::set(s.qos, c.integer(key("qos"), 0, 1));
}

bool is_local_pattern(const std::string& p) {
  // MODULE/EVENT levels, each a name, + or # (# last only), or # alone.
  if (p == "#") return true;
  const size_t slash = p.find('/');
  if (slash == std::string::npos || p.find('/', slash + 1) != std::string::npos) return false;
  const std::string module = p.substr(0, slash), event = p.substr(slash + 1);
  const auto level_ok = [](const std::string& level, bool last) {
    if (level.empty()) return false;
    if (level == "+" || (last && level == "#")) return true;
    return level.find_first_of("+#") == std::string::npos;
  };
  return level_ok(module, false) && level_ok(event, true);
}

void read_outbound(Checker& c, Reader& r, std::vector<OutboundRule>& rules) {
  const Path at = {std::string("outbound")};
  const YAML::Node list = r.at(at);
  if (!list) return;
  if (!list.IsSequence()) {
    r.problem(at, "expected a list of rules: - {from: PATTERN, to: TOPIC, qos: 1}");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    Path rule = at;
    rule.emplace_back(i);
    c.known_keys(rule, {"from", "to", "qos", "retain", "payload"});
    const auto key = [&](const char* name) {
      Path p = rule;
      p.emplace_back(std::string(name));
      return p;
    };
    OutboundRule out;
    if (auto from = c.text(key("from"), true)) {
      if (is_local_pattern(*from)) {
        out.from = *from;
      } else {
        r.problem(key("from"),
                  "expected a local pattern MODULE/EVENT (+ for one level, # at the "
                  "end or alone), not '" +
                      *from + "'");
      }
    }
    if (auto to = c.topic(key("to"), kEventNames, true)) out.to = *to;
    Checker::set(out.qos, c.integer(key("qos"), 0, 1));
    Checker::set(out.retain, c.boolean(key("retain")));
    Checker::set(out.payload, c.payload(key("payload")));
    rules.push_back(std::move(out));
  }
}

bool is_event_name(const std::string& name) {
  return !name.empty() && name.size() <= 200 && name.find_first_of("/+#") == std::string::npos &&
         std::all_of(name.begin(), name.end(),
                     [](char ch) { return static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f; });
}

void read_inbound(Checker& c, Reader& r, std::vector<InboundRule>& rules) {
  const Path at = {std::string("inbound")};
  const YAML::Node list = r.at(at);
  if (!list) return;
  if (!list.IsSequence()) {
    r.problem(at, "expected a list of rules: - {from: FILTER, to: EVENT}");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    Path rule = at;
    rule.emplace_back(i);
    c.known_keys(rule, {"from", "to", "qos", "payload"});
    const auto key = [&](const char* name) {
      Path p = rule;
      p.emplace_back(std::string(name));
      return p;
    };
    InboundRule in;
    if (auto from = c.topic(key("from"), kDeviceOnly, true, true)) in.from = from->text();
    if (auto to = c.text(key("to"), true)) {
      if (is_event_name(*to)) {
        in.to = *to;
      } else {
        r.problem(key("to"),
                  "expected an event name (the local event is Bridge/NAME: no /, + "
                  "or #), not '" +
                      *to + "'");
      }
    }
    Checker::set(in.qos, c.integer(key("qos"), 0, 1));
    Checker::set(in.payload, c.payload(key("payload")));
    rules.push_back(std::move(in));
  }
}

}  // namespace

std::string ConfigProblems::text() const {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::optional<BridgeConfig> load_bridge_config(const std::vector<std::string>& files,
                                               const std::string& default_device,
                                               ConfigProblems& problems) {
  Reader reader(files, problems);
  if (!reader.ok()) return std::nullopt;
  Checker c(reader);
  BridgeConfig config;
  c.known_keys(
      {}, {"broker", "device", "outbound", "inbound", "window", "status", "stats_every", "hub"});
  read_broker(c, reader, config.broker);
  config.device = default_device;
  if (auto device = c.text({std::string("device")})) {
    if (device->empty() || device->find_first_of("/+#") != std::string::npos) {
      reader.problem({std::string("device")}, "expected a name without /, + or #");
    } else {
      config.device = *device;
    }
  }
  read_outbound(c, reader, config.outbound);
  read_inbound(c, reader, config.inbound);
  Checker::set(config.window, c.integer({std::string("window")}, 1, 32768));
  read_status(c, reader, config.status);
  Checker::set(config.stats_every,
               c.duration({std::string("stats_every")}, std::chrono::milliseconds(100),
                          std::chrono::minutes(10)));
  if (config.outbound.empty() && config.inbound.empty() && reader.at({std::string("broker")}))
    reader.problem({std::string("broker")},
                   "a broker without outbound or inbound rules has nothing to do");
  if (config.broker.client_id.empty()) config.broker.client_id = "hub-{device}";
  if (!reader.ok()) return std::nullopt;
  return config;
}

}  // namespace hub::bridge
