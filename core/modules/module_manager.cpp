#include "core/modules/module_manager.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "bus/text.h"
#include "bus/topic_owner.h"
#include "core/modules/dependents.h"
#include "core/modules/lifecycle_events.h"
#include "core/modules/module_config.h"
#include "core/modules/module_environment.h"
#include "core/modules/reload_plan.h"
#include "core/scripts/script_runner.h"
#include "core/services/supervisor.h"
#include "core/system/files.h"
#include "core/templates/template_attributes.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string first_line(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

// What the templates of `instance` of `m` see, with `config` its merged configuration.
YAML::Node template_facts(const RootLayout& layout, const std::vector<std::string>& levels,
                          const Module& m, const YAML::Node& config, const std::string& instance) {
  const templates::HubFacts hub{layout.root(), levels, HUB_VERSION};
  const templates::InstanceFacts facts{instance, fs::absolute(layout.workspace_dir(instance)),
                                       YAML::Node()};
  return templates::template_attributes(m, config, hub, &facts);
}

// The file `hubctl disable` keeps its list in.
const char* const kDisabledFile = "modules-disabled";

}  // namespace

// While it lives, view() shows the module `state` (starting, stopping).
struct ModuleManager::Transition {
  Transition(ModuleManager& manager, std::string name, const char* state)
      : manager_(manager), name_(std::move(name)) {
    manager_.transitions_[name_] = state;
    manager_.publish_view();
  }
  ~Transition() {
    manager_.transitions_.erase(name_);
    manager_.publish_view();
  }
  Transition(const Transition&) = delete;
  Transition& operator=(const Transition&) = delete;

 private:
  ModuleManager& manager_;
  const std::string name_;
};

void ModuleManager::publish_view() {
  ModulesView now{summaries(), up()};
  std::lock_guard lock(view_mu_);
  view_ = std::move(now);
}

ModulesView ModuleManager::view() const {
  std::lock_guard lock(view_mu_);
  return view_;
}

std::set<std::string> ModuleManager::known_names() const {
  std::set<std::string> names;
  for (const auto& m : tree_.loaded) names.insert(m.name);
  for (const auto& r : tree_.rejected) {
    if (!module_name_problem(r.name)) names.insert(r.name);  // one with a topic of its own
  }
  return names;
}

const Module* ModuleManager::find_loaded(const std::string& name) const {
  const auto it = std::find_if(tree_.loaded.begin(), tree_.loaded.end(),
                               [&](const Module& m) { return m.name == name; });
  return it == tree_.loaded.end() ? nullptr : &*it;
}

std::vector<std::string> ModuleManager::up() const {
  std::vector<std::string> names;
  for (const auto& name : started_) {
    if (up_.count(name) != 0) names.push_back(name);
  }
  return names;
}

bool ModuleManager::cancelled() const {
  pollfd item{options_.cancel_fd, POLLIN, 0};
  return options_.cancel_fd >= 0 && ::poll(&item, 1, 0) == 1;
}

void ModuleManager::prepare(const Module& m) {
  // A module whose service runs as another user owns its data and its scripts' files.
  auto account = module_account(m, options_.services_group);
  const std::optional<Account> owner = account ? *account : std::nullopt;
  Status prepared = make_private_dir(layout().module_data_dir(m.name), 0750, owner);
  // The run directory stays hubd's (only its group, the user's, may enter), so nothing in
  // it can be swapped for a link or a FIFO before hubd writes there again.
  const fs::path run_dir = layout().module_run_dir(m.name);
  if (prepared) prepared = make_private_dir(run_dir, 0750);
  if (prepared && owner) prepared = give_to(run_dir, Account{::geteuid(), owner->gid, {}});
  if (prepared) prepared = write_file(layout().module_config_file(m.name), yaml_text(m.config));
  if (prepared) prepared = grant_scripts_credential(m.name, owner);
  if (!prepared)
    unprepared_.emplace_back(m.name, "cannot prepare the module: " + prepared.message());
}

