#include "core/services/service_spec.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include <yaml-cpp/yaml.h>

#include "bus/root_layout.h"
#include "bus/topic_filter.h"
#include "core/config/yaml_reader.h"
#include "core/modules/module_config.h"

namespace hub {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::chrono::milliseconds restart_delay(const RestartPolicy& policy, int64_t attempt) {
  const double scaled = static_cast<double>(policy.backoff_min.count()) *
                        std::pow(policy.backoff_factor, static_cast<double>(attempt - 1));
  const double capped = std::min(scaled, static_cast<double>(policy.backoff_max.count()));
  return milliseconds(static_cast<int64_t>(capped));
}

std::string port_variable(const std::string& name) {
  std::string variable = "HUB_PORT_";
  for (char c : name) variable += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return variable;
}

namespace {

constexpr const char* kFileName = "service.yml";
const char* const kReservedTargets[] = {kWorkspaceConfigDir, kWorkspaceDataLink, kWorkspaceLogLink};

bool is_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A name of service.yml `ports:`: [a-z][a-z0-9_]*, so that it is an ST name
// (instance.ports.NAME) and upper-cased a variable name (HUB_PORT_NAME).
bool is_port_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxPortNameLength || name[0] < 'a' || name[0] > 'z')
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A top-level key needs_config may name: [A-Za-z0-9_-]+.
bool is_config_key(const std::string& key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool has_dot_dot(const fs::path& p) {
  return std::any_of(p.begin(), p.end(), [](const fs::path& part) { return part == ".."; });
}

// True when one of the two relative paths is the other or lies inside it.
bool overlaps(const fs::path& a, const fs::path& b) {
  auto ia = a.begin(), ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    if (*ia != *ib) return false;
  }
  return true;
}

// `target` in normal form without a trailing '/' ("etc/" is "etc"), so that overlaps()
// compares whole names: a trailing '/' would leave an empty last part that matches nothing.
fs::path normal_target(const std::string& target) {
  fs::path p = fs::path(target).lexically_normal();
  if (p.has_relative_path() && !p.has_filename()) p = p.parent_path();
  return p;
}

// What is wrong with a volume's target, if anything.
std::optional<std::string> target_problem(const std::string& target) {
  const fs::path p = normal_target(target);
  if (target.empty() || p.is_absolute())
    return "expected a path relative to the workspace, got '" + target + "'";
  if (has_dot_dot(p) || p == ".") return "'" + target + "' leaves the workspace";
  for (const char* reserved : kReservedTargets) {
    if (overlaps(p, reserved))
      return "'" + target + "' overlaps " + reserved + ", which the hub links itself";
  }
  return std::nullopt;
}

// What is wrong with a template's source, if anything.
std::optional<std::string> template_source_problem(const std::string& source) {
  const fs::path p(source);
  const fs::path normal = p.lexically_normal();
  if (p.is_absolute() || has_dot_dot(p) || normal.begin() == normal.end() ||
      *normal.begin() != "templates" || p.extension() != ".st") {
    return "expected a .st file of the module's templates/ (templates/NAME.st), got '" + source +
           "'";
  }
  return std::nullopt;
}

// What is wrong with a template's target, if anything: a file inside the workspace.
std::optional<std::string> template_target_problem(const std::string& target) {
  if (has_dot_dot(fs::path(target))) return "'" + target + "' has '..'";
  if (!target.empty() && target.back() == '/')
    return "expected a file, got the directory '" + target + "'";
  return target_problem(target);
}

// "0640" or "0o640" (YAML 1.1 and 1.2 octal): bits 0 to 0777.
std::optional<mode_t> octal_mode(std::string text) {
  if (text.rfind("0o", 0) == 0) {
    text.erase(1, 1);
  }
  if (text.size() < 2 || text.size() > 4 || text[0] != '0') return std::nullopt;
  mode_t bits = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    bits = bits * 8 + static_cast<mode_t>(c - '0');
  }
  if (bits > 0777) return std::nullopt;
  return bits;
}

