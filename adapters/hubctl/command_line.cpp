#include "hubctl/command_line.h"

#include <cstdlib>

namespace hub::ctl {
namespace {

// "--root=DIR" -> ("--root", "DIR"); anything else -> (arg, nullopt).
std::pair<std::string, std::optional<std::string>> split_value(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (arg.rfind("--", 0) != 0 || eq == std::string::npos) return {arg, std::nullopt};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

bool takes_value(const std::string& name) {
  return name == "--root" || name == "--credential" || name == "--timeout" || name == "--output";
}

// Whether `name` (as given, after the command `command`) is a global option there.
bool global_after_command(const std::string& name, const std::string& command) {
  if (takes_value(name) || name == "--json" || name == "--version" || name == "-o") return true;
  if (name == "-c") return true;
  return name == "-r" && command != "publish";  // publish -r: retain, as mosquitto_pub
}

// Whether `arg`, an argument of `command`, takes the next argument as its value there, so
// that value is never read as a global option (publish -m --json publishes "--json").
bool command_option_takes_value(const std::string& arg, const std::string& command) {
  if (command != "publish") return false;
  return arg == "-t" || arg == "--topic" || arg == "-m" || arg == "--message" || arg == "-f" ||
         arg == "--file" || arg == "--content-type";
}

std::string long_name(const std::string& name) {
  if (name == "-r") return "--root";
  if (name == "-c") return "--credential";
  if (name == "-o") return "--output";
  return name;
}

}  // namespace

std::optional<CommandLine> parse_command_line(const std::vector<std::string>& argv,
                                              std::string& error) {
  CommandLine line;
  bool options_end = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (options_end) {
      (line.command.empty() ? line.command : line.args.emplace_back()) = arg;
      continue;
    }
    if (!line.command.empty() && command_option_takes_value(arg, line.command) &&
        i + 1 < argv.size()) {
      line.args.push_back(arg);
      line.args.push_back(argv[++i]);
      continue;
    }
    if (arg == "--") {
      options_end = true;
      if (!line.command.empty()) line.args.push_back(arg);  // the command's own "--" too
      continue;
    }
    auto [given, inline_value] = split_value(arg);
    const bool before_command = line.command.empty();
    const bool global = before_command ? given.size() > 1 && given[0] == '-'
                                       : global_after_command(given, line.command);
    if (!global) {
      (before_command ? line.command : line.args.emplace_back()) = arg;
      continue;
    }
    const std::string name = long_name(given);
    if (takes_value(name)) {
      if (!inline_value && i + 1 == argv.size()) {
        error = name + " needs a value";
        return std::nullopt;
      }
      const std::string value = inline_value ? *inline_value : argv[++i];
      if (name == "--root") {
        line.root = value;
      } else if (name == "--credential") {
        line.credential = value;
      } else if (name == "--output") {
        if (value != "json" && value != "text") {
          error = "-o takes json or text, not '" + value + "'";
          return std::nullopt;
        }
        line.json = value == "json";
      } else {
        char* end = nullptr;
        const double seconds = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || !(seconds > 0) || seconds > 86400) {
          error = "--timeout takes seconds (0 to 86400), not '" + value + "'";
          return std::nullopt;
        }
        line.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
      }
    } else if (inline_value) {
      error = name + " takes no value";
      return std::nullopt;
    } else if (name == "--json") {
      line.json = true;
    } else if (name == "--version") {
      line.version = true;
    } else if (name == "--help" || name == "-h") {
      line.help = true;
    } else {
      error = "unknown option " + arg;
      return std::nullopt;
    }
  }
  return line;
}

}  // namespace hub::ctl