Status ModuleManager::grant_scripts_credential(const std::string& name,
                                               const std::optional<Account>& owner) {
  if (!options_.grant) return Status::ok();
  scripts_revoked_.erase(name);
  const Credential c = options_.grant(name + std::string(kScriptsIdentitySuffix));
  const fs::path file = layout().script_credential_file(name);
  Status written = write_file(file, c.identity + ":" + c.secret + "\n", 0600);
  if (written && owner) written = give_to(file, *owner);
  return written;
}

Result<ModuleTree> ModuleManager::scan() const {
  try {
    CheckOptions checks;
    checks.cancel_fd = options_.cancel_fd;
    checks.record_dir = layout().script_records_dir();
    checks.services_group = options_.services_group;
    return load_module_tree(options_.layout, options_.levels, options_.volume_paths, checks);
  } catch (const std::exception& e) {
    return Status::error(std::string("cannot scan the modules: ") + e.what());
  }
}

void ModuleManager::load() {
  disabled_ = DisabledModules(layout().db_dir() / kDisabledFile);
  if (Status s = disabled_.load(); !s)
    spdlog::error("modules: {}; no module is kept disabled", s.message());
  auto scanned = scan();
  if (scanned) {
    tree_ = std::move(*scanned);
  } else {
    tree_ = ModuleTree();
    tree_.problems.push_back(scanned.error());
  }
  std::error_code ec;
  fs::create_directories(layout().script_logs_dir(), ec);
  for (const auto& m : tree_.loaded) prepare(m);
  publish_view();
}

void ModuleManager::publish_loaded(const Module& m) {
  spdlog::info("module {} {} loaded from level {}", m.name, m.version.str(), m.level);
  if (!m.service_off.empty())
    spdlog::info("module {}: its service does not run: {}", m.name, m.service_off);
  for (const auto& warning : m.warnings) spdlog::warn("module {}: {}", m.name, warning);
  publish_lifecycle(publish_, loaded_event(m));
}

void ModuleManager::publish_rejected(const RejectedModule& r, bool kept_running) {
  if (r.unjudged) {
    spdlog::info("module {} not loaded: its configuration check was cut short by the stop", r.name);
    return;
  }
  spdlog::warn("module {} rejected: {}{}", r.name, r.reason,
               kept_running ? " (the running version is kept)" : "");
  publish_lifecycle(publish_, rejected_event(r, kept_running));
}

// One event per name, listing every shadowed copy (one retained topic per name); one that
// lists none for a name whose copies are no longer shadowed.
void ModuleManager::publish_shadowed() {
  std::set<std::string> now;
  for (const auto& s : tree_.shadowed) now.insert(s.name);
  for (const auto& name : shadowing_) {
    if (now.count(name) == 0) publish_lifecycle(publish_, unshadowed_event(name));
  }
  shadowing_ = std::move(now);
  for (size_t i = 0; i < tree_.shadowed.size();) {
    std::vector<ShadowedModule> copies;
    for (; i < tree_.shadowed.size() &&
           (copies.empty() || tree_.shadowed[i].name == copies.front().name);
         ++i) {
      const ShadowedModule& s = tree_.shadowed[i];
      spdlog::info("module {} ({}) is shadowed by {} (level {})", s.name, s.dir.string(),
                   s.by_dir.string(), s.by_level);
      copies.push_back(s);
    }
    publish_lifecycle(publish_, shadowed_event(copies));
  }
}

void ModuleManager::announce() {
  for (const auto& problem : tree_.problems) {
    spdlog::error("modules: {}", problem);
    publish_lifecycle(publish_, scan_problem_event(problem));
  }
  const std::set<std::string> known = known_names();
  for (const auto& [name, events] : options_.remembered) {  // from an earlier run
    if (known.count(name) == 0) {
      publish_lifecycle(publish_, removed_event(name));
    } else if (events.count("shadowed") != 0) {
      shadowing_.insert(name);  // cleared below unless it still holds
    }
  }
  options_.remembered.clear();
  publish_shadowed();
  for (const auto& r : tree_.rejected) publish_rejected(r, false);
  for (const auto& m : tree_.loaded) publish_loaded(m);
  for (const auto& [name, why] : unprepared_) fail(*find_loaded(name), why);
  unprepared_.clear();
  publish_view();
}

