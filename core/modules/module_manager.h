// Brings the root's modules up and down, publishing every decision as Hub: loads the tree
// (NAME/loaded, NAME/rejected, NAME/shadowed), prepares each loaded module's data/NAME/
// and merged config, and starts modules in dependency order: NAME/starting, control/startup/,
// then the module's service through the supervisor (NAME/started with its pid, NAME/ready),
// or NAME/started at once when it has none; NAME/failed when any step fails. Stops run in
// reverse: NAME/stopping, the service stopped, control/shutdown/, NAME/stopped.
// reload() rescans and applies only what changed (Hub/reload). One thread only (hubd's
// control thread), except view(), which any thread may call.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bus/credentials.h"
#include "bus/root_layout.h"
#include "bus/status.h"
#include "core/hub/hub_publish.h"
#include "core/modules/disabled_modules.h"
#include "core/modules/module_loader.h"
#include "core/modules/modules_view.h"
#include "core/modules/reload_plan.h"
#include "core/scripts/script_runner.h"
#include "core/system/files.h"

namespace hub {

class Supervisor;

struct ModuleManagerOptions {
  RootLayout layout;
  std::vector<std::string> levels = default_config_levels();
  std::vector<std::string> volume_paths;  // hub.yml services.volume_paths
  std::chrono::milliseconds script_timeout = kDefaultScriptTimeout;  // per control script
  size_t script_output_cap = kDefaultScriptOutputCap;  // bytes of stdout and of stderr kept per run
  // Readable once the hub is asked to stop (hubd's signalfd): a startup script running
  // then is killed and no further module starts. -1: never.
  int cancel_fd = -1;
  // Runs the modules' services; without one, a module with a service fails to start.
  Supervisor* supervisor = nullptr;
  // Bus identities for each module's scripts (NAME@scripts): granted when the module is
  // prepared, revoked when it goes. Without them, scripts act as the administrator.
  std::function<Credential(const std::string& identity)> grant;
  std::function<void(const std::string& identity)> revoke;
  // hub.yml services.group (see SupervisorOptions): a module whose service runs as another
  // user runs its scripts as that user too, with this group.
  std::optional<gid_t> services_group;
  // Told the loaded modules whenever reload() changed them (the script dispatcher).
  std::function<void(const std::vector<Module>&)> on_modules_changed;
  // Told when a module's event scripts must stop, and why (stop(), or a reload that
  // removes or changes it), and when they may run again (it starts). Not told when the
  // hub stops (stop_all()): the dispatcher's own stop ends what still runs then.
  std::function<void(const std::string& name, const std::string& reason)> stop_scripts;
  std::function<void(const std::string& name)> resume_scripts;
  // The lifecycle state the bus kept from an earlier run (module -> EVENTs retained):
  // announce() clears what no longer holds (NAME/removed, a NAME/shadowed listing none).
  std::map<std::string, std::set<std::string>> remembered;
};

class ModuleManager {
 public:
  ModuleManager(ModuleManagerOptions options, HubPublish publish)
      : options_(std::move(options)), publish_(std::move(publish)) {}

  // Loads the tree and prepares each loaded module's data directory and config file.
  // Publishes nothing yet, so a subscriber can be set up for the modules first.
  void load();
  // Publishes what load() decided. A module whose data directory or config file could
  // not be written is reported as failed and will not start.
  void announce();
  // Starts the loaded modules in dependency order. A module that fails to start (its
  // startup script, or its service) does not hold up the others, but nothing that
  // depends on it starts. Returns false when it was cancelled (see cancel_fd) before
  // every module had its turn.
  bool start_all();
  // Stops the started modules in reverse order, running every shutdown script even when
  // one fails. Idempotent.
  void stop_all();
  // Rescans modules and their config: new modules start, removed ones stop, changed ones
  // (and ones that had failed) restart, the rest are not touched. A module whose new
  // definition is rejected keeps running as it was. Publishes Hub/reload with what changed.
  // Nothing a file holds makes it throw: when the tree cannot be scanned at all, every
  // module keeps running and Hub/reload says why ({"error": ...}). plan_reload()
  // (reload_plan.h) decides what to do; this carries the plan out.
  std::string reload();  // returns the Hub/reload payload
  // What reload() would do now, nothing done and nothing published: Hub/reload's payload
  // without "failed", with "dry_run": true and "reasons" {NAME: why} of the rejected.
  std::string reload_preview() const;

