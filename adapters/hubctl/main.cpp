// hubctl: controls a running hub through its API (docs/API.md), the way supervisorctl
// controls supervisord. Exit status, for scripts: 0 done; 1 the hub refused or the
// operation failed; 2 bad command line; 3 no hub answered (not running, or timed out);
// 4 no such module or instance (or template); 5 published with --retain, but not retained.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/api_protocol.h"
#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "bus/curve.h"
#include "bus/publisher.h"
#include "bus/root_layout.h"
#include "bus/text.h"
#include "help/hubctl_help.h"
#include "hub/api_client.h"
#include "hubctl/status_table.h"

namespace {

namespace fs = std::filesystem;

enum Exit {
  kOk = 0,
  kFailed = 1,
  kBadUsage = 2,
  kUnreachable = 3,
  kNotFound = 4,
  kNotRetained = 5,  // publish --retain: delivered, but the hub did not retain it
};

// The texts of man/hubctl.1.md's help blocks: the man page shows the same.
const std::map<std::string, std::string> kHelp = [] {
  std::map<std::string, std::string> help;
  for (const auto& [command, text] : hub::help::hubctl::kCommands) help.emplace(command, text);
  return help;
}();

constexpr const char* kUsage = hub::help::hubctl::kUsage;

struct Options {
  fs::path root;        // empty: the hub find_hub_layout() finds
  fs::path credential;  // empty: default_credential_file
  std::chrono::milliseconds timeout{30000};
  std::string command;
  std::vector<std::string> args;
};

// Text from the hub (names, reasons) as it may go to a terminal (bus/text.h).
std::string printable(std::string_view text) {
  std::string out;
  hub::append_printable(out, text);
  return out;
}

int usage_error(const std::string& message, const std::string& command = "") {
  std::cerr << "hubctl: " << message << "\n" << (command.empty() ? kUsage : kHelp.at(command));
  return kBadUsage;
}

std::string request_json(std::string_view method) {
  return hub::JsonObject().add(hub::api::kMethodField, method).str();
}

// The exit status for a failed API call. bad_request from the hub is a refusal (1); 2 is
// for our own command line.
int exit_status(hub::Status::Code code) {
  using Code = hub::Status::Code;
  switch (code) {
    case Code::kUnreachable:
    case Code::kTimeout:
      return kUnreachable;
    case Code::kNotFound:
      return kNotFound;
    default:
      return kFailed;
  }
}

class Hub {
 public:
  Hub(const Options& o, hub::RootLayout layout)
      : options_(o), layout_(std::move(layout)), paths_(layout_.bus()) {}

  fs::path credential_file() const {
    return options_.credential.empty() ? hub::default_credential_file(paths_) : options_.credential;
  }

  // The result of one API call, or nullopt with the error printed; `exit` is set.
  std::optional<std::string> call(const std::string& request, int& exit) {
    auto credential = hub::read_credential_file(credential_file());
    if (!credential) {
      std::cerr << "hubctl: " << credential.error() << "\n(is a hub running on "
                << layout_.root().string() << ", its sockets in " << paths_.run_dir.string()
                << "? pass --root DIR or set HUB_ROOT)\n";
      exit = kUnreachable;
      return std::nullopt;
    }
    hub::ApiClient client(ctx_, hub::ipc_endpoint(paths_.api_socket), *credential);
    auto result = client.call(request, options_.timeout);
    if (result) {
      exit = kOk;
      return std::move(*result);
    }
    std::cerr << "hubctl: " << printable(result.error()) << "\n";
    exit = exit_status(result.code());
    return std::nullopt;
  }