void ModuleManager::fail(const Module& m, const std::string& reason) {
  spdlog::error("module {} failed: {}", m.name, reason);
  not_startable_.insert(m.name);
  reasons_[m.name] = reason;
  publish_view();
  publish_lifecycle(publish_, failed_event({m.name, ""}, reason));
}

Status ModuleManager::run_control_scripts(const Module& m, const std::string& phase,
                                          bool stop_at_failure) {
  const ScriptSelection selection = select_scripts(m.dir / "control" / phase);
  for (const auto& warning : selection.warnings) spdlog::warn("module {}: {}", m.name, warning);
  std::string failure = selection.error;  // the first, when several fail
  if (!failure.empty() && stop_at_failure) return Status::error(failure);
  auto account = module_account(m, options_.services_group);
  if (!account && !selection.scripts.empty()) return account.status();
  for (const auto& script : selection.scripts) {
    ScriptRequest request;
    request.script = script;
    request.args = {m.name, phase};
    request.env = module_environment(
        options_.layout, m,
        {{"HUB_CONTROL_PHASE", phase},
         {"HUB_CREDENTIAL_FILE", layout().script_credential_file(m.name).string()}});
    request.cwd = m.dir;
    request.account = *account;
    request.timeout = m.script_timeout.value_or(options_.script_timeout);
    request.output_cap = options_.script_output_cap;
    if (phase == "startup") request.cancel_fd = options_.cancel_fd;  // shutdown runs to the end
    request.record_dir = layout().script_records_dir();
    const ScriptOutcome outcome = run_script(request);
    append_run_log(layout().script_log(m.name), "control/" + phase, script, outcome);
    if (outcome.ok()) continue;
    std::error_code ec;
    const fs::path relative = fs::relative(script, m.dir, ec);
    std::string reason = (ec ? script : relative).string() + " " + outcome.describe();
    if (!outcome.err.empty()) reason += ": " + first_line(outcome.err);
    spdlog::error("module {}: {}", m.name, reason);
    if (failure.empty()) failure = reason;
    if (stop_at_failure) break;
  }
  return failure.empty() ? Status::ok() : Status::error(failure);
}

bool ModuleManager::start_module(const Module& m) {
  if (scripts_revoked_.count(m.name) != 0) {  // stopped through the API: a fresh one
    auto account = module_account(m, options_.services_group);
    const Status granted =
        grant_scripts_credential(m.name, account ? *account : std::optional<Account>{});
    if (!granted) {
      fail(m, "cannot give its scripts a credential: " + granted.message());
      return false;
    }
  }
  if (options_.resume_scripts) options_.resume_scripts(m.name);
  held_.erase(m.name);
  reasons_.erase(m.name);
  const Transition starting(*this, m.name, "starting");
  publish_lifecycle(publish_, starting_event(EventSubject::of(m)));
  const auto began = std::chrono::steady_clock::now();
  if (const Status startup = run_control_scripts(m, "startup", /*stop_at_failure=*/true);
      !startup) {
    fail(m, startup.message());
    return false;
  }
  started_.push_back(m.name);  // from here on it gets its shutdown
  if (m.runs_service()) {
    if (options_.supervisor == nullptr) {
      fail(m, "this hub runs no services");
      return false;
    }
    InstanceSpec spec;
    spec.module = m.name;
    spec.instance = m.name;
    spec.module_dir = m.dir;
    spec.service = *m.service;
    spec.config_yaml = yaml_text(m.config);
    spec.template_attributes =
        template_facts(options_.layout, options_.levels, m, m.config, m.name);
    spec.env = module_environment(options_.layout, m);
    // The supervisor publishes NAME/started, NAME/ready and, when it gives up, NAME/failed.
    const auto started = options_.supervisor->start(std::move(spec));
    const auto outcome = started->wait(options_.cancel_fd);
    if (!outcome) return false;  // the hub is stopping; stop_all() stops the service
    if (!*outcome) {
      if (started->published()) {
        spdlog::error("module {}: its service did not come up: {}", m.name, outcome->message());
        not_startable_.insert(m.name);
        reasons_[m.name] = outcome->message();
      } else {
        fail(m, "its service " + outcome->message());
      }
      return false;
    }
  } else {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    publish_lifecycle(publish_, started_event(EventSubject::of(m), took.count()));
  }
  spdlog::info("module {} started", m.name);
  up_.insert(m.name);  // view() shows it once `starting` ends
  return true;
}