class SpecParser {
 public:
  explicit SpecParser(YamlReader& reader) : r_(reader) {}

  void parse(const YAML::Node& node, ServiceSpec& spec) {
    if (!r_.expect_map(
            node, "",
            {"command", "args", "env", "restart", "stop", "ready", "limits", "volumes", "templates",
             "log", "user", "group", "needs_config", "check", "subscribe", "ports"}))
      return;
    parse_account(node, spec);
    r_.read(node, "", "command", spec.command);
    if (node["command"] && node["command"].IsScalar() && spec.command.empty())
      r_.problem(node["command"], "command", "expected a program, got an empty string");
    r_.read(node, "", "args", spec.args);
    parse_subscribe(node, spec);
    parse_ports(node["ports"], spec.ports);
    parse_env(node["env"], spec.env);
    parse_restart(node["restart"], spec.restart);
    if (const YAML::Node stop = node["stop"]; stop && r_.expect_map(stop, "stop", {"grace"}))
      r_.read_duration(stop, "stop", "grace", spec.stop_grace, milliseconds(0),
                       std::chrono::hours(1));
    if (const YAML::Node ready = node["ready"];
        ready && r_.expect_map(ready, "ready", {"notify", "timeout"})) {
      r_.read(ready, "ready", "notify", spec.ready_notify);
      r_.read_duration(ready, "ready", "timeout", spec.ready_timeout, kMinReadyTimeout,
                       std::chrono::hours(1));
    }
    parse_needs_config(node, spec);
    parse_check(node["check"], spec.check);
    parse_limits(node["limits"], spec.limits);
    parse_volumes(node["volumes"], spec.volumes);
    parse_templates(node["templates"], spec);
    if (const YAML::Node log = node["log"];
        log && r_.expect_map(log, "log", {"to", "max_size", "keep"})) {
      std::string to;
      r_.read(log, "log", "to", to);
      if (to == "journal") {
        spec.log_to = ServiceSpec::LogTo::kJournal;
      } else if (!to.empty() && to != "file") {
        r_.problem(log["to"], "log.to", "expected file or journal");
      }
      uint64_t size = 0;
      r_.read_size(log, "log", "max_size", size, uint64_t{1} << 40);
      if (size > 0) spec.log_max_size = size;
      int64_t keep = -1;
      r_.read(log, "log", "keep", keep, 0, 100);
      if (keep >= 0) spec.log_keep = keep;
    }
  }

 private:
  // subscribe: MQTT patterns of other modules' topics the module may read.
  void parse_subscribe(const YAML::Node& node, ServiceSpec& spec) {
    r_.read(node, "", "subscribe", spec.subscribe);
    const YAML::Node key = node["subscribe"];
    if (!key || !key.IsSequence()) return;
    for (const auto& pattern : spec.subscribe) {
      if (auto problem = pattern_problem(pattern)) return r_.problem(key, "subscribe", *problem);
    }
  }

  // ports: [http, admin]: names of ports for the supervisor to pick at every start.
  void parse_ports(const YAML::Node& ports, std::vector<std::string>& out) {
    if (!ports) return;
    if (!ports.IsSequence()) {
      return r_.problem(ports, "ports",
                        "expected a list of port names, such as [http, admin] (hubd picks "
                        "each port at every start)");
    }
    if (ports.size() > kMaxPorts)
      return r_.problem(ports, "ports", "expected at most " + std::to_string(kMaxPorts) + " ports");
    out.clear();
    for (size_t i = 0; i < ports.size(); ++i) {
      const YAML::Node p = ports[i];
      const std::string key = "ports[" + std::to_string(i) + "]";
      const std::string name = p.IsScalar() ? p.Scalar() : "";
      if (!is_port_name(name)) {
        r_.problem(p, key,
                   "expected a port name (a lower-case letter, then lower-case letters, digits "
                   "and '_', at most " +
                       std::to_string(kMaxPortNameLength) + " characters), got " +
                       (p.IsScalar() ? "'" + name + "'" : std::string("a list or map")));
      } else if (std::find(out.begin(), out.end(), name) != out.end()) {
        r_.problem(p, key, "'" + name + "' is asked for twice");
      } else {
        out.push_back(name);
      }
    }
  }

