// hubctl: controls a running hub through its API (docs/API.md), the way supervisorctl
// controls supervisord. Exit status, for scripts (hub_session.h): 0 done; 1 the hub
// refused or the operation failed; 2 bad command line; 3 no hub answered (not running,
// or timed out); 4 no such module, instance, log or template; 5 published with --retain, but not
// retained.
#include <iostream>
#include <string>
#include <vector>

#include "bus/curve.h"
#include "bus/root_layout.h"
#include "bus/text.h"
#include "help/hubctl_help.h"
#include "hubctl/command_line.h"
#include "hubctl/control_commands.h"
#include "hubctl/hub_session.h"
#include "hubctl/log_command.h"
#include "hubctl/process_commands.h"
#include "hubctl/publish_command.h"
#include "hubctl/render_command.h"

namespace {

using namespace hub::ctl;

const char* help_of(const std::string& command) {
  for (const auto& [name, text] : hub::help::hubctl::kCommands) {
    if (name == command) return text;
  }
  return nullptr;
}

int keygen(const std::vector<std::string>& args, bool json) {
  if (!args.empty()) return usage_error("keygen takes no arguments", "keygen");
  const auto [public_key, secret_key] = hub::curve_keypair();
  if (public_key.empty()) {
    std::cerr << "hubctl: this libzmq has no CURVE\n";
    return kFailed;
  }
  if (json) {
    std::cout << hub::JsonObject().add("public", public_key).add("secret", secret_key).str()
              << "\n";
  } else {
    std::cout << "public: " << public_key << "\nsecret: " << secret_key << "\n";
  }
  return kOk;
}

int run(Hub& hub, const std::string& cmd, const std::vector<std::string>& args) {
  if (cmd == "status") return status(hub, args);
  if (cmd == "inspect") return inspect(hub, args);
  if (cmd == "start" || cmd == "stop" || cmd == "restart") return start_or_stop(hub, cmd, args);
  if (cmd == "enable" || cmd == "disable") return enable_or_disable(hub, cmd, args);
  if (cmd == "reload" || cmd == "reread") return reload(hub, args, cmd == "reread");
  if (cmd == "publish") return publish(hub, args);
  if (cmd == "pid") return pid(hub, args);
  if (cmd == "avail") return avail(hub, args);
  if (cmd == "signal") return signal_command(hub, args);
  if (cmd == "render") return render(hub, args);
  return logs(hub, args);  // logs, tail
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  const auto line = parse_command_line(std::vector<std::string>(argv + 1, argv + argc), error);
  if (!line) return usage_error(error);
  if (line->version) {
    std::cout << "hubctl " << HUB_VERSION << "\n";
    return kOk;
  }
  const std::string& cmd = line->command;
  if (line->help && (cmd.empty() || !help_of(cmd))) {
    std::cout << hub::help::hubctl::kUsage;
    return kOk;
  }
  if (cmd.empty()) return usage_error("a COMMAND is needed");
  if (cmd == "help") {
    if (line->args.empty()) {
      std::cout << hub::help::hubctl::kUsage;
      return kOk;
    }
    const char* help = help_of(line->args[0]);
    if (help == nullptr) return usage_error("no command " + line->args[0]);
    std::cout << help;
    return kOk;
  }
  const char* help = help_of(cmd);
  if (help == nullptr) return usage_error("unknown command '" + cmd + "'");
  bool wants_help = line->help;
  for (const auto& a : line->args) {
    if (a == "--") break;
    wants_help = wants_help || a == "--help" || a == "-h";
  }
  if (wants_help) {
    std::cout << help;
    return kOk;
  }
  if (cmd == "keygen") return keygen(line->args, line->json);  // needs no hub
  auto layout = hub::find_hub_layout(line->root);
  if (!layout) {
    std::cerr << "hubctl: " << layout.error() << "\n";
    return kFailed;
  }
  try {
    Hub hub(*line, std::move(*layout));
    return run(hub, cmd, line->args);
  } catch (const std::exception& e) {
    std::cerr << "hubctl: " << e.what() << "\n";
    return kFailed;
  }
}