bool ModuleManager::start_in_turn(const Module& m) {
  if (cancelled()) {
    spdlog::warn("the hub is stopping: modules from {} on are not started", m.name);
    return false;
  }
  if (not_startable_.count(m.name) != 0 || contains(started_, m.name)) return true;
  if (disabled_.contains(m.name)) {
    spdlog::info("module {} is disabled: not started", m.name);
    return true;
  }
  if (const Dependency* blocked = missing_dependency(m)) {
    // Down on purpose (disabled, or held for its own dependency): waits, not failed.
    if (disabled_.contains(blocked->name) || held_.count(blocked->name) != 0) {
      held_.insert(m.name);
      reasons_[m.name] = "dependency " + blocked->name + " is " +
                         (disabled_.contains(blocked->name) ? "disabled" : "down");
      spdlog::info("module {} not started: {}", m.name, reasons_[m.name]);
    } else {
      fail(m, "dependency " + blocked->name + " did not start");
    }
    return true;
  }
  start_module(m);
  return true;
}

bool ModuleManager::start_all() {
  bool whole = true;
  for (const auto& m : tree_.loaded) {
    if (!start_in_turn(m)) {
      whole = false;
      break;
    }
  }
  publish_view();  // a module held last (its dependency disabled) has its reason shown
  return whole && !cancelled();
}

void ModuleManager::stop_module(const std::string& name, const std::string& reason) {
  std::vector<std::string> instances;
  for (const auto& [instance, owner] : dynamic_) {
    if (owner == name) instances.push_back(instance);
  }
  for (const auto& instance : instances) (void)stop_instance(instance);  // known: cannot fail
  const Module* m = find_loaded(name);
  const Transition stopping(*this, name, "stopping");
  publish_lifecycle(publish_, stopping_event(EventSubject::of(*m), reason));
  if (m->runs_service() && options_.supervisor != nullptr) {
    if (const auto stopped = options_.supervisor->stop(name)->wait(); stopped && !*stopped)
      spdlog::warn("module {}: {}", name, stopped->message());
  }
  const Status shutdown = run_control_scripts(*m, "shutdown", /*stop_at_failure=*/false);
  const std::string failure = shutdown ? std::string() : shutdown.message();
  spdlog::info("module {} stopped{}", name, reason.empty() ? "" : ": " + reason);
  publish_lifecycle(publish_, stopped_event(EventSubject::of(*m), failure, reason));
  started_.erase(std::remove(started_.begin(), started_.end(), name), started_.end());
  up_.erase(name);
}

void ModuleManager::stop_scripts(const std::string& name, const std::string& reason) {
  if (options_.stop_scripts) options_.stop_scripts(name, reason);
}

void ModuleManager::stop_all() {
  while (!started_.empty()) stop_module(started_.back());
}

ModulesNow ModuleManager::now() const {
  ModulesNow now{started_, up_, {}};
  // A service that failed for good after it came up gets another try too.
  if (options_.supervisor != nullptr) {
    for (const auto& s : options_.supervisor->status()) {
      // The module's own instance; a dynamic one failing is not the module's failure.
      if (s.state == InstanceState::kFailed && s.instance == s.module)
        now.service_failed.insert(s.module);
    }
  }
  return now;
}

