// The module loader: finds the modules of a root (TREE/LEVEL/NAME/ for each module tree
// of its layout, modules/ unless hub.yml paths.modules says otherwise), checks their
// info/ files, resolves dependencies and versions, and decides what loads, in which
// order, and why anything does not. Pure with respect to the bus: hubd publishes its
// decisions. Thread-compatible (no shared state).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/root_layout.h"
#include "core/modules/module_info.h"
#include "core/services/service_spec.h"

namespace hub {

struct Module {
  std::string name;
  std::string level;
  std::filesystem::path dir;
  Version version;
  std::vector<Dependency> depends;
  std::string build_info;  // info/build.txt (optional, at most 4 KiB), else empty
  // What is odd but allowed, one sentence each (an app of system/apps/ not named after
  // the module): logged, and told in NAME/loaded and inspect.
  std::vector<std::string> warnings;
  // The contents of its templates/ (a digest): a reload re-renders when they change.
  std::string templates_digest;
  YAML::Node config;  // config/LEVEL/modules/NAME/*.yml merged (see module_config.h)
  // hub.scripts.timeout in that config: this module's own limit for its event scripts.
  std::optional<std::chrono::milliseconds> script_timeout;
  // service.yml merged across levels (service_spec.h); nullopt when it declares none.
  std::optional<ServiceSpec> service;
  // Why its declared service does not run (needs_config unmet), else empty. Such a module
  // is treated as one without a service, but for the account its scripts run as.
  std::string service_off;

  // True when it has a service to run.
  bool runs_service() const { return service.has_value() && service_off.empty(); }
};

struct RejectedModule {
  std::string name;
  std::string level;
  std::filesystem::path dir;
  std::string reason;          // a sentence naming what is wrong and what was expected
  std::filesystem::path file;  // the file at fault, when there is one
  int line = 0;                // its line, when known
  // "NAME: reason" of the module where the trouble started: this one, or the first
  // rejected module down its dependency chain.
  std::string root_cause;
  // Its configuration check was cut short because hubd is stopping: not loaded, but not
  // found wanting either, so no NAME/rejected is published for it.
  bool unjudged = false;
};

struct ShadowedModule {
  std::string name;
  std::string level;
  std::filesystem::path dir;
  // The copy of the same name that wins: at a higher level, or at this level in a later
  // module tree (paths.modules).
  std::string by_level;
  std::filesystem::path by_dir;
};

struct ModuleTree {
  std::vector<Module> loaded;            // dependency order; ties broken by name
  std::vector<RejectedModule> rejected;  // sorted by name
  std::vector<ShadowedModule> shadowed;  // sorted by name, then search order
  // Level directories that exist but cannot be read ("PATH: cannot be read: reason"):
  // whatever they hold is missing from the tree.
  std::vector<std::string> problems;
};

// The config levels unless hub.yml says otherwise (levels:), lowest precedence first:
// system, customer, site.
std::vector<std::string> default_config_levels();

// How the loader runs configuration checks (service.yml `check:`, module_check.h).
struct CheckOptions {
  // Readable once the hub is asked to stop: a check running then is killed, and its
  // module rejected. -1: never.
  int cancel_fd = -1;
  // Where a running check is recorded (ScriptRequest::record_dir); empty: not recorded.
  std::filesystem::path record_dir;
  // hub.yml services.group: a check runs as its module's control scripts do.
  std::optional<gid_t> services_group;
};

// Reads TREE/LEVEL/NAME/ for each of `levels` (lowest precedence first) and, within a
// level, each of the layout's module trees (lowest precedence first: a later tree's
// module shadows an earlier tree's of the same name), and each module's config from
// CONFIG/LEVEL/modules/NAME/. Never fails as a whole:
// every problem rejects the module it belongs to (and, transitively, its dependents);
// every other module still loads. A service volume must resolve inside the root or inside
// one of `volume_paths`. A module whose service runs and declares a `check:` has it run
// (no process is started for any other).
ModuleTree load_module_tree(const RootLayout& layout, const std::vector<std::string>& levels,
                            const std::vector<std::string>& volume_paths = {},
                            const CheckOptions& checks = {});

}  // namespace hub
