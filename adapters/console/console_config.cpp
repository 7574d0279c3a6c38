#include "console/console_config.h"

#include <charconv>
#include <fstream>
#include <map>
#include <set>

namespace hub::console {
namespace {

constexpr const char* kFile = "console.yml";
constexpr const char* kKeyList =
    "listen, token_file, admin_credential, live_rate, live_queue, history_max";

// Where a key was given, for its errors.
struct Places {
  const KeyPlace* place = nullptr;
  std::string of(const std::string& key) const {
    return place && *place ? (*place)(key) : std::string(kFile);
  }
};

Status key_error(const Places& places, const std::string& key, const std::string& expected) {
  return Status::error(places.of(key) + ": " + key + ": expected " + expected);
}

Result<uint32_t> positive(const Places& places, const YAML::Node& node, const std::string& key,
                          uint32_t max) {
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > max) {
    return key_error(places, key,
                     "a whole number from 1 to " + std::to_string(max) + ", not '" + text + "'");
  }
  return value;
}

std::filesystem::path under_root(const std::string& text, const std::filesystem::path& root) {
  const std::filesystem::path p(text);
  return p.is_absolute() ? p : root / p;
}

Status parse_listen_at(const std::string& text, ConsoleConfig& out, const Places& places) {
  std::string host = "127.0.0.1";
  std::string port_text = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return key_error(places, "listen", "HOST:PORT or PORT (1 to 65535), not '" + text + "'");
  }
  out.host = host;
  out.port = port;
  return Status::ok();
}

Status check_key(const Places& places, const std::string& key, const YAML::Node& value) {
  static const std::set<std::string> kKeys = {"listen",    "token_file", "admin_credential",
                                              "live_rate", "live_queue", "history_max"};
  if (!kKeys.count(key)) return key_error(places, key, std::string("one of ") + kKeyList);
  if (!value.IsScalar()) return key_error(places, key, "a single value");
  return Status::ok();
}

}  // namespace

Status parse_listen(const std::string& text, ConsoleConfig& out) {
  return parse_listen_at(text, out, Places{});
}

Result<std::string> read_token_file(const std::filesystem::path& file) {
  constexpr size_t kMinLength = 16;
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line))
    return Status::error(file.string() + ": cannot be read, or is empty");
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.size() < kMinLength) {
    return Status::error(file.string() + ": the token is " + std::to_string(line.size()) +
                         " characters; at least " + std::to_string(kMinLength) +
                         " are needed, so it is not accepted");
  }
  return line;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<ConsoleConfig> parse_console_config(const YAML::Node& config,
                                           const std::filesystem::path& root,
                                           const KeyPlace& place) {
  const Places places{&place};
  ConsoleConfig out;
  if (!config.IsMap()) return Status::error(std::string(kFile) + ": expected a map of keys");
  for (const auto& entry : config) {
    if (Status s = check_key(places, entry.first.Scalar(), entry.second); !s) return s;
  }
  if (!config["listen"])
    return key_error(places, "listen", "HOST:PORT (the console is off without it)");
  if (Status s = parse_listen_at(config["listen"].Scalar(), out, places); !s) return s;
  if (config["token_file"]) out.token_file = under_root(config["token_file"].Scalar(), root);
  if (config["admin_credential"])
    out.admin_credential = under_root(config["admin_credential"].Scalar(), root);
  struct Number {
    const char* key;
    uint32_t* value;
    uint32_t max;
  };
  for (const Number& n : {Number{"live_rate", &out.live_rate, 1000000},
                          Number{"live_queue", &out.live_queue, 1000000},
                          Number{"history_max", &out.history_max, 1000000}}) {
    if (!config[n.key]) continue;
    auto value = positive(places, config[n.key], n.key, n.max);
    if (!value) return value.status();
    *n.value = *value;
  }
  return out;
}

std::string check_console_files(const std::vector<std::string>& files,
                                const std::filesystem::path& root) {
  std::string problems;
  YAML::Node merged(YAML::NodeType::Map);
  std::map<std::string, std::string> where;  // key -> FILE:LINE:COL of the value that won
  for (const std::string& file : files) {
    YAML::Node node;
    try {
      node = YAML::LoadFile(file);
    } catch (const YAML::Exception& e) {
      problems += file + ":" + std::to_string(e.mark.line + 1) + ":" +
                  std::to_string(e.mark.column + 1) + ": " + e.msg + "\n";
      continue;
    }
    if (node.IsNull()) continue;
    if (!node.IsMap()) {
      problems += file + ":1:1: expected a map of keys\n";
      continue;
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const YAML::Mark m = entry.first.Mark();
      const std::string place =
          file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
      const KeyPlace here = [&place](const std::string&) { return place; };
      if (Status s = check_key(Places{&here}, key, entry.second); !s) {
        problems += s.message() + "\n";
        continue;
      }
      merged[key] = entry.second;
      where[key] = place;
    }
  }
  if (!problems.empty()) return problems;
  const KeyPlace place = [&](const std::string& key) {
    const auto it = where.find(key);
    return it != where.end() ? it->second : (files.empty() ? std::string(kFile) : files.back());
  };
  auto config = parse_console_config(merged, root, place);
  return config ? std::string() : config.error() + "\n";
}

}  // namespace hub::console