  // For the API. Failures are kNotFound (no such module or instance), kBadRequest (the
  // request cannot be, as an instance of a module without a service) or kFailed. A refused
  // request changes nothing that runs. Results are the API's JSON objects (docs/API.md).
  // Starts a loaded module that is not up (again), its dependencies being up, then the
  // dependents a stop of it took down. One that is up is left alone ({"already":
  // "running"}) unless `replace`: then it is stopped (its dependents first) and started.
  Result<std::string> start(const std::string& name, bool replace = false);
  // Stops a started module (and its dynamic instances) and its event scripts, its
  // dependents first (reverse order, reason "NAME stopped"); it stays down until started,
  // or until a reload or a hubd restart starts it again.
  Status stop(const std::string& name);
  // Every enabled module, in dependency order ({"started": [...], "failed": [{name,
  // reason}]}); every started module, in reverse ({"stopped": [...]}); both in turn.
  std::string start_every();
  std::string stop_every();
  std::string restart_every();
  // disable: saved, then stopped (as stop) and kept down across reloads and restarts;
  // enable: saved, then started when its dependencies are up (as start).
  Result<std::string> set_enabled(const std::string& name, bool enabled);
  // Starts instance NAME.SUFFIX of module NAME's service, with `config` merged over the
  // module's configuration. Stopped with the module, or by stop_instance. One that runs is
  // left alone ({"already": "running"}) unless `replace`.
  Result<std::string> start_instance(const std::string& name, const std::string& suffix,
                                     const YAML::Node& config, bool replace = false);
  Status stop_instance(const std::string& instance);
  // Stops the dependents of every module whose own service has failed for good since it
  // came up (reason "NAME failed"); they come back when it does. Cheap when nothing failed.
  void follow_failures();
  // The modules as they are now (modules_view.h).
  std::vector<ModuleSummary> summaries() const;
  // The modules as last published: at every start and stop of a module and at the end of
  // each step above. Thread-safe.
  ModulesView view() const;
  // view() from now on says what summaries() and up() say now (each step above calls it
  // where the state changes; callers after a whole operation, for what it settled).
  void publish_view();

  const ModuleTree& tree() const { return tree_; }
  const std::vector<std::string>& levels() const { return options_.levels; }
  // The modules that are up (startup done; service running, ready when it declares
  // readiness), in start order.
  std::vector<std::string> up() const;

 private:
  // Runs control/PHASE/ of `m`: ok, or why it failed (the first failure, when it goes on
  // after one).
  Status run_control_scripts(const Module& m, const std::string& phase, bool stop_at_failure);
  void fail(const Module& m, const std::string& reason);
  void prepare(const Module& m);
  // A fresh credential for the scripts of module `name` (NAME@scripts), in its run
  // directory, readable by `owner` when given.
  Status grant_scripts_credential(const std::string& name, const std::optional<Account>& owner);
  void publish_loaded(const Module& m);
  void publish_rejected(const RejectedModule& r, bool kept_running);
  void publish_shadowed();             // NAME/shadowed for each name with shadowed copies
  bool start_module(const Module& m);  // false when it did not come up
  // start_all()'s step for `m`: starts it unless it is started or may not start, or fails
  // it when a dependency is not up. False when the hub is stopping (nothing started).
  bool start_in_turn(const Module& m);
  // reload(): the state a plan starts from, and the steps that carry the plan out.
  ModulesNow now() const;
  void stop_for_reload(const ReloadPlan& plan);
  void adopt(const ReloadPlan& plan, ModuleTree fresh);  // the new tree, the stale state dropped
  void announce_reloaded(const ReloadPlan& plan);  // NAME/shadowed, NAME/rejected, NAME/loaded
  void stop_module(const std::string& name, const std::string& reason = "");
  // Stops what depends on `name` (reverse order) for `reason`; those that were up come
  // back with it (held_).
  void stop_dependents(const std::string& name, const std::string& reason);
  // Starts the held dependents whose dependencies are all up again, in dependency order.
  void bring_back_dependents();
  // A module that is up and whose own service has not failed or ended since.
  bool healthy(const std::string& name) const;
  // The first dependency of `m` that is not up, or nullptr.
  const Dependency* missing_dependency(const Module& m) const;
  void stop_scripts(const std::string& name, const std::string& reason);
  const Module* find_loaded(const std::string& name) const;
  // The names of the tree's loaded and rejected modules (those with topics of their own).
  std::set<std::string> known_names() const;
  bool cancelled() const;
  const RootLayout& layout() const { return options_.layout; }
  // load_module_tree, with any exception (a library's surprise) turned into a Status.
  Result<ModuleTree> scan() const;
  struct Transition;  // a start or stop under way, shown by view()

  ModuleManagerOptions options_;
  HubPublish publish_;
  ModuleTree tree_;
  std::vector<std::pair<std::string, std::string>> unprepared_;  // name, why
  std::set<std::string> not_startable_;                          // failed to prepare or to start
  std::set<std::string> scripts_revoked_;  // stopped through the API: scripts' credential revoked
  std::vector<std::string> started_;       // startup scripts ran: these get a shutdown, in reverse
  std::set<std::string> up_;
  std::map<std::string, std::string> dynamic_;  // dynamic instance -> its module
  DisabledModules disabled_;
  std::set<std::string> held_;  // down while a dependency is: they come back with it
  std::map<std::string, std::string> reasons_;      // why a module failed or is down
  std::set<std::string> shadowing_;                 // names whose NAME/shadowed lists copies now
  std::map<std::string, std::string> transitions_;  // module -> starting|stopping
  mutable std::mutex view_mu_;
  ModulesView view_;  // guarded by view_mu_
};

}  // namespace hub