  void parse_needs_config(const YAML::Node& node, ServiceSpec& spec) {
    const YAML::Node key = node["needs_config"];
    if (!key) return;
    r_.read(node, "", "needs_config", spec.needs_config);
    if (key.IsScalar() && !is_config_key(spec.needs_config)) {
      r_.problem(key, "needs_config",
                 "expected a top-level key of the module's configuration ([A-Za-z0-9_-]+), "
                 "got '" +
                     spec.needs_config + "'");
    }
  }

  // check: {command, args, timeout}; an override may set only some of them.
  void parse_check(const YAML::Node& check, std::optional<ConfigCheck>& out) {
    if (!check || !r_.expect_map(check, "check", {"command", "args", "timeout"})) return;
    ConfigCheck c = out.value_or(ConfigCheck{});
    r_.read(check, "check", "command", c.command);
    if (check["command"] && check["command"].IsScalar() && c.command.empty())
      r_.problem(check["command"], "check.command", "expected a program, got an empty string");
    r_.read(check, "check", "args", c.args);
    r_.read_duration(check, "check", "timeout", c.timeout, kMinCheckTimeout, kMaxCheckTimeout);
    out = std::move(c);
  }

  void parse_env(const YAML::Node& env, std::vector<std::pair<std::string, std::string>>& out) {
    if (!env) return;
    if (!env.IsMap()) return r_.problem(env, "env", "expected a map of NAME: value");
    out.clear();
    for (const auto& entry : env) {
      const std::string name = entry.first.Scalar();
      const std::string key = "env." + name;
      if (!is_env_name(name)) {
        r_.problem(entry.first, key, "expected a variable name (letters, digits and '_')");
      } else if (name.rfind("HUB_", 0) == 0) {
        r_.problem(entry.first, key, "HUB_ variables are set by the hub and cannot be overridden");
      } else if (!entry.second.IsScalar()) {
        r_.problem(entry.second, key, "expected a string value");
      } else if (r_.free_of_nul(entry.second, key)) {
        out.emplace_back(name, entry.second.Scalar());
      }
    }
  }

  void parse_restart(const YAML::Node& restart, RestartPolicy& out) {
    if (!restart ||
        !r_.expect_map(restart, "restart", {"policy", "backoff", "reset_after", "retries"}))
      return;
    if (const YAML::Node policy = restart["policy"]) {
      const std::string text = policy.IsScalar() ? policy.Scalar() : "";
      if (text == "always") {
        out.mode = RestartMode::kAlways;
      } else if (text == "on-failure") {
        out.mode = RestartMode::kOnFailure;
      } else if (text == "no") {
        out.mode = RestartMode::kNever;
      } else {
        r_.problem(policy, "restart.policy", "expected always, on-failure or no");
      }
    }
    if (const YAML::Node backoff = restart["backoff"];
        backoff && r_.expect_map(backoff, "restart.backoff", {"min", "max", "factor"})) {
      r_.read_duration(backoff, "restart.backoff", "min", out.backoff_min, kMinRestartDelay,
                       std::chrono::hours(1));
      r_.read_duration(backoff, "restart.backoff", "max", out.backoff_max, kMinRestartDelay,
                       std::chrono::hours(24));
      if (const YAML::Node factor = backoff["factor"]) {
        double value = 0;
        if (!factor.IsScalar() || !YAML::convert<double>::decode(factor, value) || value < 1 ||
            value > 100) {
          r_.problem(factor, "restart.backoff.factor", "expected a number from 1 to 100");
        } else {
          out.backoff_factor = value;
        }
      }
    }
    r_.read_duration(restart, "restart", "reset_after", out.reset_after, kMinResetAfter,
                     std::chrono::hours(24));
    if (const YAML::Node retries = restart["retries"];
        retries && retries.IsScalar() && retries.Scalar() == "unlimited") {
      out.retries = -1;
    } else if (retries && !(retries.IsScalar() && is_integer(retries.Scalar()))) {
      r_.problem(retries, "restart.retries", "expected a number of restarts or 'unlimited'");
    } else {
      r_.read(restart, "restart", "retries", out.retries, 0, 1'000'000);
    }
  }