  const hub::RootLayout& layout() const { return layout_; }
  const hub::BusPaths& paths() const { return paths_; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  zmq::context_t& context() { return ctx_; }

 private:
  const Options& options_;
  hub::RootLayout layout_;
  hub::BusPaths paths_;
  zmq::context_t ctx_{1};
};

int status(Hub& hub, const std::vector<std::string>& names) {
  int exit = kOk;
  auto result = hub.call(request_json(hub::api::kInspect), exit);
  if (!result) return exit;
  const auto rows = hub::ctl::status_rows(YAML::Load(*result), names);
  for (const auto& name : names) {
    if (std::none_of(rows.begin(), rows.end(), [&](const auto& r) { return r.name == name; })) {
      std::cerr << "hubctl: no module or instance " << name << "\n";
      return kNotFound;
    }
  }
  std::cout << hub::ctl::format_rows(rows);
  if (!names.empty()) std::cout << hub::ctl::format_details(YAML::Load(*result), names);
  const bool healthy =
      std::all_of(rows.begin(), rows.end(), [](const auto& r) { return r.healthy; });
  return healthy ? kOk : kFailed;
}

int inspect(Hub& hub, const std::vector<std::string>& args) {
  if (args.size() > 1 || (args.size() == 1 && args[0] != "--json"))
    return usage_error("inspect takes only --json", "inspect");
  int exit = kOk;
  auto result = hub.call(request_json(hub::api::kInspect), exit);
  if (!result) return exit;
  if (!args.empty()) {
    std::cout << *result << "\n";
    return kOk;
  }
  const YAML::Node node = YAML::Load(*result);
  const YAML::Node h = node["hub"];
  std::cout << "hub " << h["version"].Scalar() << " on " << printable(h["root"].Scalar())
            << ", pid " << h["pid"].Scalar() << ", up "
            << hub::ctl::format_uptime(h["uptime_ms"].as<int64_t>()) << "\n\n";
  std::cout << hub::ctl::format_rows(hub::ctl::status_rows(node, {}));
  for (const auto& in : node["instances"]) {
    if (in["stats"]) {
      YAML::Emitter stats;
      stats << YAML::Flow << in["stats"];
      std::cout << printable("stats of " + in["instance"].Scalar() + ": " + stats.c_str()) << "\n";
    }
  }
  const YAML::Node bus = node["bus"];
  std::cout << "\nbus: " << bus["events"].Scalar() << " events (last seq "
            << bus["last_seq"].Scalar() << "), " << bus["malformed"].Scalar() << " malformed, "
            << bus["too_large"].Scalar() << " too large, " << bus["auth_failures"].Scalar()
            << " authentication failures, " << bus["forbidden"].Scalar() << " forbidden";
  const auto by_identity = [](const YAML::Node& counts) {
    std::string by;
    for (const auto& entry : counts) {
      by +=
          (by.empty() ? "" : ", ") + printable(entry.first.Scalar()) + " " + entry.second.Scalar();
    }
    return by.empty() ? by : " (" + by + ")";
  };
  std::cout << by_identity(bus["forbidden_by"]) << "\n";
  if (bus["retained_topics"]) {
    std::cout << "retained: " << bus["retained_topics"].Scalar() << " topics, "
              << bus["retained_bytes"].Scalar() << " bytes; " << bus["retained_refused"].Scalar()
              << " not retained" << by_identity(bus["retained_refused_by"]) << "\n";
  }
  return kOk;
}

// "a, b, c"
std::string listed(const YAML::Node& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + printable(n.Scalar());
  return out;
}

// start|stop|restart all: a line per module, then one per failure with its reason.
int print_every(const std::string& answer) {
  const YAML::Node node = YAML::Load(answer);
  for (const char* done : {"stopped", "started"}) {
    if (node[done] && node[done].size() > 0) std::cout << done << " " << listed(node[done]) << "\n";
  }
  for (const auto& f : node["failed"]) {
    std::cout << "failed " << printable(f["name"].Scalar()) << ": "
              << printable(f["reason"].Scalar()) << "\n";
  }
  return node["failed"] && node["failed"].size() > 0 ? kFailed : kOk;
}

int start_or_stop(Hub& hub, const std::string& method, const std::vector<std::string>& given) {
  std::vector<std::string> args = given;
  const bool replace = method == "start" && !args.empty() && args[0] == "--replace";
  if (replace) args.erase(args.begin());
  if (args.empty()) return usage_error(method + " needs a NAME", method);
  const std::string& target = args[0];
  hub::JsonObject request;
  request.add(hub::api::kMethodField, method);
  int exit = kOk;
  if (target == "all") {
    if (args.size() > 1 || replace) return usage_error(method + " all takes nothing more", method);
    auto result = hub.call(request.add("all", true).str(), exit);
    return result ? print_every(*result) : exit;
  }
  const size_t dot = target.find('.');
  request.add("name", target.substr(0, dot));
  if (dot != std::string::npos) request.add("instance", target.substr(dot + 1));
  if (replace) request.add("replace", true);
  hub::JsonObject config;
  for (size_t i = 1; i < args.size(); ++i) {
    const size_t eq = args[i].find('=');
    if (method != "start" || dot == std::string::npos || eq == std::string::npos || eq == 0)
      return usage_error("unexpected '" + args[i] + "'", method);
    config.add(args[i].substr(0, eq), args[i].substr(eq + 1));
  }
  if (method == "restart" && dot != std::string::npos)
    return usage_error("restart takes a module NAME", method);
  if (args.size() > 1) request.add_raw("config", config.str());
  auto result = hub.call(request.str(), exit);
  if (!result) return exit;
  if (YAML::Load(*result)["already"]) {
    std::cout << target << " is already running (--replace starts it afresh)\n";
  } else {
    std::cout << method << (method == "stop" ? "ped " : "ed ") << target << "\n";
  }
  return exit;
}

int enable_or_disable(Hub& hub, const std::string& method, const std::vector<std::string>& args) {
  if (args.size() != 1) return usage_error(method + " needs one NAME", method);
  int exit = kOk;
  auto result = hub.call(
      hub::JsonObject().add(hub::api::kMethodField, method).add("name", args[0]).str(), exit);
  if (!result) return exit;
  const YAML::Node node = YAML::Load(*result);
  std::cout << method << "d " << args[0];
  if (node["reason"]) std::cout << " (not started: " << printable(node["reason"].Scalar()) << ")";
  std::cout << "\n";
  return kOk;
}

// The reason inspect gives for each module that has one.
std::map<std::string, std::string> module_reasons(Hub& hub) {
  std::map<std::string, std::string> reasons;
  int exit = kOk;
  auto result = hub.call(request_json(hub::api::kInspect), exit);
  if (!result) return reasons;
  for (const auto& m : YAML::Load(*result)["modules"]) {
    if (m["reason"]) reasons[m["name"].Scalar()] = m["reason"].Scalar();
  }
  return reasons;
}

// A line per kind of change, with the reason of each module rejected, kept or failed.
// Exit 1 when a module was rejected or failed.
int reload(Hub& hub, const std::vector<std::string>& args) {
  if (args.size() > 1 || (args.size() == 1 && args[0] != "--json"))
    return usage_error("reload takes only --json", "reload");
  int exit = kOk;
  auto result = hub.call(request_json(hub::api::kReload), exit);
  if (!result) return exit;
  const YAML::Node node = YAML::Load(*result);
  const bool troubled = (node["rejected"] && node["rejected"].size() > 0) ||
                        (node["failed"] && node["failed"].size() > 0) || node["error"];
  if (!args.empty()) {
    std::cout << *result << "\n";
    return troubled ? kFailed : kOk;
  }
  if (node["error"]) {
    std::cout << "reload failed: " << printable(node["error"].Scalar())
              << "\n(every module keeps running as it was)\n";
    return kFailed;
  }
  const auto reasons = troubled ? module_reasons(hub) : std::map<std::string, std::string>();
  bool any = false;
  for (const char* kind : {"added", "removed", "changed", "unchanged"}) {
    if (node[kind].size() == 0) continue;
    std::cout << kind << ": " << listed(node[kind]) << "\n";
    any = true;
  }
  for (const auto& k : node["kept"]) {
    std::cout << "kept running: " << printable(k["name"].Scalar())
              << " (its new definition is rejected: " << printable(k["reason"].Scalar()) << ")\n";
    any = true;
  }
  for (const char* kind : {"rejected", "failed"}) {
    for (const auto& n : node[kind]) {
      const auto reason = reasons.find(n.Scalar());
      std::cout << kind << ": " << printable(n.Scalar())
                << (reason == reasons.end() ? "" : ": " + printable(reason->second)) << "\n";
      any = true;
    }
  }
  if (!any) std::cout << "nothing to reload\n";
  return troubled ? kFailed : kOk;
}

int publish(Hub& hub, const std::vector<std::string>& args_in) {
  std::vector<std::string> args = args_in;
  bool retain = false;
  if (!args.empty() && args[0] == "--retain") {
    retain = true;
    args.erase(args.begin());
  }
  if (args.empty() || args.size() > 2)
    return usage_error("publish needs TOPIC [PAYLOAD|-]", "publish");
  std::string payload = args.size() == 2 ? args[1] : "{}";
  if (payload == "-") payload.assign(std::istreambuf_iterator<char>(std::cin), {});
  auto credential = hub::read_credential_file(hub.credential_file());
  if (!credential) {
    std::cerr << "hubctl: " << credential.error() << "\n";
    return kUnreachable;
  }
  if (hub::Status up = hub::probe_endpoint(hub::ipc_endpoint(hub.paths().ingest_socket)); !up) {
    std::cerr << "hubctl: " << up.message() << "\n";
    return kUnreachable;
  }
  hub::PublisherOptions connection;  // --timeout bounds the whole publish
  connection.send_timeout = hub.timeout();
  connection.linger = std::chrono::milliseconds(0);
  auto publisher = hub::Publisher::connect(
      hub.context(), hub::ipc_endpoint(hub.paths().ingest_socket), *credential, connection);
  if (!publisher) {
    std::cerr << "hubctl: " << publisher.error() << "\n";
    return kUnreachable;
  }
  hub::PublishOptions options;
  options.retain = retain;
  auto delivered = publisher->publish_delivered(args[0], payload, hub.timeout(), options);
  if (!delivered) {
    std::cerr << "hubctl: " << printable(delivered.error()) << "\n";
    return kFailed;
  }
  if (!delivered->not_kept.empty()) {  // no seq on stdout: only what is kept is acknowledged
    std::cerr << "hubctl: the hub could not keep '" << printable(args[0])
              << "' (delivered live as event " << delivered->seq
              << "): " << printable(delivered->not_kept) << "\n";
    return kFailed;
  }
  std::cout << delivered->seq << "\n";
  if (!delivered->not_retained.empty()) {
    std::cerr << "hubctl: event " << delivered->seq
              << " was delivered but not retained: " << printable(delivered->not_retained) << "\n";
    return kNotRetained;
  }
  return kOk;
}

// Prints the last `lines` lines (0: all) of what `fd` holds, reading it to its end: a
// partial last line is printed too, and following goes on from there.
void print_tail(int fd, size_t lines) {
  std::string text;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  size_t from = text.size();
  if (lines == 0) {
    from = 0;
  } else {
    size_t seen = 0;
    // The start of the `lines`-th line from the end (a final newline ends, not starts, one).
    for (size_t i = text.size(); i > 0; --i) {
      if (text[i - 1] == '\n' && i != text.size() && ++seen == lines) break;
      from = i - 1;
    }
  }
  std::cout << text.substr(from) << std::flush;
}

// Copies what `fd` holds from its current offset to stdout.
void copy_rest(int fd) {
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
    std::cout.write(buffer, n);
  }
  std::cout.flush();
}

ino_t inode_of_fd(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Where the file with `inode` is now: 0 for `file` itself, K for `file`.K, -1 if gone.
int rotation_index(const fs::path& file, ino_t inode) {
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && st.st_ino == inode) return 0;
  for (int k = 1; k <= 100; ++k) {  // keep is at most 100; a gap is a rename under way
    if (::stat((file.string() + "." + std::to_string(k)).c_str(), &st) == 0 && st.st_ino == inode)
      return k;
  }
  return -1;
}

// Follows `file`, open as `fd`, until SIGINT or SIGTERM: inotify on its directory tells of
// writes and of rotation (the file renamed aside and a new one created). The file stays
// open, so on rotation the rest of the old one is read before the new one.
int follow_log(const fs::path& file, int fd) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  const int signals = ::signalfd(-1, &stop, SFD_CLOEXEC);
  const int watch = ::inotify_init1(IN_CLOEXEC);
  if (signals < 0 || watch < 0 ||
      ::inotify_add_watch(watch, file.parent_path().c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) <
          0) {
    std::cerr << "hubctl: cannot follow " << file.string() << ": " << std::strerror(errno) << "\n";
    return kFailed;
  }
  copy_rest(fd);  // what came between the tail and the watch
  for (;;) {
    pollfd fds[2] = {{watch, POLLIN, 0}, {signals, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents & POLLIN) return kOk;
    char events[4096];
    if (::read(watch, events, sizeof events) < 0) continue;
    // Read to the end, then, while the file read is no longer the current one (rotated,
    // maybe more than once), go on to the next newer one: NAME.log.K-1 ... NAME.log.1,
    // then NAME.log. A move while choosing is noticed and the choice made again.
    for (;;) {
      copy_rest(fd);
      const ino_t reading = inode_of_fd(fd);
      const int k = rotation_index(file, reading);
      if (k == 0) break;  // the current file
      if (k < 0) {
        std::cerr << "hubctl: some output went by in rotated files that are already gone\n";
      }
      const fs::path newer = k <= 1 ? file : fs::path(file.string() + "." + std::to_string(k - 1));
      const int next = ::open(newer.c_str(), O_RDONLY | O_CLOEXEC);
      if (next < 0) break;  // between a rename and its new file: the next event comes
      if (k > 0 && rotation_index(file, reading) != k) {  // moved meanwhile
        ::close(next);
        continue;
      }
      // Renamed aside, the file gets no more writes; what came between the copy above and
      // the rename is read now, before leaving it.
      copy_rest(fd);
      ::close(fd);
      fd = next;
    }
  }
}

int logs(Hub& hub, const std::vector<std::string>& args) {
  std::string name;
  bool follow = false;
  size_t lines = 20;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-f" || args[i] == "--follow") {
      follow = true;
    } else if ((args[i] == "-n" || args[i] == "--lines") && i + 1 < args.size()) {
      const std::string& n = args[++i];
      if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 9)
        return usage_error("-n takes a number of lines, not '" + n + "'", "logs");
      lines = static_cast<size_t>(std::stoul(n));
    } else if (name.empty() && args[i][0] != '-') {
      name = args[i];
    } else {
      return usage_error("unexpected '" + args[i] + "'", "logs");
    }
  }
  if (name.empty()) return usage_error("logs needs a NAME", "logs");
  const fs::path file = hub.layout().instance_log(name);
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    std::cerr << "hubctl: " << file.string() << ": no such log (is " << name
              << " a service instance?)\n";
    return kNotFound;
  }
  // One open file from the tail on: a rotation in between cannot make lines go missing.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "hubctl: " << file.string() << ": " << std::strerror(errno) << "\n";
    return kFailed;
  }
  print_tail(fd, lines);
  if (!follow) return kOk;
  return follow_log(file, fd);
}