std::string ModuleManager::reload() {
  spdlog::info("reload: rescanning modules");
  if (!disabled_.readable()) {  // fixed meanwhile? (a readable list is never re-read)
    if (Status s = disabled_.load(); !s)
      spdlog::error("modules: {}; no module is kept disabled", s.message());
  }
  auto scanned = scan();
  if (!scanned) {
    spdlog::error("reload: {}; every module keeps running as it was", scanned.error());
    const LifecycleEvent report = reload_error_event(scanned.error());
    publish_lifecycle(publish_, report);
    return report.payload;
  }
  const ReloadPlan plan = plan_reload(tree_.loaded, now(), *scanned);
  const std::set<std::string> before = known_names();
  stop_for_reload(plan);
  adopt(plan, std::move(*scanned));
  const std::set<std::string> after = known_names();
  for (const auto& name : before) {  // gone from the tree: its state goes too
    if (after.count(name) == 0) publish_lifecycle(publish_, removed_event(name));
  }
  announce_reloaded(plan);
  publish_view();
  for (const auto& name : plan.start) {
    if (!start_in_turn(*find_loaded(name))) break;
  }

  // Down on purpose (disabled, or waiting for a dependency that is) is not a failure.
  const auto failed_to_start = [&](const std::string& name) {
    return up_.count(name) == 0 && !disabled_.contains(name) && held_.count(name) == 0;
  };
  std::vector<std::string> failed;
  for (const auto& name : plan.added) {
    if (failed_to_start(name)) failed.push_back(name);
  }
  for (const auto& name : plan.changed) {
    if (failed_to_start(name)) failed.push_back(name);
  }
  spdlog::info("reload: {} added, {} removed, {} changed, {} unchanged, {} kept, {} failed",
               plan.added.size(), plan.removed.size(), plan.changed.size(), plan.unchanged.size(),
               plan.kept.size(), failed.size());
  const LifecycleEvent report = reload_event(plan, failed);
  publish_view();
  publish_lifecycle(publish_, report);
  return report.payload;
}

std::string ModuleManager::reload_preview() const {
  auto scanned = scan();
  if (!scanned) return reload_error_event(scanned.error()).payload;
  return reload_preview_json(plan_reload(tree_.loaded, now(), *scanned), scanned->rejected);
}

void ModuleManager::stop_for_reload(const ReloadPlan& plan) {
  for (const auto& [name, reason] : plan.stop_scripts) stop_scripts(name, reason);
  for (const auto& stop : plan.stop) {
    if (!stop.scripts_reason.empty()) stop_scripts(stop.name, stop.scripts_reason);
    stop_module(stop.name, stop.reason);
  }
  for (const auto& name : plan.removed) spdlog::info("reload: module {} removed", name);
}

void ModuleManager::adopt(const ReloadPlan& plan, ModuleTree fresh) {
  tree_.loaded = plan.loaded;
  tree_.rejected = std::move(fresh.rejected);
  tree_.shadowed = std::move(fresh.shadowed);
  tree_.problems = std::move(fresh.problems);
  for (const auto& name : plan.changed) not_startable_.erase(name);
  for (const auto& name : plan.added) not_startable_.erase(name);
  for (const auto& name : plan.removed) {
    not_startable_.erase(name);
    held_.erase(name);
    reasons_.erase(name);
    if (options_.revoke) options_.revoke(name + std::string(kScriptsIdentitySuffix));
    std::error_code ec;
    fs::remove(layout().script_credential_file(name), ec);
  }
  for (const auto& name : plan.dropped) {
    not_startable_.erase(name);
    held_.erase(name);
    reasons_.erase(name);
  }
}

void ModuleManager::announce_reloaded(const ReloadPlan& plan) {
  if (options_.on_modules_changed) options_.on_modules_changed(tree_.loaded);
  for (const auto& problem : tree_.problems) spdlog::error("modules: {}", problem);
  publish_shadowed();  // as at start: a copy added, or the one that wins changed
  for (const auto& r : tree_.rejected) publish_rejected(r, plan.keeps(r.name));
  for (const auto& name : plan.start) {
    const Module& m = *find_loaded(name);
    prepare(m);
    publish_loaded(m);
  }
  for (const auto& [name, why] : unprepared_) fail(*find_loaded(name), why);
  unprepared_.clear();
}