  // user: and group:, names or numbers that must exist on this system.
  void parse_account(const YAML::Node& node, ServiceSpec& spec) {
    if (const YAML::Node user = node["user"]) {
      std::string name;
      r_.read(node, "", "user", name);
      const auto id = numeric_id(name);
      const struct passwd* pw = name.empty()       ? nullptr
                                : id               ? ::getpwuid(static_cast<uid_t>(*id))
                                : is_integer(name) ? nullptr
                                                   : ::getpwnam(name.c_str());
      if (pw == nullptr) {
        r_.problem(user, "user", "expected a user of this system, got '" + name + "'");
      } else {
        spec.user = RunAs{pw->pw_name, pw->pw_uid, pw->pw_gid};
      }
    }
    if (const YAML::Node group = node["group"]) {
      std::string name;
      r_.read(node, "", "group", name);
      const auto id = numeric_id(name);
      const struct group* gr = name.empty()       ? nullptr
                               : id               ? ::getgrgid(static_cast<gid_t>(*id))
                               : is_integer(name) ? nullptr
                                                  : ::getgrnam(name.c_str());
      if (gr == nullptr) {
        r_.problem(group, "group", "expected a group of this system, got '" + name + "'");
      } else {
        spec.group = std::make_pair(std::string(gr->gr_name), gr->gr_gid);
      }
    }
  }

  static bool is_integer(const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  }

