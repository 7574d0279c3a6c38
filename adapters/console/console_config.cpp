#include "console/console_config.h"

#include <charconv>
#include <set>

namespace hub::console {
namespace {

constexpr const char* kFile = "console.yml";

Status key_error(const std::string& key, const std::string& expected) {
  return Status::error(std::string(kFile) + ": " + key + ": expected " + expected);
}

Result<uint32_t> positive(const YAML::Node& node, const std::string& key, uint32_t max) {
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > max) {
    return key_error(key,
                     "a whole number from 1 to " + std::to_string(max) + ", not '" + text + "'");
  }
  return value;
}

std::filesystem::path under_root(const std::string& text, const std::filesystem::path& root) {
  const std::filesystem::path p(text);
  return p.is_absolute() ? p : root / p;
}

}  // namespace

Status parse_listen(const std::string& text, ConsoleConfig& out) {
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
    return key_error("listen", "HOST:PORT or PORT (1 to 65535), not '" + text + "'");
  }
  out.host = host;
  out.port = port;
  return Status::ok();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<ConsoleConfig> parse_console_config(const YAML::Node& config,
                                           const std::filesystem::path& root) {
  ConsoleConfig out;
  if (!config.IsMap()) return Status::error(std::string(kFile) + ": expected a map of keys");
  static const std::set<std::string> kKeys = {"listen",    "token_file", "admin_credential",
                                              "live_rate", "live_queue", "history_max"};
  for (const auto& entry : config) {
    const std::string key = entry.first.Scalar();
    if (!kKeys.count(key)) {
      return key_error(key,
                       "one of listen, token_file, admin_credential, live_rate, "
                       "live_queue, history_max (no such key)");
    }
    if (!entry.second.IsScalar()) return key_error(key, "a single value");
  }
  if (!config["listen"]) return key_error("listen", "HOST:PORT (the console is off without it)");
  if (Status s = parse_listen(config["listen"].Scalar(), out); !s) return s;
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
    auto value = positive(config[n.key], n.key, n.max);
    if (!value) return value.status();
    *n.value = *value;
  }
  return out;
}

}  // namespace hub::console
