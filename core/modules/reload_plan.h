// What a reload does, decided before anything is done: a pure function from the running
// modules, what is up, and the freshly scanned tree to a plan the module manager carries
// out (module_manager.h). No processes, no files, no events: every decision is here.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/modules/module_loader.h"

namespace hub {

// What runs now, as the module manager knows it.
struct ModulesNow {
  std::vector<std::string> started;  // startup scripts ran (these get a shutdown), start order
  std::set<std::string> up;          // came up and have not been stopped
  // Whose own service instance (NAME, not NAME.X) has failed for good since it came up.
  std::set<std::string> service_failed;
};

struct ReloadPlan {
  // Each module loaded now or in the new tree is in exactly one of the next six lists.
  std::vector<std::string> added;    // new in the tree: started; new tree's order
  std::vector<std::string> removed;  // gone from the tree: stopped; old tree's order
  // Restarted: its definition (files, config, service) changed, or it was not up, or its
  // service had failed, or a module it depends on is restarted. Old tree's order.
  std::vector<std::string> changed;
  // Of the changed, those restarted only because a dependency is: name -> why
  // ("Timer is restarted"), told in their stopping and stopped events.
  std::map<std::string, std::string> follows;
  std::vector<std::string> unchanged;  // up, healthy, same definition: not touched
  // Rejected now but up and healthy: keeps running as it was, with why it was rejected.
  std::vector<std::pair<std::string, std::string>> kept;  // name, reason
  // Rejected now and not running well anyway: stopped, nothing kept.
  std::vector<std::string> dropped;
  // Rejected in the new tree and not kept (dropped, or never loaded): the report's list.
  std::vector<std::string> rejected;

  // The steps, in order. First the event scripts of what goes away: (name, reason).
  std::vector<std::pair<std::string, std::string>> stop_scripts;
  // Then the modules to stop, dependents first (reverse start order); a changed one
  // has its event scripts stopped just before it, for `scripts_reason`.
  struct Stop {
    std::string name;
    std::string scripts_reason;  // empty: its scripts were stopped first of all
    std::string reason;          // a dependency's restart takes it down; else empty
  };
  std::vector<Stop> stop;
  // The tree's modules afterwards: the new tree's order, with the running definition of
  // each unchanged module, then the kept ones.
  std::vector<Module> loaded;
  // The modules to prepare, announce (NAME/loaded) and start, in dependency order.
  std::vector<std::string> start;

  bool restarts(const std::string& name) const;  // in `changed`
  bool keeps(const std::string& name) const;     // in `kept`
  // Nothing to stop or start (the report may still name rejected modules).
  bool empty() const { return stop.empty() && start.empty() && stop_scripts.empty(); }
};

// The plan that takes the modules `loaded` (dependency order), in state `now`, to the tree
// `fresh` (its loaded and rejected modules; shadowed ones and problems need no step).
ReloadPlan plan_reload(const std::vector<Module>& loaded, const ModulesNow& now,
                       const ModuleTree& fresh);

// Everything that defines how a module runs, as one string: two modules with the same
// fingerprint run the same way, so a reload leaves them alone.
std::string module_fingerprint(const Module& m);

}  // namespace hub