// ---- for the API ----

bool ModuleManager::healthy(const std::string& name) const {
  if (up_.count(name) == 0) return false;
  const Module* m = find_loaded(name);
  if (m == nullptr || !m->runs_service() || options_.supervisor == nullptr) return true;
  for (const auto& s : options_.supervisor->status()) {
    // It came up, but its service may have failed or ended since.
    if (s.instance == name)
      return s.state != InstanceState::kFailed && s.state != InstanceState::kExited;
  }
  return true;
}

const Dependency* ModuleManager::missing_dependency(const Module& m) const {
  for (const auto& d : m.depends) {
    if (up_.count(d.name) == 0) return &d;
  }
  return nullptr;
}

void ModuleManager::stop_dependents(const std::string& name, const std::string& reason) {
  const auto dependents = dependents_of(tree_.loaded, name);
  for (auto it = dependents.rbegin(); it != dependents.rend(); ++it) {
    if (!contains(started_, *it)) continue;
    if (up_.count(*it) != 0) held_.insert(*it);
    reasons_[*it] = reason;
    stop_scripts(*it, "module " + *it + " was stopped: " + reason);
    stop_module(*it, reason);
  }
}

void ModuleManager::bring_back_dependents() {
  for (const auto& m : tree_.loaded) {  // dependency order: a chain comes back in one pass
    if (cancelled()) return;            // the hub is stopping: they stay down
    if (held_.count(m.name) == 0 || disabled_.contains(m.name) || missing_dependency(m)) continue;
    not_startable_.erase(m.name);
    if (!start_module(m)) held_.erase(m.name);  // failed: says so itself, no longer waits
  }
}

void ModuleManager::follow_failures() {
  for (const auto& name : now().service_failed) {
    if (up_.count(name) == 0) continue;
    const auto dependents = dependents_of(tree_.loaded, name);
    const bool any_started =
        std::any_of(dependents.begin(), dependents.end(),
                    [&](const std::string& d) { return contains(started_, d); });
    if (any_started) stop_dependents(name, name + " failed");
  }
}

Result<std::string> ModuleManager::start(const std::string& name, bool replace) {
  const Module* m = find_loaded(name);
  if (m == nullptr) return Status::not_found("no loaded module " + name);
  follow_failures();
  if (disabled_.contains(name))
    return Status::error("module " + name + " is disabled (enable it to start it)");
  const bool is_healthy = healthy(name);
  if (is_healthy && !replace) return JsonObject().add("already", "running").str();
  // Refused before anything is stopped: a refusal changes nothing that runs.
  if (const Dependency* d = missing_dependency(*m))
    return Status::error("dependency " + d->name + " is not up");
  if (contains(started_, name)) {
    stop_dependents(name, name + " is restarted");
    stop_module(name, is_healthy ? "" : "its service is down: started again");
  }
  not_startable_.erase(name);
  held_.erase(name);
  if (!start_module(*m)) return Status::error(name + " did not start: " + reasons_[name]);
  bring_back_dependents();
  return std::string("{}");
}

Status ModuleManager::stop(const std::string& name) {
  if (find_loaded(name) == nullptr) return Status::not_found("no loaded module " + name);
  stop_dependents(name, name + " stopped");
  stop_scripts(name, "module " + name + " was stopped");
  if (contains(started_, name)) stop_module(name);
  held_.erase(name);  // stopped by name: stays down
  reasons_.erase(name);
  // What its scripts left running (setsid) may not act for it any more; a start grants
  // a fresh credential.
  if (options_.revoke) {
    options_.revoke(name + std::string(kScriptsIdentitySuffix));
    scripts_revoked_.insert(name);
  }
  return Status::ok();
}