  // A user or group id written as a number, when it is one a system can have (not the
  // all-ones value, which means "unchanged" to the system calls).
  static std::optional<uint32_t> numeric_id(const std::string& s) {
    if (!is_integer(s) || s.size() > 10) return std::nullopt;
    const uint64_t value = std::strtoull(s.c_str(), nullptr, 10);
    if (value >= UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(value);
  }

  void read_count(const YAML::Node& map, const char* key, std::optional<uint64_t>& out) {
    int64_t value = -1;
    r_.read(map, "limits", key, value, 1, int64_t{1} << 40);
    if (value > 0) out = static_cast<uint64_t>(value);
  }

  void parse_limits(const YAML::Node& limits, ResourceLimits& out) {
    if (!limits || !r_.expect_map(limits, "limits",
                                  {"address_space", "open_files", "processes", "cpu_seconds",
                                   "nice", "memory", "cpu", "pids"}))
      return;
    uint64_t bytes = 0;
    r_.read_size(limits, "limits", "address_space", bytes, uint64_t{1} << 50);
    if (bytes > 0) out.address_space = bytes;
    read_count(limits, "open_files", out.open_files);
    read_count(limits, "processes", out.processes);
    read_count(limits, "cpu_seconds", out.cpu_seconds);
    int64_t nice = 100;
    r_.read(limits, "limits", "nice", nice, -20, 19);
    if (nice != 100) out.nice = static_cast<int>(nice);
    parse_cgroup_limits(limits, out);
  }

  // memory, cpu and pids: the instance's cgroup (core/services/cgroup.h).
  void parse_cgroup_limits(const YAML::Node& limits, ResourceLimits& out) {
    uint64_t memory = 0;
    r_.read_size(limits, "limits", "memory", memory, uint64_t{1} << 50);
    if (memory > 0) out.memory = memory;
    if (const YAML::Node cpu = limits["cpu"]) {
      double cores = 0;
      if (!cpu.IsScalar() || !YAML::convert<double>::decode(cpu, cores) || !(cores >= 0.01) ||
          cores > 1024) {
        r_.problem(cpu, "limits.cpu", "expected a number of cores from 0.01 to 1024, such as 0.5");
      } else {
        out.cpu = cores;
      }
    }
    int64_t pids = -1;
    r_.read(limits, "limits", "pids", pids, 1, 4'194'304);
    if (pids > 0) out.pids = static_cast<uint64_t>(pids);
  }

  void parse_volumes(const YAML::Node& volumes, std::vector<Volume>& out) {
    if (!volumes) return;
    if (!volumes.IsSequence())
      return r_.problem(volumes, "volumes", "expected a list of {source, target}");
    out.clear();
    for (size_t i = 0; i < volumes.size(); ++i) {
      const YAML::Node v = volumes[i];
      const std::string key = "volumes[" + std::to_string(i) + "]";
      if (!r_.expect_map(v, key, {"source", "target"})) continue;
      Volume volume;
      r_.read(v, key, "source", volume.source);
      r_.read(v, key, "target", volume.target);
      if (!v["source"] || !v["target"]) {
        r_.problem(v, key, "expected both source and target");
        continue;
      }
      if (volume.source.empty() || has_dot_dot(fs::path(volume.source))) {
        r_.problem(v["source"], key + ".source",
                   "expected a path without '..', got '" + volume.source + "'");
      }
      if (const auto why = target_problem(volume.target)) {
        r_.problem(v["target"], key + ".target", *why);
      }
      for (const auto& other : out) {
        if (overlaps(normal_target(other.target), normal_target(volume.target))) {
          r_.problem(v["target"], key + ".target", "overlaps the volume at " + other.target);
        }
      }
      volume.target = normal_target(volume.target).string();  // "data/" links as "data"
      out.push_back(std::move(volume));
    }
  }

  // templates: [{source, target, mode}]; a target may not overlap what the hub links
  // itself, a volume (it would be written through the link) or another template's.
  void parse_templates(const YAML::Node& templates, ServiceSpec& spec) {
    if (!templates) return;
    if (!templates.IsSequence())
      return r_.problem(templates, "templates", "expected a list of {source, target, mode}");
    spec.templates.clear();
    for (size_t i = 0; i < templates.size(); ++i) {
      const YAML::Node t = templates[i];
      const std::string key = "templates[" + std::to_string(i) + "]";
      if (!r_.expect_map(t, key, {"source", "target", "mode"})) continue;
      TemplateFile file;
      r_.read(t, key, "source", file.source);
      r_.read(t, key, "target", file.target);
      if (!t["source"] || !t["target"]) {
        r_.problem(t, key, "expected both source and target");
        continue;
      }
      if (const auto why = template_source_problem(file.source))
        r_.problem(t["source"], key + ".source", *why);
      if (const auto why = template_target_problem(file.target)) {
        r_.problem(t["target"], key + ".target", *why);
        continue;
      }
      const fs::path target = normal_target(file.target);
      for (const auto& volume : spec.volumes) {
        if (overlaps(normal_target(volume.target), target))
          r_.problem(t["target"], key + ".target", "overlaps the volume at " + volume.target);
      }
      for (const auto& other : spec.templates) {
        if (overlaps(fs::path(other.target), target))
          r_.problem(t["target"], key + ".target", "overlaps the template target " + other.target);
      }
      if (const YAML::Node mode = t["mode"]) {
        if (const auto bits = octal_mode(mode.IsScalar() ? mode.Scalar() : "")) {
          file.mode = *bits;
        } else {
          r_.problem(mode, key + ".mode",
                     "expected an octal file mode from 0000 to 0777 with its leading 0, such as "
                     "0640");
        }
      }
      file.target = target.string();
      spec.templates.push_back(std::move(file));
    }
  }

  YamlReader& r_;
};

}  // namespace

