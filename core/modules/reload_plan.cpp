#include "core/modules/reload_plan.h"

#include <algorithm>
#include <map>

#include "bus/text.h"
#include "core/modules/module_config.h"

namespace hub {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const Module* find(const std::vector<Module>& modules, const std::string& name) {
  const auto it =
      std::find_if(modules.begin(), modules.end(), [&](const Module& m) { return m.name == name; });
  return it == modules.end() ? nullptr : &*it;
}

const RejectedModule* find(const std::vector<RejectedModule>& modules, const std::string& name) {
  const auto it = std::find_if(modules.begin(), modules.end(),
                               [&](const RejectedModule& r) { return r.name == name; });
  return it == modules.end() ? nullptr : &*it;
}

// Sorts each currently loaded module into kept, dropped, removed, changed or unchanged.
void sort_current(const std::vector<Module>& loaded, const ModulesNow& now, const ModuleTree& fresh,
                  ReloadPlan& plan) {
  for (const auto& m : loaded) {
    const bool up = now.up.count(m.name) != 0;
    const bool service_failed = now.service_failed.count(m.name) != 0;
    const RejectedModule* rejected = find(fresh.rejected, m.name);
    const Module* next = find(fresh.loaded, m.name);
    if (rejected != nullptr && up && !service_failed) {
      plan.kept.emplace_back(m.name, rejected->reason);
    } else if (rejected != nullptr) {
      plan.dropped.push_back(m.name);  // not running well anyway: nothing to keep
    } else if (next == nullptr) {
      plan.removed.push_back(m.name);
    } else if (module_fingerprint(m) != module_fingerprint(*next) || !up || service_failed) {
      plan.changed.push_back(m.name);  // a module that is not up gets another try too
    } else {
      plan.unchanged.push_back(m.name);
    }
  }
  for (const auto& m : fresh.loaded) {
    if (find(loaded, m.name) == nullptr) plan.added.push_back(m.name);
  }
  for (const auto& r : fresh.rejected) {
    if (!plan.keeps(r.name)) plan.rejected.push_back(r.name);
  }
}

// What depends on a restarted module is restarted with it, as systemd's PartOf: it stops
// first and starts after it (`loaded` is in dependency order: one pass follows chains).
void restart_dependents(const std::vector<Module>& loaded, ReloadPlan& plan) {
  for (const auto& m : loaded) {
    if (!contains(plan.unchanged, m.name)) continue;
    for (const auto& d : m.depends) {
      if (!plan.restarts(d.name)) continue;
      plan.unchanged.erase(std::find(plan.unchanged.begin(), plan.unchanged.end(), m.name));
      plan.changed.push_back(m.name);
      plan.follows[m.name] = d.name + " is restarted";
      break;
    }
  }
}

}  // namespace

bool ReloadPlan::restarts(const std::string& name) const { return contains(changed, name); }

bool ReloadPlan::keeps(const std::string& name) const {
  return std::any_of(kept.begin(), kept.end(), [&](const auto& k) { return k.first == name; });
}

std::string module_fingerprint(const Module& m) {
  std::vector<std::string> requirements;
  for (const auto& d : m.depends) requirements.push_back(d.requirement());
  std::string text = m.level + '\n' + m.dir.string() + '\n' + m.version.str() + '\n' +
                     json_string_array(requirements) + '\n' + m.build_info + '\n' +
                     yaml_text(m.config);
  if (m.script_timeout) text += std::to_string(m.script_timeout->count());
  text += '\n';
  if (m.service) text += m.service->text + '\n' + m.templates_digest;
  // Follows from the config and the service, but a service turned on or off is never
  // mistaken for no change.
  text += '\n' + m.service_off;
  return text;
}

ReloadPlan plan_reload(const std::vector<Module>& loaded, const ModulesNow& now,
                       const ModuleTree& fresh) {
  ReloadPlan plan;
  sort_current(loaded, now, fresh, plan);
  restart_dependents(loaded, plan);

  // What goes away loses its event scripts first of all; then the stops, dependents first.
  for (const auto& name : plan.removed)
    plan.stop_scripts.emplace_back(name, "module " + name + " was removed");
  for (const auto& name : plan.dropped)
    plan.stop_scripts.emplace_back(name, "module " + name + " was rejected");
  for (auto it = now.started.rbegin(); it != now.started.rend(); ++it) {
    const auto follows = plan.follows.find(*it);
    const std::string why = follows == plan.follows.end() ? "" : follows->second;
    if (plan.restarts(*it)) {
      plan.stop.push_back({*it, "module " + *it + " is restarted", why});
    } else if (contains(plan.removed, *it) || contains(plan.dropped, *it)) {
      plan.stop.push_back({*it, "", ""});
    }
  }

  // The unchanged and kept modules keep their running definition; the added and changed
  // ones start in the new tree's (dependency) order.
  for (const auto& m : fresh.loaded) {
    const bool unchanged = contains(plan.unchanged, m.name);
    plan.loaded.push_back(unchanged ? *find(loaded, m.name) : m);
    if (!unchanged) plan.start.push_back(m.name);
  }
  for (const auto& [name, reason] : plan.kept) plan.loaded.push_back(*find(loaded, name));
  return plan;
}

}  // namespace hub
