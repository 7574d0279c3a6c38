// A module's service: modules/LEVEL/NAME/service.yml, overridden by
// config/LEVEL/modules/NAME/service.yml at each config level (maps merge deeply, higher
// level wins). Every file is checked on its own, so a problem names that file, line and
// key; a module with a bad service definition is rejected. Documented in README.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/root_layout.h"
#include "bus/status.h"
#include "core/system/files.h"

namespace hub {

enum class RestartMode { kAlways, kOnFailure, kNever };

// The shortest delay before a restart (restart.backoff min and max). A service that exits
// at once is then started at most 100 times a second before its backoff grows; shorter,
// a crash loop turns into a busy loop of fork, exec and journaled NAME/started and
// NAME/exited events that takes the CPU and the flash from the hub and the other services.
constexpr std::chrono::milliseconds kMinRestartDelay{10};
// The shortest restart.reset_after: with 0 every run would reset the count of restarts,
// so `retries` would never be reached and a crash loop would never be given up.
constexpr std::chrono::milliseconds kMinResetAfter{100};
// The shortest ready.timeout: with 0 no service could ever be ready in time.
constexpr std::chrono::milliseconds kMinReadyTimeout{100};
// check.timeout: the loader waits this long for a configuration check, at load and at
// every reload, so it is bounded above as well as below.
constexpr std::chrono::milliseconds kDefaultCheckTimeout{10000};
constexpr std::chrono::milliseconds kMinCheckTimeout{100};
constexpr std::chrono::milliseconds kMaxCheckTimeout{5 * 60 * 1000};
// service.yml `ports:` names at most this many ports, each name at most this long.
constexpr size_t kMaxPorts = 32;
constexpr size_t kMaxPortNameLength = 32;

struct RestartPolicy {
  RestartMode mode = RestartMode::kOnFailure;
  std::chrono::milliseconds backoff_min{1000};  // delay before the first restart
  std::chrono::milliseconds backoff_max{60000};
  double backoff_factor = 2.0;                   // each further restart waits this much longer
  std::chrono::milliseconds reset_after{30000};  // a run this long resets attempts and delay
  int64_t retries = 5;                           // restarts in a row before giving up; -1: never
};

// The delay before restart `attempt` (1 for the first): min * factor^(attempt-1), at most max.
std::chrono::milliseconds restart_delay(const RestartPolicy& policy, int64_t attempt);

struct ResourceLimits {
  // Applied with setrlimit (and nice) in the service's process.
  std::optional<uint64_t> address_space;  // bytes (RLIMIT_AS)
  std::optional<uint64_t> open_files;     // RLIMIT_NOFILE
  std::optional<uint64_t> processes;      // RLIMIT_NPROC (per user, as the kernel counts it)
  std::optional<uint64_t> cpu_seconds;    // RLIMIT_CPU
  std::optional<int> nice;                // -20 (most favoured) to 19
  // Applied to the instance's cgroup as a whole (core/services/cgroup.h); without cgroups, memory
  // becomes RLIMIT_AS and pids RLIMIT_NPROC where those are not set.
  std::optional<uint64_t> memory;  // bytes, swap included
  std::optional<double> cpu;       // cores: 0.5 is half of one core's time
  std::optional<uint64_t> pids;    // processes and threads at once
};

// What the hub itself puts in every workspace (service_workspace.h), relative to it: the
// service's config and credential, and links to its data and to its log directory. A
// volume may not cover or hide them.
inline constexpr const char* kWorkspaceConfigDir = "etc/hub";
inline constexpr const char* kWorkspaceDataLink = "var/db/hub";
inline constexpr const char* kWorkspaceLogLink = "var/log/hub";

struct Volume {
  std::string source;  // as written: relative to the root, or absolute
  std::string target;  // relative to the workspace
};

// service.yml `templates:`: a file the supervisor renders (core/services/template_files.h)
// into the instance's workspace at every start, from a StringTemplate file of the module.
struct TemplateFile {
  std::string source;  // relative to the module directory, under templates/, ending in .st
  std::string target;  // relative to the workspace, in normal form
  mode_t mode = 0640;  // rw-r-----: a rendered config may hold the module's secrets
};

// The account a service (and its module's scripts) runs as: service.yml `user:`.
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // the user's own group, unless `group:` names another
};

// service.yml `check:`: a program the loader runs to vet the module's configuration
// before its service may run (core/modules/module_check.h).
struct ConfigCheck {
  std::string command;            // resolved like ServiceSpec::command
  std::vector<std::string> args;  // before the config files' paths
  std::chrono::milliseconds timeout = kDefaultCheckTimeout;
};

struct ServiceSpec {
  std::string command;  // relative to the module directory when it contains '/', else on PATH
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // in file order; HUB_* is refused
  RestartPolicy restart;
  std::chrono::milliseconds stop_grace{10000};  // SIGTERM, then SIGKILL after this
  bool ready_notify = false;  // the service says when it is ready (see README: readiness)
  std::chrono::milliseconds ready_timeout{30000};
  ResourceLimits limits;
  std::vector<Volume> volumes;
  std::vector<TemplateFile> templates;                 // in file order
  std::optional<RunAs> user;                           // none: hubd's own user
  std::optional<std::pair<std::string, gid_t>> group;  // none: the user's own group
  std::optional<uint64_t> log_max_size;                // hub.yml services.log when absent
  std::optional<int64_t> log_keep;
  // log.to: where stdout and stderr go: the instance's file (var/log/hub/INSTANCE.log,
  // rotated), or the journal, each line a record with the instance's name as identifier
  // (the file when journald is not there).
  enum class LogTo { kFile, kJournal };
  LogTo log_to = LogTo::kFile;
  // needs_config: the service runs only when the module's merged configuration has this
  // top-level key, not null; empty: always.
  std::string needs_config;
  std::optional<ConfigCheck> check;
  // subscribe: what the module's identities (its service's instances and its scripts)
  // may read besides their own topics, Hub/# and the lifecycle events: MQTT patterns,
  // e.g. ["Timer/#"] (bus/subscribe_rules.h).
  std::vector<std::string> subscribe;
  // ports: the TCP ports it asks for, by name ([a-z][a-z0-9_]*, each once), in file order.
  // At every start the supervisor picks a free port on 127.0.0.1 for each and hands it
  // over as HUB_PORT_NAME (upper-cased) and as its templates' instance.ports.NAME.
  std::vector<std::string> ports;
  // The merged definition as YAML text: two specs with the same text are the same service.
  std::string text;
};

// The variable a service finds the port named NAME in: HUB_PORT_ and NAME upper-cased
// ("http": HUB_PORT_HTTP).
std::string port_variable(const std::string& name);

// Reads the module's service.yml files (each a regular file of YAML within the bounds of
// yaml_document.h). No file at all: std::nullopt. Fails with every problem found
// (file:line:column: key: what was expected); with `fault`, also says there which file
// and line.
Result<std::optional<ServiceSpec>> load_service_spec(const RootLayout& layout,
                                                     const std::vector<std::string>& levels,
                                                     const std::filesystem::path& module_dir,
                                                     const std::string& name,
                                                     FileFault* fault = nullptr);

// Where a volume's source really is (symbolic links resolved), or why it may not be
// used: it must stay inside the root or inside one of `allowed` (absolute paths), and
// stay out of the hub's own state (the root itself, its var/, the layout's state_dirs).
Result<std::filesystem::path> resolve_volume_source(const RootLayout& layout,
                                                    const std::vector<std::string>& allowed,
                                                    const Volume& volume);

}  // namespace hub
