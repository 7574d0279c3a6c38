#include "hubctl/publish_command.h"

#include <fstream>
#include <iostream>
#include <iterator>

#include "bus/credentials.h"
#include "bus/publisher.h"
#include "bus/text.h"

namespace hub::ctl {
namespace {

std::string read_all(std::istream& in) { return {std::istreambuf_iterator<char>(in), {}}; }

// The next non-blank line of `in` (blank ones are left out, as mosquitto_pub -l does);
// false at the end.
bool next_non_blank_line(std::istream& in, std::string& line) {
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) return true;
  }
  return false;
}

}  // namespace

std::string content_type_of(std::string_view payload) {
  if (!payload.empty() && is_valid_json(payload)) return "application/json";
  if (is_valid_utf8(payload)) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::optional<PublishLine> parse_publish(const std::vector<std::string>& args, std::string& error,
                                         bool& unreadable) {
  PublishLine line;
  std::optional<std::string> topic;
  std::optional<std::string> message;  // -m, positional PAYLOAD
  std::string source;                  // which of -m, -n, -s, -l, -f gave it
  std::vector<std::string> positional;
  const auto one_source = [&](const std::string& flag) {
    if (!source.empty()) error = flag + " and " + source + " both give the payload";
    source = flag;
    return error.empty();
  };
  bool options_end = false;  // after "--", every argument is a topic or payload
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (options_end || a == "-" || a.empty() || a[0] != '-') {
      positional.push_back(a);
    } else if (a == "--") {
      options_end = true;
    } else if (a == "-r" || a == "--retain") {
      line.retain = true;
    } else if ((a == "-t" || a == "--topic") && has_value) {
      if (topic) {
        error = "publish takes one topic";
        return std::nullopt;
      }
      topic = args[++i];
    } else if ((a == "-m" || a == "--message") && has_value) {
      if (!one_source("-m")) return std::nullopt;
      message = args[++i];
    } else if (a == "-n" || a == "--null-message") {
      if (!one_source("-n")) return std::nullopt;
      message = "";
    } else if (a == "-s" || a == "--stdin-file") {
      if (!one_source("-s")) return std::nullopt;
      message = read_all(std::cin);
    } else if (a == "-l" || a == "--stdin-line") {
      if (!one_source("-l")) return std::nullopt;
    } else if ((a == "-f" || a == "--file") && has_value) {
      if (!one_source("-f")) return std::nullopt;
      const std::string file = args[++i];
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        error = file + ": cannot be read";
        unreadable = true;
        return std::nullopt;
      }
      message = read_all(in);
    } else if (a == "--content-type" && has_value) {
      line.content_type = args[++i];
    } else {
      error = "unexpected '" + a + "'";
      return std::nullopt;
    }
  }
  if (!topic) {
    if (positional.empty()) {
      error = "publish needs a TOPIC (-t TOPIC or the first argument)";
      return std::nullopt;
    }
    topic = positional.front();
    positional.erase(positional.begin());
  }
  if (positional.size() > 1) {
    error = "unexpected '" + positional[1] + "'";
    return std::nullopt;
  }
  if (!positional.empty()) {
    if (!one_source(positional[0] == "-" ? "'-'" : "PAYLOAD")) return std::nullopt;
    message = positional[0] == "-" ? read_all(std::cin) : positional[0];
  }
  line.topic = *topic;
  if (source == "-l") {
    line.lines_from_stdin = true;
  } else {
    line.payloads.push_back(message.value_or("{}"));
  }
  return line;
}

int publish(Hub& hub, const std::vector<std::string>& args) {
  std::string error;
  bool unreadable = false;
  const auto line = parse_publish(args, error, unreadable);
  if (!line) {
    if (unreadable) {
      std::cerr << "hubctl: " << error << "\n";
      return kFailed;
    }
    return usage_error(error, "publish");
  }
  auto credential = read_credential_file(hub.credential_file());
  if (!credential) {
    std::cerr << "hubctl: " << credential.error() << "\n";
    return kUnreachable;
  }
  const std::string endpoint = ipc_endpoint(hub.paths().ingest_socket);
  if (Status up = probe_endpoint(endpoint); !up) {
    std::cerr << "hubctl: " << up.message() << "\n";
    return kUnreachable;
  }
  PublisherOptions connection;  // --timeout bounds each publish
  connection.send_timeout = hub.timeout();
  connection.linger = std::chrono::milliseconds(0);
  auto publisher = Publisher::connect(hub.context(), endpoint, *credential, connection);
  if (!publisher) {
    std::cerr << "hubctl: " << publisher.error() << "\n";
    return kUnreachable;
  }
  int exit = kOk;
  std::string read_line;
  for (size_t i = 0;; ++i) {
    if (line->lines_from_stdin ? !next_non_blank_line(std::cin, read_line)
                               : i == line->payloads.size())
      break;
    const std::string& payload = line->lines_from_stdin ? read_line : line->payloads[i];
    const std::string type = line->content_type.value_or(content_type_of(payload));
    PublishOptions options;
    options.retain = line->retain;
    options.content_type = type;
    auto delivered = publisher->publish_delivered(line->topic, payload, hub.timeout(), options);
    if (!delivered) {
      std::cerr << "hubctl: " << printable(delivered.error()) << "\n";
      return kFailed;
    }
    if (!delivered->not_kept.empty()) {  // no seq on stdout: only what is kept is acknowledged
      std::cerr << "hubctl: the hub could not keep '" << printable(line->topic)
                << "' (delivered live as event " << delivered->seq
                << "): " << printable(delivered->not_kept) << "\n";
      return kFailed;
    }
    if (hub.json()) {
      JsonObject json;
      json.add("seq", static_cast<int64_t>(delivered->seq))
          .add("topic", line->topic)
          .add("content_type", type)
          .add("retained", line->retain && delivered->not_retained.empty());
      if (!delivered->not_retained.empty()) json.add("not_retained", delivered->not_retained);
      std::cout << json.str() << "\n";
    } else {
      std::cout << delivered->seq << "\n";
    }
    std::cout.flush();  // -l: each line's seq once it is published
    if (!delivered->not_retained.empty()) {
      std::cerr << "hubctl: event " << delivered->seq
                << " was delivered but not retained: " << printable(delivered->not_retained)
                << "\n";
      exit = kNotRetained;
    }
  }
  return exit;
}

}  // namespace hub::ctl