std::string ModuleManager::start_every() {
  follow_failures();
  std::vector<std::string> started;
  std::string failed = "[";
  for (const auto& m : tree_.loaded) {
    if (cancelled()) break;  // the hub is stopping: the rest are not started
    if (disabled_.contains(m.name) || healthy(m.name)) continue;
    auto outcome = start(m.name);
    if (outcome) {
      if (outcome->find("already") == std::string::npos) started.push_back(m.name);
      continue;
    }
    failed += (failed.size() > 1 ? "," : "") +
              JsonObject().add("name", m.name).add("reason", outcome.error()).str();
  }
  return JsonObject()
      .add_raw("started", json_string_array(started))
      .add_raw("failed", failed + "]")
      .str();
}

std::string ModuleManager::stop_every() {
  std::vector<std::string> stopped;
  while (!started_.empty()) {
    const std::string name = started_.back();
    (void)stop(name);  // a loaded module: cannot be refused
    stopped.push_back(name);
  }
  held_.clear();  // everything was stopped by name
  return JsonObject().add_raw("stopped", json_string_array(stopped)).str();
}

std::string ModuleManager::restart_every() {
  const std::string stopped = stop_every();
  const std::string started = start_every();
  // {"stopped": [...], "started": [...], "failed": [...]}
  return stopped.substr(0, stopped.size() - 1) + "," + started.substr(1);
}

Result<std::string> ModuleManager::set_enabled(const std::string& name, bool enabled) {
  if (find_loaded(name) == nullptr) {
    // Disabled, then rejected or removed: it can still leave the list.
    if (!enabled || !disabled_.contains(name)) return Status::not_found("no loaded module " + name);
    if (Status saved = disabled_.set(name, false); !saved) return saved;
    return JsonObject().add("enabled", true).add("state", "not loaded").str();
  }
  if (Status saved = disabled_.set(name, !enabled); !saved) return saved;
  spdlog::info("module {} {}", name, enabled ? "enabled" : "disabled");
  if (!enabled) {
    if (Status s = stop(name); !s) return s;
    return JsonObject().add("enabled", false).str();
  }
  reasons_.erase(name);
  const Module& m = *find_loaded(name);
  if (healthy(name)) return JsonObject().add("enabled", true).add("state", "up").str();
  if (const Dependency* d = missing_dependency(m)) {  // comes with its dependency
    held_.insert(name);
    reasons_[name] = "dependency " + d->name + " is not up";
    return JsonObject()
        .add("enabled", true)
        .add("state", "stopped")
        .add("reason", reasons_[name])
        .str();
  }
  auto started = start(name);
  if (!started) return Status::error("enabled, but " + started.error());
  return JsonObject().add("enabled", true).add("state", "up").str();
}

