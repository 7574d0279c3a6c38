// The Console module's configuration (its console.yml at any config level, merged by hubd
// into the service's etc/hub/service.yml; README, "Console"). Checked strictly: an unknown
// key, or a value of the wrong form, is an error naming the key and what was expected.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"

namespace hub::console {

struct ConsoleConfig {
  // listen: HOST:PORT, or PORT alone for 127.0.0.1:PORT. Required (service.yml
  // `needs_config: listen`: without it the module's service does not run).
  std::string host = "127.0.0.1";
  int port = 0;
  // token_file: a file whose first line is the token a browser presents (Authorization:
  // Bearer TOKEN) to change state; relative to the root. Empty: only the administrator's
  // secret is accepted.
  std::filesystem::path token_file;
  // admin_credential: the credential the console calls the API with to start, stop and
  // restart modules; relative to the root. Empty: the root's administrator credential.
  std::filesystem::path admin_credential;
  // live_rate: events per second one browser's live view receives; beyond, events are
  // sampled out and counted. live_queue: events held for a browser that has not taken
  // them yet; beyond, they are dropped and counted.
  uint32_t live_rate = 1000;
  uint32_t live_queue = 4000;
  // history_max: events a browser may ask of the journal at once (?last=N, ?from=SEQ).
  uint32_t history_max = 10000;
};

// Names where a key was given, for errors: "console.yml" for the merged configuration,
// "FILE:LINE:COL" for a file that was checked.
using KeyPlace = std::function<std::string(const std::string& key)>;

// Reads `config` (the merged configuration). `root` resolves relative paths. Errors read
// "PLACE: KEY: expected ..." (PLACE from `place`, "console.yml" without it).
Result<ConsoleConfig> parse_console_config(const YAML::Node& config,
                                           const std::filesystem::path& root,
                                           const KeyPlace& place = {});

// `console --check FILE...` (service.yml `check:`): the module's config files, lowest
// precedence first, merged as hubd merges them; every problem as "FILE:LINE:COL: KEY:
// what was expected", one a line. Empty when they make a valid configuration.
std::string check_console_files(const std::vector<std::string>& files,
                                const std::filesystem::path& root);

// Parses "HOST:PORT" or "PORT" into `out`'s host and port.
Status parse_listen(const std::string& text, ConsoleConfig& out);

// The token of a token_file: its first line without trailing spaces and CR; an error
// naming the file when it cannot be read or the token is shorter than 16 characters (a
// short token is no protection, so it is not accepted).
Result<std::string> read_token_file(const std::filesystem::path& file);

// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback(const std::string& host);

}  // namespace hub::console
