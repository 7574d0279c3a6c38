// What every hubctl command shares: the exit statuses scripts rely on, the hub it talks
// to (its layout, credential and API socket), and the ways it reports a wrong line.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "bus/bus_paths.h"
#include "bus/root_layout.h"
#include "bus/status.h"
#include "hubctl/command_line.h"

namespace hub::ctl {

// hubctl's exit status (README, "hubctl"; man/hubctl.1.md). Kept: scripts test them.
enum Exit {
  kOk = 0,
  kFailed = 1,       // the hub refused, the operation failed, or not every one is running
  kBadUsage = 2,     // the command line is wrong
  kUnreachable = 3,  // no hub answered (not running, or timed out)
  kNotFound = 4,     // no such module, instance, log or template
  kNotRetained = 5,  // publish --retain: delivered, but the hub did not retain it
};

// Text from the hub (names, reasons) as it may go to a terminal (bus/text.h).
std::string printable(std::string_view text);

// Prints `message` and the usage of `command` (the tool's when empty); returns kBadUsage.
int usage_error(const std::string& message, const std::string& command = "");

// {"method": METHOD}
std::string request_json(std::string_view method);

// The exit status for a failed API call: unreachable or timeout 3, not_found 4, else 1.
int exit_status(Status::Code code);

class Hub {
 public:
  Hub(const CommandLine& line, RootLayout layout)
      : line_(line), layout_(std::move(layout)), paths_(layout_.bus()) {}

  std::filesystem::path credential_file() const;
  // The result of one API call, or nullopt with the error printed; `exit` is set.
  std::optional<std::string> call(const std::string& request, int& exit);

  const RootLayout& layout() const { return layout_; }
  const BusPaths& paths() const { return paths_; }
  std::chrono::milliseconds timeout() const { return line_.timeout; }
  bool json() const { return line_.json; }
  zmq::context_t& context() { return ctx_; }

 private:
  const CommandLine& line_;
  RootLayout layout_;
  BusPaths paths_;
  zmq::context_t ctx_{1};
};

}  // namespace hub::ctl