Result<std::string> ModuleManager::start_instance(const std::string& name,
                                                  const std::string& suffix,
                                                  const YAML::Node& config, bool replace) {
  const Module* m = find_loaded(name);
  if (m == nullptr) return Status::not_found("no loaded module " + name);
  if (!m->runs_service()) {
    return Status::bad_request("module " + name + " runs no service" +
                               (m->service_off.empty() ? "" : ": " + m->service_off));
  }
  if (module_name_problem(suffix)) {
    return Status::bad_request("instance name '" + suffix +
                               "' must be 1 to 64 of [A-Za-z0-9_-], starting with a letter");
  }
  if (up_.count(name) == 0) return Status::error("module " + name + " is not up");
  const std::string instance = name + "." + suffix;
  const std::string started_reply = JsonObject().add("instance", instance).str();
  if (dynamic_.count(instance) != 0) {
    bool running = false;
    for (const auto& s : options_.supervisor->status()) {
      if (s.instance == instance)
        running = s.state != InstanceState::kFailed && s.state != InstanceState::kExited &&
                  s.state != InstanceState::kStopped;
    }
    if (running && !replace)
      return JsonObject().add("instance", instance).add("already", "running").str();
    (void)stop_instance(instance);  // replaced, or ended: a fresh start
  }
  InstanceSpec spec;
  spec.module = name;
  spec.instance = instance;
  spec.module_dir = m->dir;
  spec.service = *m->service;
  const YAML::Node merged = merge_yaml(m->config, config);
  spec.config_yaml = yaml_text(merged);
  spec.template_attributes = template_facts(options_.layout, options_.levels, *m, merged, instance);
  spec.env = module_environment(options_.layout, *m);
  publish_lifecycle(publish_, starting_event({name, instance}));
  // Bounded: a first run that neither comes up nor fails within its readiness timeout and
  // stop grace is given up, so the API (and SIGTERM) are not held for good.
  const auto limit = m->service->ready_timeout + m->service->stop_grace + std::chrono::seconds(5);
  const auto started = options_.supervisor->start(std::move(spec));
  const auto outcome = started->wait_for(limit, options_.cancel_fd);
  if (outcome && outcome->is_ok()) {
    dynamic_[instance] = name;
    return started_reply;
  }
  // Not up: nothing of it stays behind (a failed start would block its name). Only what
  // this request started is stopped: dynamic_ knew no instance of this name.
  (void)options_.supervisor->stop(instance)->wait();
  options_.supervisor->forget(instance);
  publish_lifecycle(publish_, stopped_event({name, instance}));
  if (!outcome)
    return Status::error(instance + " did not come up within " + std::to_string(limit.count()) +
                         " ms (or the hub is stopping)");
  return Status::error(outcome->message());
}

Status ModuleManager::stop_instance(const std::string& instance) {
  const auto it = dynamic_.find(instance);
  if (it == dynamic_.end()) return Status::not_found("no dynamic instance " + instance);
  const std::string name = it->second;
  publish_lifecycle(publish_, stopping_event({name, instance}));
  if (const auto stopped = options_.supervisor->stop(instance)->wait(); stopped && !*stopped) {
    spdlog::warn("instance {}: {}", instance, stopped->message());
  }
  options_.supervisor->forget(instance);
  dynamic_.erase(it);
  publish_lifecycle(publish_, stopped_event({name, instance}));
  return Status::ok();
}

std::vector<ModuleSummary> ModuleManager::summaries() const {
  std::vector<ModuleSummary> out;
  for (const auto& m : tree_.loaded) {
    const auto transition = transitions_.find(m.name);
    ModuleSummary one;
    one.name = m.name;
    one.level = m.level;
    one.version = m.version.str();
    one.state = "stopped";
    one.service = m.runs_service();
    one.service_off = m.service_off;
    if (transition != transitions_.end()) {
      one.state = transition->second;
    } else if (up_.count(m.name) != 0) {
      one.state = "up";
    } else if (not_startable_.count(m.name) != 0) {
      one.state = "failed";
    }
    one.enabled = !disabled_.contains(m.name);
    one.build = build_summary(m.build_info);
    one.warnings = m.warnings;
    const auto reason = reasons_.find(m.name);
    if (!one.enabled && up_.count(m.name) == 0) {
      one.reason = "disabled";
    } else if (one.state != "up" && reason != reasons_.end()) {
      one.reason = reason->second;
    }
    out.push_back(std::move(one));
  }
  for (const auto& r : tree_.rejected) {
    ModuleSummary one;
    one.name = r.name;
    one.level = r.level;
    one.state = "rejected";
    one.reason = r.reason;
    // The version that keeps running, when a reload rejected a new definition of it;
    // else what its files say, as far as they can be read.
    if (const Module* running = find_loaded(r.name)) {
      one.version = running->version.str();
      one.service = running->runs_service();
    } else {
      auto text = read_small_file(r.dir / "info/version.txt", 4096);
      auto version = text ? parse_version(*text) : Result<Version>(text.status());
      if (version) one.version = version->str();
      std::error_code ec;
      one.service = fs::exists(r.dir / "service.yml", ec);
    }
    out.push_back(std::move(one));
  }
  return out;
}

}  // namespace hub
