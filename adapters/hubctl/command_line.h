// hubctl's command line: the global options (--root, --credential, --timeout, --json,
// -o FORMAT, --version, --help) wherever they stand, the command and its own arguments.
// Long global options are taken anywhere on the line; the short -r and -c before the
// command, and after it too except where the command has its own -r (publish: retain).
// "--" ends the options: what follows is the command's, as it is. Pure, thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hub::ctl {

struct CommandLine {
  std::filesystem::path root;        // empty: the hub find_hub_layout() finds
  std::filesystem::path credential;  // empty: default_credential_file
  std::chrono::milliseconds timeout{30000};
  bool json = false;     // --json or -o json: the API's answer (or JSON lines) on stdout
  bool version = false;  // --version: print it and exit
  bool help = false;     // --help or -h before the command (after it: the command's help)
  std::string command;   // empty when none was given
  std::vector<std::string> args;
};

// The line, or why it is wrong (for the usage message; exit status 2).
std::optional<CommandLine> parse_command_line(const std::vector<std::string>& argv,
                                              std::string& error);

}  // namespace hub::ctl