Result<std::optional<ServiceSpec>> load_service_spec(const RootLayout& layout,
                                                     const std::vector<std::string>& levels,
                                                     const fs::path& module_dir,
                                                     const std::string& name, FileFault* fault) {
  const auto failed = [fault](const YamlReader& reader) {
    if (fault != nullptr) *fault = reader.fault();
    return reader.status();
  };
  std::vector<fs::path> files = {module_dir / kFileName};
  for (const auto& level : levels)
    files.push_back(layout.module_config_dir(level, name) / kFileName);
  YAML::Node merged;
  std::string last_file;
  // Merged nodes carry no positions (YAML::Clone drops them), so restart.backoff, which
  // only the merge can get wrong, is reported where the last file to set it set it.
  std::string backoff_file;
  YAML::Node backoff_node;
  for (const auto& file : files) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(file, ec))) continue;  // a dangling link is reported
    YamlReader reader(file.string());
    const YAML::Node node = reader.load_file(file.string());
    if (!reader.ok()) return failed(reader);
    if (node.IsNull()) continue;  // an empty override changes nothing
    ServiceSpec scratch;
    SpecParser(reader).parse(node, scratch);  // each file is checked where its lines are known
    if (!reader.ok()) return failed(reader);
    if (const YAML::Node restart = node["restart"]; restart && restart["backoff"]) {
      backoff_file = file.string();
      backoff_node.reset(restart["backoff"]);  // operator= would overwrite what it refers to
    }
    merged = merge_yaml(merged, node);
    last_file = file.string();
  }
  if (last_file.empty()) return std::optional<ServiceSpec>();  // no service

  ServiceSpec spec;
  YamlReader reader(last_file);
  SpecParser(reader).parse(merged, spec);
  if (spec.command.empty()) reader.problem(YAML::Node(), "command", "expected the program to run");
  if (spec.check && spec.check->command.empty())
    reader.problem(YAML::Node(), "check.command", "expected the program to run");
  if (!reader.ok()) return failed(reader);
  if (spec.restart.backoff_min > spec.restart.backoff_max) {
    YamlReader backoff_reader(backoff_file);
    backoff_reader.problem(backoff_node, "restart.backoff", "expected min no larger than max");
    return failed(backoff_reader);
  }
  YAML::Emitter text;
  text << merged;
  spec.text = text.c_str();
  return std::optional<ServiceSpec>(std::move(spec));
}

Result<fs::path> resolve_volume_source(const RootLayout& layout,
                                       const std::vector<std::string>& allowed,
                                       const Volume& volume) {
  const fs::path& root = layout.root();
  const fs::path source(volume.source);
  std::error_code ec;
  const fs::path real = fs::weakly_canonical(source.is_absolute() ? source : root / source, ec);
  if (ec) return Status::error("volume " + volume.source + ": " + ec.message());
  const auto within = [](const fs::path& path, const fs::path& dir) {
    std::error_code e;
    const fs::path base = fs::weakly_canonical(dir, e);
    if (e) return false;
    const fs::path rel = path.lexically_relative(base);
    return !rel.empty() && !has_dot_dot(rel);
  };
  const auto inside = [&](const fs::path& dir) { return within(real, dir); };
  for (const auto& state : layout.state_dirs()) {  // wherever hub.yml paths: put them
    std::error_code e;
    if (inside(state) || within(fs::weakly_canonical(state, e), real)) {
      return Status::error("volume " + volume.source + " would expose the hub's own state (" +
                           state.string() + ")");
    }
  }
  if (inside(root)) {
    std::error_code e;
    const fs::path rel = real.lexically_relative(fs::weakly_canonical(root, e));
    if (rel == "." || *rel.begin() == "var") {
      return Status::error("volume " + volume.source +
                           " would expose the hub's own state (the root or var/)");
    }
    return real;
  }
  for (const auto& dir : allowed) {
    if (inside(dir)) return real;
  }
  return Status::error("volume " + volume.source + " resolves to " + real.string() +
                       ", outside the root; allow it in hub.yml services.volume_paths");
}

}  // namespace hub