// render [--strict] MODULE TEMPLATE [KEY=VALUE...]: the text on stdout, the names it uses
// that are not defined on stderr (exit 1 for them with --strict).
int render(Hub& hub, const std::vector<std::string>& given) {
  std::vector<std::string> args = given;
  const bool strict = !args.empty() && args[0] == "--strict";
  if (strict) args.erase(args.begin());
  if (args.size() < 2) return usage_error("render needs a MODULE and a TEMPLATE", "render");
  hub::JsonObject set;
  for (size_t i = 2; i < args.size(); ++i) {
    const size_t eq = args[i].find('=');
    if (eq == std::string::npos || eq == 0)
      return usage_error("expected KEY=VALUE, not '" + args[i] + "'", "render");
    const std::string key = args[i].substr(0, eq);
    const std::string value = args[i].substr(eq + 1);
    if (hub::is_valid_json(value))
      set.add_raw(key, value);
    else
      set.add(key, value);
  }
  hub::JsonObject request;
  request.add(hub::api::kMethodField, hub::api::kRender)
      .add("name", args[0])
      .add("template", args[1]);
  if (args.size() > 2) request.add_raw("set", set.str());
  int exit = kOk;
  auto result = hub.call(request.str(), exit);
  if (!result) return exit;
  const YAML::Node node = YAML::Load(*result);
  std::cout << node["text"].Scalar() << std::flush;
  std::string undefined;
  for (const auto& n : node["undefined"]) undefined += (undefined.empty() ? "" : ", ") + n.Scalar();
  if (undefined.empty()) return kOk;
  std::cerr << "hubctl: " << args[1]
            << " uses names that are not defined (rendered empty): " << printable(undefined)
            << "\n";
  return strict ? kFailed : kOk;
}

std::optional<Options> parse(int argc, char** argv, int& exit) {
  Options o;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    const std::string a = argv[i];
    if ((a == "--root" || a == "-r") && i + 1 < argc) {
      o.root = argv[++i];
    } else if ((a == "--credential" || a == "-c") && i + 1 < argc) {
      o.credential = argv[++i];
    } else if (a == "--timeout" && i + 1 < argc) {
      char* end = nullptr;
      const double seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(seconds > 0) || seconds > 86400) {
        exit =
            usage_error(std::string("--timeout takes seconds (0 to 86400), not '") + argv[i] + "'");
        return std::nullopt;
      }
      o.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    } else if (a == "--version") {
      std::cout << "hubctl " << HUB_VERSION << "\n";
      exit = kOk;
      return std::nullopt;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      exit = kOk;
      return std::nullopt;
    } else {
      exit = usage_error("unknown option " + a);
      return std::nullopt;
    }
  }
  if (i == argc) {
    exit = usage_error("a COMMAND is needed");
    return std::nullopt;
  }
  o.command = argv[i++];
  for (; i < argc; ++i) o.args.push_back(argv[i]);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int exit = kOk;
  auto options = parse(argc, argv, exit);
  if (!options) return exit;
  const std::string& cmd = options->command;
  if (cmd == "help") {
    if (options->args.empty()) {
      std::cout << kUsage;
      return kOk;
    }
    const auto it = kHelp.find(options->args[0]);
    if (it == kHelp.end()) return usage_error("no command " + options->args[0]);
    std::cout << it->second;
    return kOk;
  }
  const auto help = kHelp.find(cmd);
  if (help == kHelp.end()) return usage_error("unknown command '" + cmd + "'");
  for (const auto& a : options->args) {
    if (a == "--help" || a == "-h") {
      std::cout << help->second;
      return kOk;
    }
  }
  if (cmd == "keygen") {  // needs no hub
    if (!options->args.empty()) return usage_error("keygen takes no arguments", "keygen");
    const auto [public_key, secret_key] = hub::curve_keypair();
    if (public_key.empty()) {
      std::cerr << "hubctl: this libzmq has no CURVE\n";
      return kFailed;
    }
    std::cout << "public: " << public_key << "\nsecret: " << secret_key << "\n";
    return kOk;
  }
  auto layout = hub::find_hub_layout(options->root);
  if (!layout) {
    std::cerr << "hubctl: " << layout.error() << "\n";
    return kFailed;
  }
  try {
    Hub hub(*options, std::move(*layout));
    if (cmd == "status") return status(hub, options->args);
    if (cmd == "inspect") return inspect(hub, options->args);
    if (cmd == "start" || cmd == "stop" || cmd == "restart")
      return start_or_stop(hub, cmd, options->args);
    if (cmd == "enable" || cmd == "disable") return enable_or_disable(hub, cmd, options->args);
    if (cmd == "reload") return reload(hub, options->args);
    if (cmd == "publish") return publish(hub, options->args);
    if (cmd == "render") return render(hub, options->args);
    return logs(hub, options->args);
  } catch (const std::exception& e) {
    std::cerr << "hubctl: " << e.what() << "\n";
    return kFailed;
  }
}
